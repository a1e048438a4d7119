"""Entity-level matching of predicted against gold mentions.

Three criteria, after Tsai et al. (2006) as used by Giorgi & Bader (2019):

- `exact`: type, start and end must match (in-corpus evaluation);
- `left`: type and start must match;
- `right`: type and end must match (out-of-corpus evaluation: gold "familial
  gastric cancer" vs predicted "gastric cancer" is a hit).

Mentions are compared as character offsets into the *reference* text, so the
gold and predicted docs may be tokenized differently (a predicted span that
starts or ends inside a gold token simply matches nothing). Where the two
texts differ only in whitespace, predicted offsets are mapped onto the
reference through the non-whitespace characters, as spaCy's `Example`
alignment does.

Matching: under each criterion a gold and a predicted mention match when their
keys are equal (`(label, start, end)`, `(label, start)` or `(label, end)`).
Equality of keys is an equivalence relation, so the bipartite "may match"
graph is a disjoint union of complete bipartite blocks, one per key; a maximum
matching therefore takes `min(#gold, #pred)` pairs per key and greedy pairing
in position order inside each block is already optimal and deterministic. No
general bipartite matching is needed. Identical mentions (same offsets and
label) are counted once on each side, as spaCy's own scorer does; distinct
predictions that share a relaxed boundary with one gold mention give one true
positive and false positives for the rest.
"""
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Mapping, NamedTuple, Optional, Sequence, Tuple

from spacy.scorer import PRFScore
from spacy.tokens import Doc, Span
from spacy.training import Example

CRITERIA: Tuple[str, ...] = ("exact", "left", "right")


class Mention(NamedTuple):
    """An entity as character offsets into the reference text."""

    start: int
    end: int
    label: str


class MatchResult(NamedTuple):
    """The outcome of matching one doc's mentions under one criterion."""

    pairs: List[Tuple[Mention, Mention]]  # (gold, predicted)
    missed: List[Mention]  # gold mentions left unmatched: false negatives
    spurious: List[Mention]  # predicted mentions left unmatched: false positives


def check_criterion(criterion: str) -> str:
    """Raise a ValueError for an unknown match criterion.

    criterion (str): "exact", "left" or "right".
    RETURNS (str): The criterion, unchanged.
    """
    if criterion not in CRITERIA:
        raise ValueError(f"Unknown match criterion {criterion!r}: use one of {', '.join(CRITERIA)}.")
    return criterion


def _key(mention: Mention, criterion: str) -> Tuple[Any, ...]:
    if criterion == "exact":
        return (mention.label, mention.start, mention.end)
    if criterion == "left":
        return (mention.label, mention.start)
    return (mention.label, mention.end)


def match_mentions(gold: Iterable[Mention], pred: Iterable[Mention], criterion: str = "exact") -> MatchResult:
    """Match predicted against gold mentions of one doc.

    gold (Iterable[Mention]): The gold mentions.
    pred (Iterable[Mention]): The predicted mentions, in the same coordinates.
    criterion (str): "exact", "left" or "right".
    RETURNS (MatchResult): Matched pairs, missed gold and spurious predictions,
        each in position order.
    """
    check_criterion(criterion)
    gold_blocks: Dict[Tuple[Any, ...], List[Mention]] = {}
    pred_blocks: Dict[Tuple[Any, ...], List[Mention]] = {}
    for blocks, mentions in ((gold_blocks, gold), (pred_blocks, pred)):
        for mention in sorted(set(mentions)):
            blocks.setdefault(_key(mention, criterion), []).append(mention)
    pairs: List[Tuple[Mention, Mention]] = []
    missed: List[Mention] = []
    spurious: List[Mention] = []
    for key in set(gold_blocks) | set(pred_blocks):
        g = gold_blocks.get(key, [])
        p = pred_blocks.get(key, [])
        n = min(len(g), len(p))
        pairs.extend(zip(g[:n], p[:n]))
        missed.extend(g[n:])
        spurious.extend(p[n:])
    return MatchResult(sorted(pairs), sorted(missed), sorted(spurious))


