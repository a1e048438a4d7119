"""Evaluate any spaCy pipeline that sets `doc.ents` on gold data.

`evaluate_pipeline` loads the data, runs the pipeline on unannotated copies of
the gold docs, and counts entity matches under all three criteria at once
(one pass, cheap), with one of them as the headline.
"""
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Set, Union

import spacy
import srsly
from spacy.language import Language
from spacy.tokens import Doc, DocBin
from spacy.training import Example
from spacy.util import registry

from .matching import CRITERIA, EntityScores, check_criterion, get_doc_spans, harmonize_label, score_examples

PathLike = Union[str, Path]
DataLike = Union[PathLike, Iterable[Doc], Iterable[Example]]
TSV_READER = "spacy-bioner.TsvCorpus.v1"
# Kept in sync with spacy_bioner.corpora.util.DOC_ID_KEY (not imported, so
# that evaluation works without the corpus modules).
DOC_ID_KEY = "id"


@dataclass
class EvalResult:
    """Entity scores of one pipeline on one data set.

    match (str): The headline criterion ("exact", "left" or "right").
    scores (Dict[str, EntityScores]): Counts under every criterion.
    model_labels (List[str]): The pipeline's entity types (after harmonization).
    data_labels (List[str]): The gold entity types (after harmonization).
    n_docs (int): Number of evaluated docs.
    meta (Dict[str, Any]): Free-form run information (model, data, seed,
        fold, ...); `seed`/`fold` let `stats.compare` pair runs.
    examples (List[Example]): The scored examples (not serialized).
    label_map (Optional[Dict[str, str]]): The label map used (not serialized).
    spans_key (Optional[str]): The span group scored instead of `doc.ents`.
    scored_labels (Optional[List[str]]): The types the scores are restricted
        to (None: every type on either side).
    """

    match: str
    scores: Dict[str, EntityScores]
    model_labels: List[str] = field(default_factory=list)
    data_labels: List[str] = field(default_factory=list)
    n_docs: int = 0
    meta: Dict[str, Any] = field(default_factory=dict)
    examples: List[Example] = field(default_factory=list, repr=False)
    label_map: Optional[Dict[str, str]] = field(default=None, repr=False)
    spans_key: Optional[str] = None
    scored_labels: Optional[List[str]] = None

    @property
    def primary(self) -> EntityScores:
        """The scores under the headline criterion."""
        return self.scores[self.match]

    @property
    def p(self) -> float:
        return self.primary.micro.precision

    @property
    def r(self) -> float:
        return self.primary.micro.recall

    @property
    def f(self) -> float:
        return self.primary.micro.fscore

    def to_dict(self) -> Dict[str, Any]:
        """Metrics as JSON-serializable dict. The top level uses spaCy's keys
        (`ents_p/r/f`, `ents_per_type`) for the headline criterion, so the
        file reads like `spacy evaluate` output; `criteria` holds all counts."""
        primary = self.primary.to_dict()
        return {
            "match": self.match,
            "ents_p": primary["p"],
            "ents_r": primary["r"],
            "ents_f": primary["f"],
            "ents_per_type": primary["per_type"],
            "tp": primary["tp"],
            "fp": primary["fp"],
            "fn": primary["fn"],
            "n_docs": self.n_docs,
            "labels": {"model": self.model_labels, "data": self.data_labels, "scored": self.scored_labels},
            "spans_key": self.spans_key,
            "criteria": {name: scores.to_dict() for name, scores in self.scores.items()},
            "meta": self.meta,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "EvalResult":
        """Rebuild from `to_dict` output (without examples)."""
        return cls(
            match=data["match"],
            scores={name: EntityScores.from_dict(s) for name, s in data["criteria"].items()},
            model_labels=list(data.get("labels", {}).get("model", [])),
            data_labels=list(data.get("labels", {}).get("data", [])),
            n_docs=data.get("n_docs", 0),
            meta=dict(data.get("meta", {})),
            spans_key=data.get("spans_key"),
            scored_labels=data.get("labels", {}).get("scored"),
        )

    def to_disk(self, path: PathLike) -> None:
        """Write the metrics JSON (parent folders are created)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        srsly.write_json(path, self.to_dict())

    @classmethod
    def from_disk(cls, path: PathLike) -> "EvalResult":
        """Read a metrics JSON written by `to_disk`."""
        return cls.from_dict(srsly.read_json(Path(path)))


def get_doc_id(doc: Doc, default: Any = None) -> Any:
    """The document id the corpus readers store in `doc.user_data`."""
    return doc.user_data.get(DOC_ID_KEY, default)


def _blank_copy(nlp: Language, doc: Doc) -> Doc:
    """The same tokens, segments (sentence starts) and document id, without
    any other annotation: what `spacy train` scores on dev. Dropping the
    sentence starts would let the pipeline's own splitter re-segment the
    data and cut mentions that the gold segments keep whole."""
    words = [token.text for token in doc]
    spaces = [bool(token.whitespace_) for token in doc]
    sent_starts = [bool(t.is_sent_start) for t in doc] if doc.has_annotation("SENT_START") else None
    copy = Doc(nlp.vocab, words=words, spaces=spaces, sent_starts=sent_starts)
    copy.user_data.update({k: v for k, v in doc.user_data.items() if k == DOC_ID_KEY})
    return copy


def _read_docs(nlp: Language, path: Path, label_map: Optional[Mapping[str, str]]) -> List[Doc]:
    if path.is_dir():
        for name in ("test.tsv", "test.spacy"):
            if (path / name).exists():
                return _read_docs(nlp, path / name, label_map)
        raise FileNotFoundError(f"No test.tsv or test.spacy in {path}")
    if not path.exists():
        raise FileNotFoundError(f"Evaluation data not found: {path}")
    if path.suffix == ".spacy":
        return list(DocBin().from_disk(path).get_docs(nlp.vocab))
    if path.suffix == ".tsv":
        try:
            make_reader = registry.readers.get(TSV_READER)
        except Exception as err:  # catalogue raises RegistryError
            raise ValueError(f"Reading {path} needs the {TSV_READER} reader, which is not registered.") from err
        # Labels stay as in the corpus; harmonization happens in the matching,
        # identically for gold and predictions.
        return [eg.reference for eg in make_reader(path=str(path))(nlp)]
    raise ValueError(f"Cannot read {path}: expected a .spacy file, a .tsv file or a corpus folder.")


def load_examples(
    nlp: Language,
    data: DataLike,
    *,
    label_map: Optional[Mapping[str, str]] = None,
    retokenize: bool = False,
) -> List[Example]:
    """Turn evaluation data into examples whose predicted docs are unannotated.

    nlp (Language): The pipeline (its vocab and, with `retokenize`, tokenizer).
    data (DataLike): A `.spacy` file, a `.tsv` file, a corpus folder (its
        `test.tsv` or `test.spacy`), or gold Docs or Examples.
    label_map (Optional[Mapping[str, str]]): Passed on to readers that need it.
    retokenize (bool): Tokenize the gold text with the pipeline's tokenizer
        instead of reusing the gold tokens (the CoNLL convention, default).
    RETURNS (List[Example]): One example per gold doc.
    """
    if isinstance(data, (str, Path)):
        gold_docs: List[Any] = _read_docs(nlp, Path(data), label_map)
    else:
        gold_docs = list(data)
    examples = []
    for item in gold_docs:
        if isinstance(item, Example):
            gold, tokens = item.reference, item.predicted
        elif isinstance(item, Doc):
            gold, tokens = item, item
        else:
            raise TypeError(f"Expected Doc or Example objects, got {type(item).__name__}")
        predicted = nlp.make_doc(gold.text) if retokenize else _blank_copy(nlp, tokens)
        predicted.user_data.update({k: v for k, v in gold.user_data.items() if k == DOC_ID_KEY})
        examples.append(Example(predicted, gold))
    return examples


def _strip_tag(label: str) -> str:
    # Some components list BIO/BILUO tags rather than entity types.
    if len(label) > 2 and label[0] in "BIELSU" and label[1] == "-":
        return label[2:]
    return label


def model_labels(nlp: Language, component: Optional[str] = None, spans_key: Optional[str] = None) -> Set[str]:
    """The entity types a pipeline can predict, as far as it says.

    nlp (Language): The pipeline.
    component (Optional[str]): The component to ask; by default every
        component that assigns `doc.ents` or `doc.spans` and has `labels`.
    spans_key (Optional[str]): The span group scored; for a multi-head
        component (`label_sets`, groups named `<component>_<head>`) the
        labels of that head are returned.
    RETURNS (Set[str]): The types; empty when no component lists them.
    """
    if component is not None:
        names = [component]
    else:
        names = [
            name
            for name in nlp.pipe_names
            if {"doc.ents", "doc.spans"} & set(nlp.get_pipe_meta(name).assigns)
        ]
    labels: Set[str] = set()
    for name in names:
        pipe = nlp.get_pipe(name)
        head_labels = getattr(pipe, "label_sets", None) or {}
        found = getattr(pipe, "labels", ()) or ()
        for head, head_set in head_labels.items():
            if spans_key == f"{name}_{head}":
                found = head_set
        labels.update(_strip_tag(label) for label in found)
    return labels


def _harmonized(labels: Iterable[str], label_map: Optional[Mapping[str, str]]) -> List[str]:
    mapped = {harmonize_label(label, label_map) for label in labels}
    return sorted(label for label in mapped if label is not None)


def evaluate_pipeline(
    nlp: Union[Language, PathLike],
    data: DataLike,
    *,
    match: str = "exact",
    label_map: Optional[Mapping[str, str]] = None,
    component: Optional[str] = None,
    spans_key: Optional[str] = None,
    labels: Optional[Sequence[str]] = None,
    retokenize: bool = False,
    batch_size: int = 64,
    meta: Optional[Dict[str, Any]] = None,
) -> EvalResult:
    """Run a pipeline on gold data and score its entities.

    nlp (Union[Language, PathLike]): A pipeline, or a path/name for `spacy.load`.
    data (DataLike): See `load_examples`.
    match (str): Headline criterion: "exact", "left" or "right" (all three
        are computed and kept in the result).
    label_map (Optional[Mapping[str, str]]): Harmonizes gold and predicted
        labels before matching (types that it does not map are left out).
    component (Optional[str]): The NER component whose labels are checked
        against the data; default: every component assigning ents/spans.
    spans_key (Optional[str]): Score `doc.spans[spans_key]` instead of `doc.ents`.
    labels (Optional[Sequence[str]]): Only score these (harmonized) types;
        default: those the model predicts and the data annotates
        (`scored_labels`); `["*"]` for all.
    retokenize (bool): See `load_examples`.
    batch_size (int): Batch size for `nlp.pipe`.
    meta (Optional[Dict[str, Any]]): Stored in the result as is.
    RETURNS (EvalResult): The scores and the predicted examples.
    """
    check_criterion(match)
    if not isinstance(nlp, Language):
        nlp = spacy.load(nlp)
    examples = load_examples(nlp, data, label_map=label_map, retokenize=retokenize)
    if not examples:
        raise ValueError(f"The evaluation data {_describe(data)} contains no documents.")
    gold_labels = _harmonized(
        (span.label_ for eg in examples for span in get_doc_spans(eg.reference, spans_key, gold=True)), label_map
    )
    pipe_labels = _harmonized(model_labels(nlp, component, spans_key), label_map)
    if gold_labels and pipe_labels and not set(gold_labels) & set(pipe_labels):
        hint = "" if label_map is not None else " Pass a label map to harmonize them."
        raise ValueError(
            f"The model's labels {pipe_labels} share no entity type with the data's labels "
            f"{gold_labels}{' after harmonization' if label_map is not None else ''}.{hint}"
        )
    docs = nlp.pipe((eg.predicted for eg in examples), batch_size=batch_size)
    for eg, doc in zip(examples, docs):
        eg.predicted = doc
    scores = score_examples(examples, CRITERIA, spans_key=spans_key, label_map=label_map)
    scored = scored_labels(pipe_labels, gold_labels, labels)
    if scored is not None:
        scores = {name: s.restrict(scored) for name, s in scores.items()}
    return EvalResult(
        match=match,
        scores=scores,
        model_labels=pipe_labels,
        data_labels=gold_labels,
        n_docs=len(examples),
        meta=dict(meta or {}),
        examples=examples,
        label_map=dict(label_map) if label_map is not None else None,
        spans_key=spans_key,
        scored_labels=scored,
    )


def scored_labels(
    model_types: Sequence[str], data_types: Sequence[str], labels: Optional[Sequence[str]] = None
) -> Optional[List[str]]:
    """The entity types an evaluation scores.

    By default the types both the model predicts and the data annotates: a
    type the model cannot predict would count its gold mentions as misses,
    and predictions of a type the data does not annotate cannot be judged.
    The cross-corpus matrix scores each group's type, which is one of these.

    model_types (Sequence[str]): The model's (harmonized) types; empty when
        the pipeline does not list them.
    data_types (Sequence[str]): The gold data's (harmonized) types.
    labels (Optional[Sequence[str]]): Explicit choice; `["*"]` scores every
        type of both sides.
    RETURNS (Optional[List[str]]): The types, or None for no restriction.
    """
    if labels is not None:
        return None if list(labels) == ["*"] else sorted(set(labels))
    if not model_types:
        return None
    if not data_types:
        return sorted(model_types)
    return sorted(set(model_types) & set(data_types))


def _describe(data: DataLike) -> str:
    return str(data) if isinstance(data, (str, Path)) else f"({type(data).__name__})"


def read_metrics(path: PathLike) -> Dict[str, Any]:
    """Read a metrics JSON file (ours, `spacy evaluate`'s or a `meta.json`)."""
    try:
        return json.loads(Path(path).read_text(encoding="utf8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON: {err}") from err
