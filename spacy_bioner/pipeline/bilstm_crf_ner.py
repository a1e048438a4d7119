"""spaCy glue: the `bilstm_crf_ner` pipeline component.

One shared encoder and one CRF head per label set. Every head writes its
entities to `doc.spans["<name>_<head>"]`; `ents_head` also sets `doc.ents`.
Each entity's confidence (the CRF's probability of exactly that span) is kept
with `spacy_bioner.scores.set_score`.
"""
from itertools import islice
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy
import srsly
from spacy.language import Language
from spacy.pipeline import TrainablePipe
from spacy.scorer import get_ner_prf
from spacy.tokens import Doc, Span
from spacy.training import Example, validate_examples, validate_get_examples
from spacy.util import registry
from spacy.vocab import Vocab
from thinc.api import Config, Model, Optimizer

from ..integrity import loading_weights, verify_checksums, write_checksums
from ..model.architectures import DocEntities, Targets, get_shapes, set_shapes
from ..scores import set_score

# Examples whose reference doc has this user_data key train that head; the
# multi-corpus reader sets it. `update(head=...)` overrides it.
HEAD_KEY = "spacy_bioner_head"

DEFAULT_MODEL_CONFIG = """
[model]
@architectures = "spacy-bioner.BiLSTMCRF.v1"
char_embed_size = 30
char_hidden_size = 25
word_size = 100
include_static_vectors = true
word_min_count = 2
hidden_size = 100
depth = 2
embed_dropout = 0.0
input_dropout = 0.3
output_dropout = 0.3
recurrent_dropout = 0.1
max_length = 256
window_context = 32
batch_tokens = 4096
"""
DEFAULT_MODEL = Config().from_str(DEFAULT_MODEL_CONFIG)["model"]


@Language.factory(
    "bilstm_crf_ner",
    assigns=["doc.ents", "doc.spans"],
    default_config={
        "model": DEFAULT_MODEL,
        "heads": ["default"],
        "ents_head": None,
        "scorer": {"@scorers": "spacy-bioner.boundary_scorer.v1", "spans_key": None},
    },
    default_score_weights={"ents_f": 1.0, "ents_p": 0.0, "ents_r": 0.0, "ents_per_type": None},
)
def make_bilstm_crf_ner(
    nlp: Language,
    name: str,
    model: Model,
    heads: List[str],
    ents_head: Optional[str],
    scorer: Optional[Callable],
) -> "BiLSTMCRFNER":
    """Create a BiLSTM-CRF named-entity recognizer.

    model (Model): A `spacy-bioner.BiLSTMCRF.v1` model.
    heads (List[str]): Names of the output heads, one per label set (corpus).
    ents_head (Optional[str]): The head that sets `doc.ents`; the first if None.
    scorer (Optional[Callable]): Scores `doc.ents`: exact, left and right boundaries.
    """
    return BiLSTMCRFNER(nlp.vocab, model, name, heads=heads, ents_head=ents_head, scorer=scorer)


