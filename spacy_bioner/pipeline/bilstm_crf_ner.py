"""spaCy glue: the `bilstm_crf_ner` pipeline component.

One shared encoder and one CRF head per label set (corpus). Every head writes
its entities to `doc.spans["<name>_<head>"]` with their confidences in the
group's `attrs["scores"]`. `doc.ents` comes from `ents_head`, or from a merge
of all heads (`merge_heads`); those spans are also `doc.spans["<name>"]`, with
their scores and, in `attrs["heads"]`, the heads that found each of them.

The label sets live in one place, `cfg["heads"]` ({head: labels}); the torch
module's heads are built from it, and `add_head`/`reset_head` change both.
"""
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Set, Tuple, Union

import numpy
import srsly
from spacy.attrs import ORTH
from spacy.language import Language
from spacy.pipeline import TrainablePipe
from spacy.scorer import get_ner_prf
from spacy.tokens import Doc, Span
from spacy.training import Example, validate_examples, validate_get_examples
from spacy.vocab import Vocab
from thinc.api import Config, Model, Optimizer

from ..integrity import loading_weights, verify_checksums, write_checksums
from ..model import bilstm_crf_layer as layer
from ..model.data_classes import DocEntities, Targets
from ..model.features import count_vocab
from .merge import merge_entities
from .scores import clear_user_data_scores, make_scored_group

