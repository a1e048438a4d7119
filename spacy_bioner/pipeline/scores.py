"""Per-entity confidences, kept where spaCy users look for them.

The component writes every head's entities to `doc.spans["<name>_<head>"]`
with their confidences in the group's `attrs["scores"]`, aligned with the
spans, as spaCy's `spancat` does. The spans that set `doc.ents` are also
written to `doc.spans["<name>"]`, flagged `attrs["doc_ents"] = True`, with
`attrs["heads"]` saying which heads found each span. Span groups and their
attrs are stored by `Doc.to_bytes` (and so `nlp.pipe(n_process=...)`) and by
a default `DocBin()`, and are replaced whenever the doc is annotated again.

`set_score` remains for spans that no component wrote (scores read from a
JSONL file, say): those go to `doc.user_data`, which a `DocBin` keeps only
with `store_user_data=True`. The component clears them when it re-annotates.
"""
from typing import Dict, Iterable, List, Optional, Tuple

from spacy.tokens import Doc, Span, SpanGroup

SCORES_ATTR = "scores"
HEADS_ATTR = "heads"
DOC_ENTS_ATTR = "doc_ents"
# Legacy `doc.user_data` keys: ("spacy_bioner_score", start_char, end_char, label).
SCORE_TAG = "spacy_bioner_score"
ScoreKey = Tuple[int, int, str]


def _span_key(span: Span) -> ScoreKey:
    return (span.start_char, span.end_char, span.label_)


def make_scored_group(doc: Doc, name: str, spans: List[Span], scores: List[float], **attrs: object) -> SpanGroup:
    """A span group holding `scores` aligned with `spans`.

    doc (Doc): The document.
    name (str): The `doc.spans` key.
    spans (List[Span]): The spans.
    scores (List[float]): One confidence per span.
    RETURNS (SpanGroup): The group, ready for `doc.spans[name] = group`.
    """
    if len(spans) != len(scores):
        raise ValueError(f"{len(spans)} spans but {len(scores)} scores for span group '{name}'.")
    return SpanGroup(doc, name=name, spans=spans, attrs={SCORES_ATTR: [float(s) for s in scores], **attrs})


def group_scores(group: SpanGroup) -> Optional[List[float]]:
    """The scores of a span group, aligned with its spans (None if it has none)."""
    scores = group.attrs.get(SCORES_ATTR)
    if scores is None or len(scores) != len(group):
        return None
    return list(scores)


def _scored_groups(doc: Doc) -> Iterable[SpanGroup]:
    """Groups with scores, the one that set `doc.ents` first."""
    groups = [g for g in doc.spans.values() if group_scores(g) is not None]
    return sorted(groups, key=lambda g: not g.attrs.get(DOC_ENTS_ATTR, False))


def get_score(span: Span, spans_key: Optional[str] = None) -> Optional[float]:
    """The confidence of an entity.

    Without `spans_key` the entity is looked up first among the spans that
    set `doc.ents`, then in every scored span group, then in `set_score`'s
    store. Two heads can give the same span different scores: pass the
    head's key (`"<component>_<head>"`) to get that head's.

    span (Span): The entity (matched by character offsets and label).
    spans_key (Optional[str]): Read only `doc.spans[spans_key]`.
    RETURNS (Optional[float]): The score, or None when none was stored.
    """
    doc = span.doc
    key = _span_key(span)
    if spans_key is not None:
        groups: Iterable[SpanGroup] = [doc.spans[spans_key]] if spans_key in doc.spans else []
    else:
        groups = _scored_groups(doc)
    for group in groups:
        scores = group_scores(group)
        if scores is None:
            continue
        for other, score in zip(group, scores):
            if _span_key(other) == key:
                return score
    if spans_key is None:
        return doc.user_data.get((SCORE_TAG, *key))
    return None


def get_scores(doc: Doc, spans_key: Optional[str] = None) -> Dict[ScoreKey, float]:
    """Scores by (start_char, end_char, label): of one span group, or of
    `doc.ents` plus `set_score`'s store when `spans_key` is None.

    doc (Doc): The document.
    spans_key (Optional[str]): A `doc.spans` key.
    RETURNS (Dict[Tuple[int, int, str], float]): The scores.
    """
    if spans_key is not None:
        group = doc.spans[spans_key]
        return {_span_key(s): v for s, v in zip(group, group_scores(group) or [])}
    found = {tuple(k[1:]): v for k, v in doc.user_data.items() if isinstance(k, tuple) and k and k[0] == SCORE_TAG}
    for ent in doc.ents:
        score = get_score(ent)
        if score is not None:
            found[_span_key(ent)] = score
    return found


def set_score(span: Span, value: float) -> None:
    """Store the confidence of a span that no component wrote (e.g. read
    from a file). It lives in `doc.user_data`; see the module docstring.

    span (Span): The entity (its doc, offsets and label form the key).
    value (float): The confidence, usually in [0, 1].
    """
    span.doc.user_data[(SCORE_TAG, *_span_key(span))] = float(value)


def clear_user_data_scores(doc: Doc) -> None:
    """Remove every `set_score` entry: they describe entities the component
    is about to replace."""
    for key in [k for k in doc.user_data if isinstance(k, tuple) and k and k[0] == SCORE_TAG]:
        del doc.user_data[key]


def get_heads(span: Span, spans_key: str) -> Optional[List[str]]:
    """The heads that found a span of a group with `attrs["heads"]` (the
    component's `doc.ents` group, `doc.spans["<component>"]`).

    span (Span): The entity.
    spans_key (str): The group's key, usually the component name.
    RETURNS (Optional[List[str]]): The heads, or None.
    """
    group = span.doc.spans.get(spans_key)
    if group is None or HEADS_ATTR not in group.attrs:
        return None
    for other, heads in zip(group, group.attrs[HEADS_ATTR]):
        if _span_key(other) == _span_key(span):
            return list(heads)
    return None


if not Span.has_extension("bioner_score"):
    # `span._.bioner_score` for users who prefer extensions; nothing is stored.
    Span.set_extension("bioner_score", getter=get_score)
