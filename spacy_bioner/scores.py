"""Per-entity confidence scores, stored on the Doc.

A score lives in `doc.user_data` under the key
`("spacy_bioner_score", start_char, end_char, label)`. Keying by character
offsets and label (not by token index or Span object) keeps the scores valid
for `doc.ents` and every `doc.spans` group alike. Top-level tuple keys are
the form spaCy itself uses for span extensions: they survive `Doc.to_bytes`
(and so `nlp.pipe(n_process=...)`), pickling and `DocBin(store_user_data=True)`,
whereas a nested dict with tuple keys does not survive msgpack.
"""
from typing import Dict, Optional, Tuple

from spacy.tokens import Doc, Span

SCORE_TAG = "spacy_bioner_score"
ScoreKey = Tuple[int, int, str]


def _key(span: Span) -> Tuple[str, int, int, str]:
    return (SCORE_TAG, span.start_char, span.end_char, span.label_)


def get_scores(doc: Doc) -> Dict[ScoreKey, float]:
    """All scores stored on a Doc.

    doc (Doc): The document.
    RETURNS (Dict[Tuple[int, int, str], float]): (start_char, end_char, label) → score.
    """
    return {
        tuple(key[1:]): value
        for key, value in doc.user_data.items()
        if isinstance(key, tuple) and key and key[0] == SCORE_TAG
    }


def set_score(span: Span, value: float) -> None:
    """Store the confidence of an entity.

    span (Span): The entity (its doc, offsets and label form the key).
    value (float): The confidence, usually in [0, 1].
    """
    span.doc.user_data[_key(span)] = float(value)


def get_score(span: Span) -> Optional[float]:
    """The stored confidence of an entity.

    span (Span): The entity.
    RETURNS (Optional[float]): The score, or None when none was stored.
    """
    return span.doc.user_data.get(_key(span))