def harmonize_label(label: str, label_map: Optional[Mapping[str, str]]) -> Optional[str]:
    """Map a corpus or model label onto a shared type.

    label (str): The label as found in the doc.
    label_map (Optional[Mapping[str, str]]): Label → type; None keeps labels.
    RETURNS (Optional[str]): The type, or None where the map has no entry
        (such mentions are left out on both sides).
    """
    if label_map is None:
        return label
    try:  # the corpus module owns the mapping rules (case, prefixes, ...)
        from ..corpora.labels import harmonize
    except ImportError:
        return label_map.get(label)
    return harmonize(label, label_map)


def get_doc_spans(doc: Doc, spans_key: Optional[str] = None, *, gold: bool = False) -> Sequence[Span]:
    """The spans to score: `doc.ents`, or `doc.spans[spans_key]`.

    A predicted doc without the group has no predictions. A gold doc without
    the group falls back to `doc.ents`: corpus readers put gold entities
    there, while a multi-head component writes each head's predictions to
    its own span group.
    """
    if spans_key is None:
        return doc.ents
    if spans_key in doc.spans:
        return doc.spans[spans_key]
    return doc.ents if gold else []


def _offset_mapper(source: str, target: str):
    """Return a function that maps (start, end) character offsets in `source`
    onto `target`, where the two texts agree except for whitespace."""
    if source == target:
        return lambda start, end: (start, end)
    src_count = [0] * (len(source) + 1)  # non-whitespace chars before position i
    for i, char in enumerate(source):
        src_count[i + 1] = src_count[i] + (not char.isspace())
    tgt_pos = [i for i, char in enumerate(target) if not char.isspace()]
    if "".join(c for c in source if not c.isspace()) != "".join(target[i] for i in tgt_pos):
        raise ValueError(
            "The predicted and reference texts differ beyond whitespace, so their "
            f"entities cannot be aligned: {source[:60]!r} vs {target[:60]!r}"
        )

    def mapper(start: int, end: int) -> Tuple[int, int]:
        first, last = src_count[start], src_count[end]
        if last <= first:  # a whitespace-only span: keep it unmatched but in range
            return tgt_pos[first] if first < len(tgt_pos) else len(target), len(target)
        return tgt_pos[first], tgt_pos[last - 1] + 1

    return mapper


def example_spans(
    example: Example,
    *,
    spans_key: Optional[str] = None,
    label_map: Optional[Mapping[str, str]] = None,
) -> Tuple[List[Tuple[Mention, Span]], List[Tuple[Mention, Span]]]:
    """Like `example_mentions`, keeping each mention's source span (on the
    reference or predicted doc), e.g. to look up a prediction's score."""
    to_reference = _offset_mapper(example.predicted.text, example.reference.text)
    gold = []
    pred = []
    for span in get_doc_spans(example.reference, spans_key, gold=True):
        label = harmonize_label(span.label_, label_map)
        if label is not None:
            gold.append((Mention(span.start_char, span.end_char, label), span))
    for span in get_doc_spans(example.predicted, spans_key):
        label = harmonize_label(span.label_, label_map)
        if label is not None:
            pred.append((Mention(*to_reference(span.start_char, span.end_char), label), span))
    return gold, pred


def example_mentions(
    example: Example,
    *,
    spans_key: Optional[str] = None,
    label_map: Optional[Mapping[str, str]] = None,
) -> Tuple[List[Mention], List[Mention]]:
    """Gold and predicted mentions of an example, in reference character offsets.

    example (Example): `example.reference` holds gold, `example.predicted` the
        predictions; their tokenizations may differ.
    spans_key (Optional[str]): Score `doc.spans[spans_key]` instead of
        `doc.ents` (on the gold side only where the gold doc has that group).
    label_map (Optional[Mapping[str, str]]): Harmonizes both sides' labels;
        mentions whose label is unmapped are left out.
    RETURNS (Tuple[List[Mention], List[Mention]]): (gold, predicted).
    """
    gold, pred = example_spans(example, spans_key=spans_key, label_map=label_map)
    return [m for m, _ in gold], [m for m, _ in pred]


