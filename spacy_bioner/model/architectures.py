"""Thinc glue: the registered `spacy-bioner.BiLSTMCRF.v1` architecture.

The Thinc model owns featurization (Docs -> arrays, in `features.py`) and a
`PyTorchWrapper` around the torch `BiLSTMCRF`, which is built lazily in `init`
once the label sets and vocabulary sizes are known (from the training data,
or from the component's cfg when loading). All Thinc <-> torch conversion
happens in this module.

Input: `(docs, targets)`. With `targets=None` the model predicts and returns,
for every head, the entities of every doc as `(start, end, label, confidence)`
token offsets. With `targets=Targets(head, tags)` it returns the loss of that
head (mean negative log-likelihood per segment) and a backprop callback.
"""
import os
import sys
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple

import numpy
import srsly
from spacy.tokens import Doc
from spacy.util import registry
from thinc.api import ArgsKwargs, Model, PyTorchWrapper, xp2torch
from thinc.model import deserialize_attr, serialize_attr

from .features import Lexicon, build_batch, count_vocab, group_segments, segment_docs

DocEntities = List[Tuple[int, int, str, float]]


class Targets(NamedTuple):
    """Gold tag ids (per doc, one per token, BIO ids of `head`'s tag set)."""

    head: str
    tags: Sequence[numpy.ndarray]


InputType = Tuple[List[Doc], Optional[Targets]]
OutputType = Any  # Dict[str, List[DocEntities]] when predicting, a float loss in training


def _single_threaded_torch_after_fork() -> None:
    # `nlp.pipe(n_process=N)` forks workers. Torch's OpenMP pool does not
    # survive a fork: the child's first parallel op hangs. One thread per
    # worker avoids that and is what N worker processes want anyway.
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)


os.register_at_fork(after_in_child=_single_threaded_torch_after_fork)


@serialize_attr.register(Lexicon)
def _serialize_lexicon(_: Lexicon, value: Lexicon, name: str, model: Model) -> bytes:
    return srsly.msgpack_dumps(value.items)


@deserialize_attr.register(Lexicon)
def _deserialize_lexicon(_: Lexicon, value: bytes, name: str, model: Model) -> Lexicon:
    return Lexicon(srsly.msgpack_loads(value))


@registry.architectures("spacy-bioner.BiLSTMCRF.v1")
def build_bilstm_crf(
    char_embed_size: int = 30,
    char_hidden_size: int = 25,
    word_size: int = 100,
    include_static_vectors: bool = True,
    word_min_count: int = 2,
    hidden_size: int = 100,
    depth: int = 2,
    embed_dropout: float = 0.0,
    input_dropout: float = 0.3,
    output_dropout: float = 0.3,
    recurrent_dropout: float = 0.1,
    max_length: int = 256,
    window_context: int = 32,
    batch_tokens: int = 4096,
) -> Model[InputType, OutputType]:
    """A BiLSTM-CRF (Lample et al. 2016) with variational dropout.

    char_embed_size (int): Width of character embeddings.
    char_hidden_size (int): Units per direction of the character BiLSTM.
    word_size (int): Width of the trainable word embedding, used when the
        vocab has no static vectors (or `include_static_vectors` is False).
    include_static_vectors (bool): Use `nlp.vocab.vectors` when it has rows.
    word_min_count (int): Words seen fewer times in training share the
        unknown-word embedding, which is how that embedding gets trained.
    hidden_size (int): Units per direction of each word BiLSTM.
    depth (int): Number of stacked word BiLSTMs.
    embed_dropout (float): Ordinary dropout on the word+character embeddings
        (the papers' baseline uses 0.3 here and no variational dropout).
    input_dropout, output_dropout, recurrent_dropout (float): Variational
        dropout rates of every LSTM layer (the papers' 0.3 / 0.3 / 0.1).
    max_length (int): Longest token window the encoder reads at once; longer
        sentences are read in overlapping windows, never truncated.
    window_context (int): Tokens of context on each side of a window's core.
    batch_tokens (int): Upper bound on padded tokens per torch call.
    RETURNS (Model): The Thinc model; its torch module is built in `init`.
    """
    if max_length <= 2 * window_context:
        raise ValueError(f"max_length ({max_length}) must exceed 2 * window_context ({window_context}).")
    # Rates are deliberately not called `dropout_rate`: spaCy's
    # `[training] dropout` would overwrite an attr of that name.
    encoder = dict(
        char_embed_size=char_embed_size,
        char_hidden_size=char_hidden_size,
        word_size=word_size,
        hidden_size=hidden_size,
        depth=depth,
        embed_dropout=embed_dropout,
        input_dropout=input_dropout,
        output_dropout=output_dropout,
        recurrent_dropout=recurrent_dropout,
    )
    return Model(
        "bilstm_crf",
        forward,
        init=init,
        attrs={
            "encoder": encoder,
            "include_static_vectors": include_static_vectors,
            "word_min_count": word_min_count,
            "max_length": max_length,
            "window_context": window_context,
            "batch_tokens": batch_tokens,
            # Filled by `init` or from the component's cfg before loading.
            "heads": {},
            "vectors_size": None,
            "words": Lexicon(),
            "chars": Lexicon(),
        },
    )


