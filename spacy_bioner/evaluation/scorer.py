"""A registered spaCy scorer with exact, left- and right-boundary entity scores.

Use it for any component that sets `doc.ents` (or a span group):

    [components.ner.scorer]
    @scorers = "spacy-bioner.boundary_scorer.v1"
    spans_key = null

`spacy train` and `nlp.evaluate` then report the usual exact `ents_p/r/f`
and `ents_per_type`, plus `ents_left_p/r/f` and `ents_right_p/r/f`.
"""
from typing import Any, Callable, Dict, Iterable, Optional

from spacy.training import Example
from spacy.util import registry

from .matching import score_examples


@registry.scorers("spacy-bioner.boundary_scorer.v1")
def make_boundary_scorer(spans_key: Optional[str] = None) -> Callable[..., Dict[str, Any]]:
    """Build a scorer of entities under the exact, left and right criteria.

    spans_key (Optional[str]): Score the predicted `doc.spans[spans_key]`
        (e.g. one head of a multi-head component) instead of `doc.ents`,
        against the gold doc's group of that name, or its `doc.ents` where it
        has none. The score keys keep the `ents_` prefix so that the
        `default_score_weights` of NER components apply.
    RETURNS (Callable[..., Dict[str, Any]]): `score(examples, **kwargs)`.
    """

    def score(examples: Iterable[Example], **kwargs: Any) -> Dict[str, Any]:
        """Score examples (spaCy passes extra keyword arguments, ignored here).

        examples (Iterable[Example]): Gold and predicted docs.
        RETURNS (Dict[str, Any]): `ents_p/r/f`, `ents_per_type` (exact),
            `ents_left_p/r/f`, `ents_right_p/r/f`; values are None where
            there was nothing to score, as in spaCy's NER scorer.
        """
        scores = score_examples(examples, spans_key=spans_key)
        results: Dict[str, Any] = {}
        for criterion, prefix in (("exact", "ents"), ("left", "ents_left"), ("right", "ents_right")):
            micro = scores[criterion].micro
            empty = len(micro) == 0
            results[f"{prefix}_p"] = None if empty else micro.precision
            results[f"{prefix}_r"] = None if empty else micro.recall
            results[f"{prefix}_f"] = None if empty else micro.fscore
        exact = scores["exact"]
        results["ents_per_type"] = (
            {label: exact.per_type[label].to_dict() for label in exact.labels} if exact.per_type else None
        )
        return results

    return score
