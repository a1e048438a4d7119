import os
from pathlib import Path

import pytest
import spacy

FIXTURES = Path(__file__).parents[1] / "fixtures" / "corpora"


def corpora_root() -> Path:
    """The shared corpora folder: $SPACY_BIONER_CORPORA, else ../shared/corpora."""
    default = Path(__file__).parents[2] / ".." / "shared" / "corpora"
    return Path(os.environ.get("SPACY_BIONER_CORPORA", default))


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture(scope="session")
def nlp():
    return spacy.blank("en")


@pytest.fixture(scope="session")
def shared_corpora() -> Path:
    root = corpora_root()
    if not (root / "manifest.json").exists():
        pytest.skip(f"shared corpora not found at {root} (set SPACY_BIONER_CORPORA)")
    return root