def set_shapes(model: Model, heads: Dict[str, List[str]], vectors_size: int, n_words: int, n_chars: int) -> None:
    """Give an uninitialized model the shapes it needs to build its torch
    module (used when loading: the weights and lexicons follow from bytes)."""
    model.attrs["heads"] = {name: list(labels) for name, labels in heads.items()}
    model.attrs["vectors_size"] = vectors_size
    model.attrs["words"] = Lexicon([""] * (n_words - 2))
    model.attrs["chars"] = Lexicon([""] * (n_chars - 2))


def get_shapes(model: Model) -> Dict[str, Any]:
    """The shapes `set_shapes` takes, for the component's cfg."""
    return {
        "heads": model.attrs["heads"],
        "vectors_size": model.attrs["vectors_size"],
        "n_words": len(model.attrs["words"]),
        "n_chars": len(model.attrs["chars"]),
    }


def init(model: Model, X: Optional[InputType] = None, Y: Any = None) -> None:
    """Build the torch module. Label sets must be in `model.attrs["heads"]`;
    lexicons come from the docs in X unless `set_shapes` provided them."""
    if model.layers:
        return
    from ..torch_modules.bilstm_crf import BiLSTMCRF

    attrs = model.attrs
    if not attrs["heads"]:
        raise ValueError("bilstm_crf_ner has no heads: initialize the component with labels.")
    if attrs["vectors_size"] is None:
        if X is None or not X[0]:
            raise ValueError("Initializing the BiLSTM-CRF needs sample docs.")
        docs = X[0]
        vectors = docs[0].vocab.vectors
        use_vectors = attrs["include_static_vectors"] and vectors.shape[0] > 0
        attrs["vectors_size"] = int(vectors.shape[1]) if use_vectors else 0
        word_counts, char_counts = count_vocab(docs)
        attrs["chars"] = Lexicon.from_counts(char_counts)
        attrs["words"] = Lexicon() if use_vectors else Lexicon.from_counts(word_counts, attrs["word_min_count"])
    module = BiLSTMCRF(
        attrs["heads"],
        vectors_size=attrs["vectors_size"],
        n_words=len(attrs["words"]),
        n_chars=len(attrs["chars"]),
        **attrs["encoder"],
    )
    model._layers.append(
        PyTorchWrapper(module, convert_inputs=_convert_inputs, convert_outputs=_convert_outputs)
    )