# Examples whose reference doc has this user_data key train that head; the
# multi-corpus reader sets it. `update(head=...)` overrides it.
HEAD_KEY = "spacy_bioner_head"
# Docs kept from the training data for the model's shape check.
INIT_SAMPLE = 10
# `pipe` predicts in batches of at least `batch_size` docs *and* this many
# tokens. Segments are sorted by length within a batch, so a batch of 128
# one-sentence docs pads more and pays per-call costs that a batch of 1,000
# sentences spreads: on one thread, sentences at `batch_size` 128 went from
# 26.5k to 33.9k tok/s with this floor, at 32 from 18.6k to 35.6k; it costs
# a few MB per batch (docs/benchmarks/pipe_batches.md).
PIPE_MIN_TOKENS = 32768

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
        "merge_heads": False,
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
    merge_heads: bool,
    scorer: Optional[Callable],
) -> "BiLSTMCRFNER":
    """Create a BiLSTM-CRF named-entity recognizer.

    model (Model): A `spacy-bioner.BiLSTMCRF.v1` model.
    heads (List[str]): Names of the output heads, one per label set (corpus).
    ents_head (Optional[str]): The head that sets `doc.ents`; the first if None.
    merge_heads (bool): Set `doc.ents` from all heads instead: overlapping
        spans are resolved by highest confidence, then longest span.
    scorer (Optional[Callable]): Scores `doc.ents`: exact, left and right boundaries.
    """
    return BiLSTMCRFNER(
        nlp.vocab, model, name, heads=heads, ents_head=ents_head, merge_heads=merge_heads, scorer=scorer
    )


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
        merge_heads: bool = False,
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
        self.cfg: Dict[str, Any] = {
            "heads": {head: [] for head in heads},
            "ents_head": ents_head,
            "merge_heads": bool(merge_heads),
            "shapes": None,
        }

    @property
    def heads(self) -> List[str]:
        return list(self.cfg["heads"])

    @property
    def labels(self) -> Tuple[str, ...]:
        """The labels of the head that sets `doc.ents`."""
        return tuple(self.cfg["heads"][self.cfg["ents_head"]])

    @property
    def label_sets(self) -> Dict[str, Tuple[str, ...]]:
        """The labels of every head."""
        return {head: tuple(labels) for head, labels in self.cfg["heads"].items()}

    @property
    def label_data(self) -> Dict[str, List[str]]:
        """Labels by head, as `spacy init labels` writes them; `initialize`
        takes the same dict back as `labels`."""
        return {head: list(labels) for head, labels in self.cfg["heads"].items()}

    @property
    def is_initialized(self) -> bool:
        return bool(self.model.layers)

    def spans_key(self, head: str) -> str:
        """The `doc.spans` key a head writes to."""
        return f"{self.name}_{head}"

    def add_label(self, label: str, head: Optional[str] = None) -> int:
        """Add a label to a head (the `ents_head` by default) before training.
        On an initialized component use `reset_head`, which says plainly that
        the head's output layer and CRF start again."""
        head = head or self.cfg["ents_head"]
        if self.is_initialized:
            raise ValueError(
                f"Cannot add label '{label}': {self.name} is already initialized; use "
                f"reset_head({head!r}, labels) for a fresh output layer with new labels."
            )
        _check_label(label, f"add_label(head={head!r})")
        labels = self.cfg["heads"][head]
        if label in labels:
            return 0
        labels.append(label)
        labels.sort()
        return 1

    def add_head(self, name: str, labels: Sequence[str]) -> None:
        """Add a head with its own output layer and CRF. On an initialized
        component the new head starts from fresh weights; the encoder and the
        other heads keep theirs.

        name (str): The head's name (its span group is `<component>_<name>`).
        labels (Sequence[str]): Its entity labels.
        """
        if name in self.cfg["heads"]:
            raise ValueError(f"{self.name} already has a head '{name}'; use reset_head to replace it.")
        self._set_head(name, labels)

    def reset_head(self, name: str, labels: Optional[Sequence[str]] = None, *, sgd: Optional[Optimizer] = None) -> None:
        """Give a head a fresh output layer and CRF, for new labels (or its
        own, for a fresh start). The encoder and the other heads are untouched.

        name (str): An existing head.
        labels (Optional[Sequence[str]]): The new labels; the head's own if None.
        sgd (Optional[Optimizer]): An optimizer already used on this component:
            its moments for the head's old parameters are dropped, so the
            fresh layer is not pushed by the old layer's momentum.
        """
        if name not in self.cfg["heads"]:
            raise ValueError(f"{self.name} has no head '{name}'; heads are {self.heads}.")
        self._set_head(name, self.cfg["heads"][name] if labels is None else labels)
        if sgd is not None and self.is_initialized:
            shim_id = self.model.layers[0].shims[0].id
            prefix = f"heads.{name}."
            for store in (sgd.mom1, sgd.mom2, sgd.averages or {}):
                for key in [k for k in store if k[0] == shim_id and str(k[1]).startswith(prefix)]:
                    del store[key]

    def _set_head(self, name: str, labels: Sequence[str]) -> None:
        labels = sorted(set(labels))
        if not labels:
            raise ValueError(f"Head '{name}' needs at least one label.")
        for label in labels:
            _check_label(label, f"head {name!r}")
        self.cfg["heads"][name] = labels
        if self.is_initialized:
            layer.put_head(self.model, name, labels)

    def pipe(
        self, stream: Iterable[Doc], *, batch_size: int = 128, min_batch_tokens: Optional[int] = None
    ) -> Iterator[Doc]:
        """Annotate a stream of docs, in order. Batches hold at least
        `batch_size` docs and at least `min_batch_tokens` tokens (or what is
        left of the stream), so that short docs are decoded in batches big
        enough to be fast, whatever `nlp.batch_size` is. A stream that should
        be answered doc by doc as it arrives (a socket, a prompt) passes
        `component_cfg={"bilstm_crf_ner": {"min_batch_tokens": 0}}` to
        `nlp.pipe`.

        stream (Iterable[Doc]): Docs to annotate.
        batch_size (int): The least number of docs per batch.
        min_batch_tokens (Optional[int]): The least number of tokens per
            batch; None for PIPE_MIN_TOKENS, 0 for `batch_size` docs only.
        YIELDS (Doc): The docs, annotated.
        """
        if min_batch_tokens is None:
            min_batch_tokens = PIPE_MIN_TOKENS
        error_handler = self.get_error_handler()
        for docs in _token_batches(stream, batch_size, min_batch_tokens):
            try:
                self.set_annotations(docs, self.predict(docs))
                yield from docs
            except Exception as e:
                error_handler(self.name, self, docs, e)

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

    def set_inference_precision(self, precision: str) -> None:
        """Predict in "float32" (default) or "bfloat16" (faster on CPUs with
        AMX or AVX512-BF16; scores and, rarely, entities change). Not saved
        with the pipeline: set it after loading.

        precision (str): "float32" or "bfloat16".
        """
        self._require_initialized()
        layer.set_inference_precision(self.model, precision)

    def set_annotations(self, docs: Iterable[Doc], predictions: Dict[str, List[DocEntities]]) -> None:
        """Write each head's entities and scores to its span group, and set
        `doc.ents` (with their scores in `doc.spans[<name>]`)."""
        heads = self.heads
        keys = {head: self.spans_key(head) for head in heads}
        use = heads if self.cfg["merge_heads"] else [self.cfg["ents_head"]]
        for i, doc in enumerate(docs):
            clear_user_data_scores(doc)
            found: Dict[str, List[Tuple[int, int, str, float]]] = {}
            for head in heads:
                entities = []
                for start, end, label, confidence in predictions[head][i]:
                    start, end = _trim_space(doc, start, end)
                    if start < end:
                        entities.append((start, end, label, confidence))
                found[head] = entities
                spans = [Span(doc, s, e, label=lab) for s, e, lab, _ in entities]
                doc.spans[keys[head]] = make_scored_group(doc, keys[head], spans, [c for *_, c in entities], head=head)
            merged = merge_entities(found, use, heads)
            ents = [Span(doc, s, e, label=lab) for s, e, lab, _, _ in merged]
            doc.ents = ents
            doc.spans[self.name] = make_scored_group(
                doc, self.name, ents, [m[3] for m in merged], heads=[m[4] for m in merged], doc_ents=True
            )

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

    def finish_update(self, sgd: Optimizer) -> None:
        """Step the optimizer (spaCy's `nlp.update` calls this once per batch,
        after every component's `update`). During the first
        `freeze_encoder_steps` steps after `initialize`, only the heads move."""
        updates = getattr(self, "_updates", 0)
        if updates < self.cfg.get("freeze_encoder_steps", 0):
            # The shim only steps parameters that have a gradient.
            layer.drop_encoder_grads(self.model)
        self._updates = updates + 1
        # Thinc's Adam as torch's fused kernel over all tensors at once.
        layer.finish_update(self.model, sgd)

    def use_params(self, params: Dict) -> Iterator[None]:
        """Run with the optimizer's parameter averages (`use_averages = true`):
        spaCy evaluates and saves checkpoints inside this context. A plain
        generator, as `Language.use_params` drives it with `next()`."""
        with layer.use_averages(self.model, params):
            yield

    def get_loss(self, examples: Iterable[Example], scores) -> Tuple[float, None]:
        raise NotImplementedError("bilstm_crf_ner computes its CRF loss inside the model; use update().")

    def initialize(
        self,
        get_examples: Callable[[], Iterable[Example]],
        *,
        nlp: Optional[Language] = None,
        labels: Optional[Union[Sequence[str], Dict[str, Sequence[str]]]] = None,
        init_from: Optional[Union[str, Path]] = None,
        keep_weights: bool = False,
        reset_heads: Sequence[str] = (),
        freeze_encoder_steps: int = 0,
    ) -> None:
        """Set the label sets and build the model.

        Label sets come from `labels` (a list for the `ents_head`, or a dict
        of lists by head, as `spacy init labels` writes them), else from the
        examples routed to each head, else (for a kept head) from the
        pretrained model. The examples are read in one streaming pass, which
        also counts the lexicons; only a small sample is kept.

        With `init_from` (a pipeline's path or package name) or
        `keep_weights` (this component, already trained, e.g. sourced), the
        pretrained encoder and lexicons are kept, and so is every head of the
        same name and the same labels; other heads start fresh, as do those
        in `reset_heads`. Otherwise everything starts from fresh weights.

        init_from (Optional[Union[str, Path]]): A pipeline with a
            bilstm_crf_ner component (of this name, or its only one).
        keep_weights (bool): Keep this component's own trained weights.
        reset_heads (Sequence[str]): Heads that start fresh even if kept.
        freeze_encoder_steps (int): For this many updates from now, only the
            heads learn; the shared encoder (embeddings, char and word
            BiLSTMs) stays as it is (fine-tuning a pretrained encoder).
        """
        validate_get_examples(get_examples, "BiLSTMCRFNER.initialize")
        pretrained = None
        if init_from is not None:
            pretrained = self._pretrained_from(init_from)
        elif keep_weights and self.is_initialized:
            pretrained = layer.snapshot(self.model)
        for head in reset_heads:
            if head not in self.cfg["heads"]:
                raise ValueError(f"reset_heads names unknown head '{head}'; heads are {self.heads}.")
        found: Dict[str, Set[str]] = {head: set() for head in self.heads}
        sample: List[Doc] = []
        counts = count_vocab(self._scan(get_examples(), found, sample, with_labels=labels is None))
        if not sample:
            raise ValueError(f"{self.name}.initialize needs at least one example.")
        if labels is not None:
            if not isinstance(labels, dict):
                labels = {self.cfg["ents_head"]: labels}
            for head in labels:
                if head not in self.cfg["heads"]:
                    raise ValueError(f"labels for unknown head '{head}'; heads are {self.heads}.")
            found = {head: set(labels.get(head, ())) for head in self.heads}
        kept_heads = []
        for head in self.heads:
            head_labels = found[head] | set(self.cfg["heads"][head])
            old = pretrained["heads"].get(head) if pretrained else None
            if not head_labels and old is not None:
                head_labels = set(old[0])
            for label in head_labels:
                _check_label(label, f"labels of head {head!r}")
            self.cfg["heads"][head] = sorted(head_labels)
            if old is not None and old[0] == self.cfg["heads"][head] and head not in reset_heads:
                kept_heads.append(head)
        empty = [head for head, head_labels in self.cfg["heads"].items() if not head_labels]
        if empty:
            raise ValueError(f"No labels for head(s) {empty}: give labels= or examples with entities.")
        # Rebuilding starts from fresh weights, as spaCy does, unless a
        # pretrained encoder is kept.
        self.model._layers = []
        if pretrained is not None:
            layer.use_lexicons(self.model, pretrained)
        else:
            layer.set_lexicons(self.model, self.vocab, *counts)
        self.model.initialize(X=(sample, None), Y=self.cfg["heads"])
        if pretrained is not None:
            layer.restore(self.model, pretrained, kept_heads)
        self.cfg["shapes"] = layer.get_shapes(self.model)
        self.cfg["kept_heads"] = kept_heads if pretrained is not None else []
        if freeze_encoder_steps < 0:
            raise ValueError(f"freeze_encoder_steps must be >= 0, not {freeze_encoder_steps}")
        self.cfg["freeze_encoder_steps"] = int(freeze_encoder_steps)
        self._updates = 0

    def _scan(self, examples: Iterable[Example], found: Dict[str, Set[str]], sample: List[Doc], with_labels: bool) -> Iterator[Doc]:
        """Stream the predicted docs, collecting labels per head and keeping
        the first few docs as a sample."""
        for i, eg in enumerate(examples):
            if with_labels:
                head = self._head_of(eg, None)
                for ent in eg.reference.ents:
                    _check_label(ent.label_, _describe(eg, i))
                    found[head].add(ent.label_)
            if len(sample) < INIT_SAMPLE and len(eg.predicted):
                sample.append(eg.predicted)
            yield eg.predicted

    def _pretrained_from(self, init_from: Union[str, Path]) -> Dict[str, Any]:
        """A snapshot of the bilstm_crf_ner of another pipeline."""
        import spacy

        source = spacy.load(init_from)
        names = [name for name, pipe in source.pipeline if isinstance(pipe, BiLSTMCRFNER)]
        name = self.name if self.name in names else (names[0] if len(names) == 1 else None)
        if name is None:
            raise ValueError(f"init_from: {init_from} has no single bilstm_crf_ner component (found {names}).")
        pretrained = layer.snapshot(source.get_pipe(name).model)
        size = pretrained["vectors_size"]
        if size and self.vocab.vectors.shape[1] != size:
            raise ValueError(
                f"init_from: {init_from} was trained with {size}-d static vectors, but this pipeline's "
                f"vocab has vectors of shape {self.vocab.vectors.shape}; set [initialize] vectors to "
                f"the same vectors."
            )
        return pretrained

    def score(self, examples: Iterable[Example], **kwargs: Any) -> Dict[str, Any]:
        """Score `doc.ents` against the examples of `ents_head` (all examples
        when there is one head), and with several heads each head's span
        group against its own examples: `ents_p/r/f_<head>`. Select the best
        model by a head, or by the mean of heads, with `score_weights`."""
        examples = list(examples)
        scorer = self.scorer or (lambda egs, **kw: get_ner_prf(egs))
        if len(self.cfg["heads"]) == 1:
            return scorer(examples, **kwargs)
        from ..evaluation.scorer import make_boundary_scorer

        by_head: Dict[str, List[Example]] = {head: [] for head in self.heads}
        for eg in examples:
            by_head[self._head_of(eg, None)].append(eg)
        results: Dict[str, Any] = {}
        if by_head[self.cfg["ents_head"]]:
            results.update(scorer(by_head[self.cfg["ents_head"]], **kwargs))
        for head, egs in by_head.items():
            if egs:
                head_scores = make_boundary_scorer(spans_key=self.spans_key(head))(egs)
                for key in ("ents_p", "ents_r", "ents_f"):
                    results[f"{key}_{head}"] = head_scores[key]
        return results

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
        """Build the torch module from the label sets and shapes in cfg, so
        that the weights can be loaded into it."""
        shapes = self.cfg.get("shapes")
        if not shapes:
            raise ValueError(f"Cannot load {self.name}: its cfg has no shapes (was it initialized?).")
        # Models saved before the label sets had one home kept a copy here.
        shapes.pop("heads", None)
        self.cfg.setdefault("merge_heads", False)
        vectors_size = shapes["vectors_size"]
        if vectors_size and self.vocab.vectors.shape[1] != vectors_size:
            raise ValueError(
                f"{self.name} was trained with {vectors_size}-d static vectors, but the vocab "
                f"has vectors of shape {self.vocab.vectors.shape}."
            )
        self.model._layers = []
        layer.set_shapes(self.model, **shapes)
        self.model.initialize(Y=self.cfg["heads"])

    def _require_initialized(self) -> None:
        if not self.is_initialized:
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
        if _same_tokens(eg):
            # The readers give the predicted doc the reference's tokens: read
            # the gold spans directly instead of aligning token by token
            # (the alignment was a tenth of training time). Tokens of unknown
            # gold are "O" either way.
            for ent in eg.reference.ents:
                if ent.label_ not in ids:
                    raise ValueError(
                        f"Label '{ent.label_}' in {_describe(eg, index)} is not a label of head '{head}' "
                        f"({list(labels)})."
                    )
                tags[ent.start] = ids[ent.label_]
                tags[ent.start + 1 : ent.end] = ids[ent.label_] + 1
            return tags
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


def _same_tokens(eg: Example) -> bool:
    """Whether the predicted and reference docs have the same tokens."""
    x, y = eg.predicted, eg.reference
    return len(x) == len(y) and numpy.array_equal(x.to_array(ORTH), y.to_array(ORTH))


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


def _token_batches(stream: Iterable[Doc], min_docs: int, min_tokens: int) -> Iterator[List[Doc]]:
    """Consecutive docs, in batches of at least `min_docs` docs and
    `min_tokens` tokens; the last batch holds what is left."""
    batch: List[Doc] = []
    tokens = 0
    for doc in stream:
        batch.append(doc)
        tokens += len(doc)
        if len(batch) >= min_docs and tokens >= min_tokens:
            yield batch
            batch, tokens = [], 0
    if batch:
        yield batch


def _trim_space(doc: Doc, start: int, end: int) -> Tuple[int, int]:
    """Entities never start or end on a whitespace token."""
    while start < end and doc[start].is_space:
        start += 1
    while end > start and doc[end - 1].is_space:
        end -= 1
    return start, end
