"""spacy-bioner: biomedical named-entity recognition for spaCy.

Importing the package registers its factories, architectures, readers and
scorers. spaCy finds them through entry points as well (see setup.cfg), so
`spacy.load` and `spacy train` work without importing this package first.
"""
from .about import __version__  # noqa: F401
