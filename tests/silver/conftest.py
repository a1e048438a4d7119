import os
from pathlib import Path

import pytest


@pytest.fixture
def corpora_dir() -> Path:
    """The shared corpora folder; tests that need it are skipped without it."""
    default = Path(__file__).parents[2] / ".." / "shared" / "corpora"
    path = Path(os.environ.get("SPACY_BIONER_CORPORA", default))
    if not path.is_dir():
        pytest.skip(f"corpora folder not found: {path} (set SPACY_BIONER_CORPORA)")
    return path