@dataclass
class EntityScores:
    """True/false positive and false negative counts per type for one
    criterion. Counts, not ratios, are kept so that scores of batches, folds
    or corpora can be added up (`a + b`) before P/R/F1 are computed."""

    criterion: str = "exact"
    per_type: Dict[str, PRFScore] = field(default_factory=dict)

    def add(self, result: MatchResult) -> None:
        """Add the counts of one doc's matching."""
        for gold, _ in result.pairs:
            self._get(gold.label).tp += 1
        for mention in result.missed:
            self._get(mention.label).fn += 1
        for mention in result.spurious:
            self._get(mention.label).fp += 1

    def _get(self, label: str) -> PRFScore:
        if label not in self.per_type:
            self.per_type[label] = PRFScore()
        return self.per_type[label]

    @property
    def micro(self) -> PRFScore:
        """Micro-averaged counts over all types."""
        total = PRFScore()
        for score in self.per_type.values():
            total += score
        return total

    @property
    def labels(self) -> List[str]:
        """The types seen on either side, sorted."""
        return sorted(self.per_type)

    def restrict(self, labels: Iterable[str]) -> "EntityScores":
        """The scores of some types only (types never seen count zero)."""
        keep = set(labels)
        return EntityScores(self.criterion, {k: _copy(v) for k, v in self.per_type.items() if k in keep})

    def __add__(self, other: "EntityScores") -> "EntityScores":
        if other.criterion != self.criterion:
            raise ValueError(f"Cannot add {self.criterion} and {other.criterion} scores.")
        summed = EntityScores(self.criterion, {k: _copy(v) for k, v in self.per_type.items()})
        for label, score in other.per_type.items():
            counts = summed._get(label)
            counts += score
        return summed

    def to_dict(self) -> Dict[str, Any]:
        """P/R/F1 and counts, micro and per type, JSON-serializable."""
        return {
            "criterion": self.criterion,
            **_prf_dict(self.micro),
            "per_type": {label: _prf_dict(self.per_type[label]) for label in self.labels},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "EntityScores":
        """Rebuild from `to_dict` output (only the counts are read)."""
        per_type = {}
        for label, counts in data["per_type"].items():
            score = PRFScore(tp=counts["tp"], fp=counts["fp"], fn=counts["fn"])
            per_type[label] = score
        return cls(data.get("criterion", "exact"), per_type)


def _copy(score: PRFScore) -> PRFScore:
    return PRFScore(tp=score.tp, fp=score.fp, fn=score.fn)


def _prf_dict(score: PRFScore) -> Dict[str, Any]:
    return {
        "p": score.precision,
        "r": score.recall,
        "f": score.fscore,
        "tp": score.tp,
        "fp": score.fp,
        "fn": score.fn,
        "support": score.tp + score.fn,
    }


def score_examples(
    examples: Iterable[Example],
    criteria: Sequence[str] = CRITERIA,
    *,
    spans_key: Optional[str] = None,
    label_map: Optional[Mapping[str, str]] = None,
) -> Dict[str, EntityScores]:
    """Entity-level counts of predicted against gold docs.

    examples (Iterable[Example]): Gold (reference) and predicted docs.
    criteria (Sequence[str]): Any of "exact", "left", "right".
    spans_key (Optional[str]): Score `doc.spans[spans_key]` instead of `doc.ents`.
    label_map (Optional[Mapping[str, str]]): Harmonizes both sides' labels.
    RETURNS (Dict[str, EntityScores]): Scores keyed by criterion.
    """
    for criterion in criteria:
        check_criterion(criterion)
    scores = {criterion: EntityScores(criterion) for criterion in criteria}
    for example in examples:
        gold, pred = example_mentions(example, spans_key=spans_key, label_map=label_map)
        for criterion in criteria:
            scores[criterion].add(match_mentions(gold, pred, criterion))
    return scores