def forward(model: Model, inputs: InputType, is_train: bool) -> Tuple[OutputType, Callable]:
    if not model.layers:
        raise ValueError("The BiLSTM-CRF model is not initialized; call nlp.initialize() first.")
    docs, targets = inputs
    attrs = model.attrs
    segments = segment_docs(docs, attrs["max_length"], attrs["window_context"])
    groups = list(group_segments(segments, attrs["batch_tokens"]))
    # Vectors are read from the vocab at every call, never copied into the model.
    table = docs[0].vocab.vectors.data if docs and attrs["vectors_size"] else None
    featurize = dict(words=attrs["words"], chars=attrs["chars"], vectors_table=table)
    torch_model = model.layers[0]
    if targets is None:
        return _predict(torch_model, list(attrs["heads"]), docs, groups, featurize), _no_backprop
    _freeze_idle_heads(torch_model, targets.head)
    n_segments = max(1, len(segments))
    loss = 0.0
    callbacks = []
    for group in groups:
        batch = build_batch(docs, group, tags=targets.tags, **featurize)
        value, backprop = torch_model((batch, targets.head), is_train)
        loss += value
        callbacks.append(backprop)

    def backprop(d_loss: float) -> None:
        # The loss is a mean over segments.
        for callback in callbacks:
            callback(d_loss / n_segments)
        return None

    return loss / n_segments, backprop


def _freeze_idle_heads(torch_model: Model, head: str) -> None:
    """Drop the zeroed gradients of heads that have taken no gradient since
    the last optimizer step. The PyTorch shim updates every parameter whose
    `.grad` is not None, and Adam keeps moving a parameter with a zero
    gradient on its momentum: in multi-task training that would drift the
    heads of the corpora not in the current batch."""
    heads = torch_model.shims[0]._model.heads
    for name, module in heads.items():
        if name == head:
            continue
        params = list(module.parameters())
        if all(p.grad is None or not p.grad.any() for p in params):
            for p in params:
                p.grad = None


def _predict(torch_model: Model, heads: List[str], docs, groups, featurize) -> Dict[str, List[DocEntities]]:
    """Decode every group and map segment entities back to doc token offsets."""
    results: Dict[str, List[DocEntities]] = {head: [[] for _ in docs] for head in heads}
    for group in groups:
        decoded = torch_model.predict((build_batch(docs, group, **featurize), None))
        for head, (labels, entities) in decoded.items():
            for segment, seg_entities in zip(group, entities):
                results[head][segment.doc].extend(
                    (segment.start + e.start, segment.start + e.end, labels[e.label], e.confidence)
                    for e in seg_entities
                )
    for per_doc in results.values():
        for entities in per_doc:
            entities.sort()
    return results


def _no_backprop(_: Any) -> None:
    raise ValueError("The BiLSTM-CRF model predicts without gradients; pass targets to train.")


def _convert_inputs(model: Model, inputs, is_train: bool):
    from ..torch_modules.bilstm_crf import TokenBatch

    batch, head = inputs
    device = next(model.shims[0]._model.parameters()).device

    def tensor(array):
        if array is None:
            return None
        return xp2torch(model.ops.asarray(array), device=device)

    token_batch = TokenBatch(
        words=tensor(batch["words"]),
        vectors=tensor(batch["vectors"]),
        known=tensor(batch["known"]),
        unique=tensor(batch["unique"]),
        chars=tensor(batch["chars"]),
        char_lengths=tensor(batch["char_lengths"]),
        lengths=tensor(batch["lengths"]),
        gather=tensor(batch["gather"]),
        segment_lengths=tensor(batch["segment_lengths"]),
    )
    tags = batch.get("tags")
    kwargs = {"head": head}
    if tags is not None:
        kwargs["tags"] = tensor(tags)
    return ArgsKwargs(args=(token_batch,), kwargs=kwargs), lambda d: None


def _convert_outputs(model: Model, inputs_outputs, is_train: bool):
    import torch

    _, output = inputs_outputs
    if isinstance(output, dict):
        module = model.shims[0]._model
        decoded = {head: (module.heads[head].labels, entities) for head, (_, entities) in output.items()}
        return decoded, lambda d: None
    loss = output

    def backprop(d_loss: float) -> ArgsKwargs:
        grad = torch.tensor(d_loss, dtype=loss.dtype, device=loss.device)
        return ArgsKwargs(args=(loss,), kwargs={"grad_tensors": grad})

    return float(loss.detach()), backprop
