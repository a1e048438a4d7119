"""Fixtures of the evaluation tests: tiny hand-written docs and pipelines."""
import os
from pathlib import Path
from typing import Callable, List, Optional, Sequence

import pytest
import spacy
from spacy.language import Language
from spacy.tokens import Doc


@pytest.fixture
def nlp() -> Language:
    return spacy.blank("en")


@pytest.fixture
def make_doc(nlp: Language) -> Callable[..., Doc]:
    """make_doc(words, tags, spaces=None): a gold doc from tokens and IOB2 tags."""

    def make(words: Sequence[str], tags: Sequence[str], spaces: Optional[Sequence[bool]] = None) -> Doc:
        return Doc(nlp.vocab, words=list(words), spaces=spaces, ents=list(tags))

    return make


@pytest.fixture
def make_ruler() -> Callable[[List[dict]], Language]:
    """make_ruler(patterns): a blank pipeline whose entity_ruler predicts the patterns."""

    def make(patterns: List[dict]) -> Language:
        pipeline = spacy.blank("en")
        pipeline.add_pipe("entity_ruler").add_patterns(patterns)
        return pipeline

    return make


@pytest.fixture
def corpora_dir() -> Path:
    """The shared corpora folder; tests that need it are skipped without it."""
    default = Path(__file__).parents[2] / ".." / "shared" / "corpora"  # repo/../shared
    path = Path(os.environ.get("SPACY_BIONER_CORPORA", default))
    if not path.is_dir():
        pytest.skip(f"corpora folder not found: {path} (set SPACY_BIONER_CORPORA)")
    return path
