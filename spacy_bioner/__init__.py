"""spacy-bioner: biomedical named-entity recognition for spaCy.

Importing the package registers its factories, architectures, readers and
scorers. spaCy finds them through entry points as well (see setup.cfg), so
`spacy.load` and `spacy train` work without importing this package first.
"""
from .about import __version__  # noqa: F401
from .model import architectures  # noqa: F401  (registers spacy-bioner.BiLSTMCRF.v1)
from .pipeline import bilstm_crf_ner  # noqa: F401  (registers the bilstm_crf_ner factory)