class BiLSTMCRFNER(TrainablePipe):
    """A BiLSTM-CRF entity recognizer with one CRF head per label set."""

    def __init__(
        self,
        vocab: Vocab,
        model: Model,
        name: str = "bilstm_crf_ner",
        *,
        heads: Sequence[str] = ("default",),
        ents_head: Optional[str] = None,
        scorer: Optional[Callable] = None,
    ) -> None:
        if not heads:
            raise ValueError("bilstm_crf_ner needs at least one head.")
        if len(set(heads)) != len(heads):
            raise ValueError(f"Head names must be unique, got {list(heads)}.")
        ents_head = ents_head or heads[0]
        if ents_head not in heads:
            raise ValueError(f"ents_head '{ents_head}' is not one of the heads {list(heads)}.")
        self.vocab = vocab
        self.model = model
        self.name = name
        self.scorer = scorer
        self.cfg: Dict = {"heads": {head: [] for head in heads}, "ents_head": ents_head, "shapes": None}

    @property
    def heads(self) -> List[str]:
        return list(self.cfg["heads"])

    @property
    def labels(self) -> Tuple[str, ...]:
        """The labels of the head that sets `doc.ents`."""
        return tuple(self.cfg["heads"][self.cfg["ents_head"]])

    @property
    def label_sets(self) -> Dict[str, Tuple[str, ...]]:
        return {head: tuple(labels) for head, labels in self.cfg["heads"].items()}

    def spans_key(self, head: str) -> str:
        return f"{self.name}_{head}"

    def add_label(self, label: str, head: Optional[str] = None) -> int:
        """Add a label to a head (the `ents_head` by default) before training."""
        head = head or self.cfg["ents_head"]
        if self.model.layers:
            raise ValueError(f"Cannot add label '{label}': {self.name} is already initialized.")
        _check_label(label, f"add_label(head={head!r})")
        labels = self.cfg["heads"][head]
        if label in labels:
            return 0
        labels.append(label)
        labels.sort()
        return 1

    def predict(self, docs: Iterable[Doc]) -> Dict[str, List[DocEntities]]:
        """Entities of every head for a batch of docs.

        RETURNS (Dict[str, List[DocEntities]]): Per head, per doc, a list of
            (start token, end token, label, confidence).
        """
        docs = list(docs)
        if not any(len(doc) for doc in docs):
            return {head: [[] for _ in docs] for head in self.heads}
        self._require_initialized()
        return self.model.predict((docs, None))

    def set_annotations(self, docs: Iterable[Doc], predictions: Dict[str, List[DocEntities]]) -> None:
        """Write each head's entities to `doc.spans`, and `ents_head`'s to `doc.ents`."""
        for head, per_doc in predictions.items():
            key = self.spans_key(head)
            for doc, entities in zip(docs, per_doc):
                spans = []
                for start, end, label, confidence in entities:
                    start, end = _trim_space(doc, start, end)
                    if start < end:
                        span = Span(doc, start, end, label=label)
                        set_score(span, confidence)
                        spans.append(span)
                doc.spans[key] = spans
                if head == self.cfg["ents_head"]:
                    doc.ents = spans

    def update(
        self,
        examples: Iterable[Example],
        *,
        drop: float = 0.0,
        sgd: Optional[Optimizer] = None,
        losses: Optional[Dict[str, float]] = None,
        head: Optional[str] = None,
    ) -> Dict[str, float]:
        """Learn from a batch of examples. Examples are routed to heads by
        `head`, else by `example.reference.user_data["spacy_bioner_head"]`,
        else to `ents_head`. Dropout is an architecture setting: `drop` is
        not used.
        """
        if losses is None:
            losses = {}
        losses.setdefault(self.name, 0.0)
        validate_examples(examples, "BiLSTMCRFNER.update")
        self._require_initialized()
        by_head: Dict[str, List[Example]] = {}
        for eg in examples:
            if len(eg.predicted):
                by_head.setdefault(self._head_of(eg, head), []).append(eg)
        if not by_head:
            return losses
        for name, egs in by_head.items():
            tags = [self._gold_tags(eg, name, i) for i, eg in enumerate(egs)]
            loss, backprop = self.model.begin_update(([eg.predicted for eg in egs], Targets(name, tags)))
            backprop(1.0)
            losses[self.name] += loss
        if sgd is not None:
            self.finish_update(sgd)
        return losses

    def get_loss(self, examples: Iterable[Example], scores) -> Tuple[float, None]:
        raise NotImplementedError("bilstm_crf_ner computes its CRF loss inside the model; use update().")

    def initialize(
        self,
        get_examples: Callable[[], Iterable[Example]],
        *,
        nlp: Optional[Language] = None,
        labels: Optional[Union[Sequence[str], Dict[str, Sequence[str]]]] = None,
    ) -> None:
        """Take label sets from the examples (or from `labels`: a list for the
        `ents_head`, or a dict of lists by head), build the lexicons from the
        examples' words and create the torch module.
        """
        validate_get_examples(get_examples, "BiLSTMCRFNER.initialize")
        examples = list(get_examples())
        if not examples:
            raise ValueError(f"{self.name}.initialize needs at least one example.")
        if labels is not None:
            if not isinstance(labels, dict):
                labels = {self.cfg["ents_head"]: labels}
            for head, head_labels in labels.items():
                if head not in self.cfg["heads"]:
                    raise ValueError(f"labels for unknown head '{head}'; heads are {self.heads}.")
                for label in head_labels:
                    _check_label(label, f"labels[{head!r}]")
                self.cfg["heads"][head] = sorted(set(head_labels))
        else:
            found: Dict[str, set] = {head: set() for head in self.heads}
            for i, eg in enumerate(examples):
                head = self._head_of(eg, None)
                for ent in eg.reference.ents:
                    _check_label(ent.label_, _describe(eg, i))
                    found[head].add(ent.label_)
            for head, head_labels in found.items():
                self.cfg["heads"][head] = sorted(head_labels | set(self.cfg["heads"][head]))
        empty = [head for head, head_labels in self.cfg["heads"].items() if not head_labels]
        if empty:
            raise ValueError(f"No labels for head(s) {empty}: give labels= or examples with entities.")
        # Rebuilding on a re-initialize starts from fresh weights, as spaCy does.
        self.model._layers = []
        self.model.attrs["heads"] = {head: list(labels) for head, labels in self.cfg["heads"].items()}
        self.model.attrs["vectors_size"] = None
        self.model.initialize(X=([eg.predicted for eg in examples], None))
        self.cfg["shapes"] = get_shapes(self.model)

    def score(self, examples: Iterable[Example], **kwargs) -> Dict[str, object]:
        if self.scorer is None:
            return get_ner_prf(examples)
        return self.scorer(examples, **kwargs)

    def to_bytes(self, *, exclude=tuple()) -> bytes:
        self._require_initialized()
        return super().to_bytes(exclude=exclude)

    def to_disk(self, path, *, exclude=tuple()) -> None:
        self._require_initialized()
        super().to_disk(path, exclude=exclude)
        write_checksums(path)

    def from_bytes(self, bytes_data: bytes, *, exclude=tuple()) -> "BiLSTMCRFNER":
        msg = srsly.msgpack_loads(bytes_data)
        self.cfg.update(srsly.json_loads(msg["cfg"]))
        self._rebuild()
        return super().from_bytes(bytes_data, exclude=exclude)

    def from_disk(self, path, *, exclude=tuple()) -> "BiLSTMCRFNER":
        verify_checksums(path)
        with loading_weights(path):
            self.cfg.update(srsly.read_json(Path(path) / "cfg"))
            self._rebuild()
            return super().from_disk(path, exclude=exclude)

    def _rebuild(self) -> None:
        """Build the torch module from the shapes in cfg, so that the weights
        can be loaded into it."""
        shapes = self.cfg.get("shapes")
        if not shapes:
            raise ValueError(f"Cannot load {self.name}: its cfg has no shapes (was it initialized?).")
        vectors_size = shapes["vectors_size"]
        if vectors_size and self.vocab.vectors.shape[1] != vectors_size:
            raise ValueError(
                f"{self.name} was trained with {vectors_size}-d static vectors, but the vocab "
                f"has vectors of shape {self.vocab.vectors.shape}."
            )
        self.model._layers = []
        set_shapes(self.model, **shapes)
        self.model.initialize()

    def _require_initialized(self) -> None:
        if not self.model.layers:
            raise ValueError(
                f"The '{self.name}' component is not initialized: call nlp.initialize() "
                f"(or train it with `spacy train`) before using it."
            )

    def _head_of(self, eg: Example, head: Optional[str]) -> str:
        name = head or eg.reference.user_data.get(HEAD_KEY) or self.cfg["ents_head"]
        if name not in self.cfg["heads"]:
            raise ValueError(f"Example routed to unknown head '{name}'; heads are {self.heads}.")
        return name

    def _gold_tags(self, eg: Example, head: str, index: int) -> numpy.ndarray:
        """BIO tag ids of `head` for the predicted tokens of an example.
        Tokens whose gold is unknown or misaligned count as "O"."""
        labels = self.cfg["heads"][head]
        ids = {label: 1 + 2 * i for i, label in enumerate(labels)}
        tags = numpy.zeros((len(eg.predicted),), dtype="int64")
        for i, tag in enumerate(eg.get_aligned_ner()):
            if tag is None or tag in ("O", "-", ""):
                continue
            prefix, _, label = tag.partition("-")
            if prefix not in ("B", "I", "L", "U") or not label:
                raise ValueError(f"Invalid entity tag '{tag}' at token {i} in {_describe(eg, index)}.")
            if label not in ids:
                raise ValueError(
                    f"Label '{label}' in {_describe(eg, index)} is not a label of head '{head}' "
                    f"({list(labels)})."
                )
            tags[i] = ids[label] + (prefix in ("I", "L"))
        return tags


def _check_label(label: str, where: str) -> None:
    if not label or not label.strip() or label != label.strip():
        raise ValueError(f"Invalid entity label {label!r} in {where}.")
    if label[:2] in ("B-", "I-", "L-", "U-", "E-", "S-"):
        raise ValueError(
            f"Entity label {label!r} in {where} looks like a BIO/BILUO tag; labels are "
            f"entity types such as 'Disease'. Convert tags to entity spans first."
        )


def _describe(eg: Example, index: int) -> str:
    text = eg.reference.text
    snippet = text if len(text) <= 60 else text[:57] + "..."
    return f"example {index} ({snippet!r})"


def _trim_space(doc: Doc, start: int, end: int) -> Tuple[int, int]:
    """Entities never start or end on a whitespace token."""
    while start < end and doc[start].is_space:
        start += 1
    while end > start and doc[end - 1].is_space:
        end -= 1
    return start, end
