"""Per-entity confidence scores, stored on the Doc.

Scores live in `doc.user_data["spacy_bioner_scores"]`, a dict keyed by
`(start_char, end_char, label)`. Keying by character offsets and label (not by
token index or Span object) keeps the scores valid for `doc.ents` and every
`doc.spans` group alike, and user_data survives pickling and
`DocBin(store_user_data=True)`.
"""
from typing import Dict, Optional, Tuple

from spacy.tokens import Doc, Span

SCORES_KEY = "spacy_bioner_scores"
ScoreKey = Tuple[int, int, str]


def _key(span: Span) -> ScoreKey:
    return (span.start_char, span.end_char, span.label_)


def get_scores(doc: Doc) -> Dict[ScoreKey, float]:
    """The score dict of a Doc (created empty when missing).

    doc (Doc): The document.
    RETURNS (Dict[Tuple[int, int, str], float]): (start_char, end_char, label) → score.
    """
    return doc.user_data.setdefault(SCORES_KEY, {})


def set_score(span: Span, value: float) -> None:
    """Store the confidence of an entity.

    span (Span): The entity (its doc, offsets and label form the key).
    value (float): The confidence, usually in [0, 1].
    """
    get_scores(span.doc)[_key(span)] = float(value)


def get_score(span: Span) -> Optional[float]:
    """The stored confidence of an entity.

    span (Span): The entity.
    RETURNS (Optional[float]): The score, or None when none was stored.
    """
    scores = span.doc.user_data.get(SCORES_KEY)
    if not scores:
        return None
    return scores.get(_key(span))
