"""The Thinc layer around the torch `BiLSTMCRF`: init, forward, shapes and
head surgery. The registered builder is in `architectures.py`; Thinc <-> torch
conversion is in `bridge.py`.

Input: `(docs, targets)`. With `targets=None` the layer predicts and returns,
for every head, the entities of every doc as `(start, end, label, confidence)`
token offsets. With `targets=Targets(head, tags)` it returns the loss of that
head (mean negative log-likelihood per segment) and a backprop callback.

The label sets are not stored here: the component's `cfg["heads"]` is their
one source of truth. They reach the torch module through `init`'s `Y` (or
`add_head`/`reset_head`), and the module's heads are built from them.
"""
import contextlib
import functools
import os
import sys
import warnings
from typing import Any, Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple

import srsly
from spacy.tokens import Doc
from spacy.vocab import Vocab
from thinc.api import Model, PyTorchWrapper, xp2torch
from thinc.model import deserialize_attr, serialize_attr

from .bridge import convert_inputs, convert_outputs, finish_update
from .data_classes import DocEntities, Targets
from .features import Lexicon, build_batch, count_vocab, group_segments, segment_docs, word_key

InputType = Tuple[List[Doc], Optional[Targets]]
OutputType = Any  # Dict[str, List[DocEntities]] when predicting, a float loss in training
LabelSets = Mapping[str, Sequence[str]]


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


def set_shapes(model: Model, vectors_size: int, n_words: int, n_chars: int) -> None:
    """Give an uninitialized model the shapes it needs to build its torch
    module (used when loading: the weights and lexicons follow from bytes)."""
    model.attrs["vectors_size"] = vectors_size
    model.attrs["words"] = Lexicon([""] * (n_words - 2))
    model.attrs["chars"] = Lexicon([""] * (n_chars - 2))


def get_shapes(model: Model) -> Dict[str, Any]:
    """The shapes `set_shapes` takes, for the component's cfg."""
    return {
        "vectors_size": model.attrs["vectors_size"],
        "n_words": len(model.attrs["words"]),
        "n_chars": len(model.attrs["chars"]),
    }


def set_lexicons(model: Model, vocab: Vocab, word_counts: Dict[str, int], char_counts: Dict[str, int]) -> None:
    """Choose static vectors or a trainable word embedding and build the word
    and character lexicons from counts (see `features.count_vocab`, which
    takes a stream of docs, so the corpus is never held in memory)."""
    vectors = vocab.vectors
    use_vectors = model.attrs["include_static_vectors"] and vectors.shape[0] > 0
    model.attrs["vectors_size"] = int(vectors.shape[1]) if use_vectors else 0
    model.attrs["chars"] = Lexicon.from_counts(char_counts)
    if use_vectors and not model.attrs["encoder"].get("trainable_words"):
        model.attrs["words"] = Lexicon()
        return
    keyed: Dict[str, int] = {}
    normalize = model.attrs.get("normalize_digits", False)
    for text, n in word_counts.items():
        key = word_key(text, normalize)
        keyed[key] = keyed.get(key, 0) + n
    model.attrs["words"] = Lexicon.from_counts(keyed, model.attrs["word_min_count"])


def init(model: Model, X: Optional[InputType] = None, Y: Optional[LabelSets] = None) -> None:
    """Build the torch module with one head per label set in `Y`
    ({head: labels}). Lexicons come from `set_lexicons` or `set_shapes`;
    without either they are counted from the docs in X."""
    if model.layers:
        return
    from ..torch_modules.bilstm_crf import BiLSTMCRF

    if not Y:
        raise ValueError("bilstm_crf_ner has no heads: initialize the component with labels.")
    attrs = model.attrs
    if attrs["vectors_size"] is None:
        if X is None or not X[0]:
            raise ValueError("Initializing the BiLSTM-CRF needs sample docs or lexicons.")
        word_counts, char_counts = count_vocab(X[0])
        set_lexicons(model, X[0][0].vocab, word_counts, char_counts)
    module = BiLSTMCRF(
        {name: list(labels) for name, labels in Y.items()},
        vectors_size=attrs["vectors_size"],
        n_words=len(attrs["words"]),
        n_chars=len(attrs["chars"]),
        **attrs["encoder"],
    )
    module.train_dtype = precision_dtype(attrs.get("train_precision", "float32"), "train_precision")
    model._layers.append(PyTorchWrapper(module, convert_inputs=convert_inputs, convert_outputs=convert_outputs))


def precision_dtype(precision: str, setting: str = "precision") -> Any:
    """The torch dtype of a precision name: None for "float32" (compute in
    the parameters' dtype), torch.bfloat16 for "bfloat16". `setting` names
    the option in the error message."""
    import torch

    dtypes = {"float32": None, "bfloat16": torch.bfloat16}
    if precision not in dtypes:
        raise ValueError(f"{setting} must be one of {sorted(dtypes)}, not {precision!r}")
    return dtypes[precision]


@functools.lru_cache(maxsize=None)
def _native_bfloat16() -> bool:
    """Whether bfloat16 math is fast here: a CUDA device, or a CPU that
    oneDNN runs bfloat16 on natively."""
    import torch

    if torch.cuda.is_available():
        return True
    check = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    return bool(check()) if check is not None else False


def get_module(model: Model) -> Any:
    """The torch `BiLSTMCRF` of an initialized model."""
    if not model.layers:
        raise ValueError("The BiLSTM-CRF model is not initialized; call nlp.initialize() first.")
    return model.layers[0].shims[0]._model


def set_inference_precision(model: Model, precision: str) -> None:
    """Predict in "float32" (the default; outputs as trained) or "bfloat16"
    (LSTMs and linear layers under autocast: about 3x faster LSTMs on CPUs
    with AMX or AVX512-BF16, slower on others; scores change slightly)."""
    get_module(model).inference_dtype = precision_dtype(precision)


def head_labels(model: Model) -> Dict[str, List[str]]:
    """The label sets the torch module's heads were built with."""
    return {name: list(head.labels) for name, head in get_module(model).heads.items()}


def put_head(model: Model, name: str, labels: Sequence[str]) -> None:
    """Put a freshly initialized output layer + CRF for `labels` under `name`,
    replacing any head of that name. The encoder and other heads are untouched."""
    from ..torch_modules.crf import CRFHead

    module = get_module(model)
    device = next(module.encoder.parameters()).device
    module.heads[name] = CRFHead(module.encoder.output_size, list(labels)).to(device)


def remove_head(model: Model, name: str) -> None:
    """Delete a head and its parameters."""
    del get_module(model).heads[name]


def forward(model: Model, inputs: InputType, is_train: bool) -> Tuple[OutputType, Callable]:
    if not model.layers:
        raise ValueError("The BiLSTM-CRF model is not initialized; call nlp.initialize() first.")
    docs, targets = inputs
    attrs = model.attrs
    segments = segment_docs(docs, attrs["max_length"], attrs["window_context"])
    groups = list(group_segments(segments, attrs["batch_tokens"]))
    # Vectors are read from the vocab at every call, never copied into the model.
    table = docs[0].vocab.vectors.data if docs and attrs["vectors_size"] else None
    featurize = dict(words=attrs["words"], chars=attrs["chars"], vectors_table=table,
                     normalize_digits=attrs.get("normalize_digits", False))
    torch_model = model.layers[0]
    if targets is None:
        return _predict(torch_model, list(get_module(model).heads), docs, groups, featurize), _no_backprop
    _freeze_idle_heads(torch_model, targets.head)
    if get_module(model).train_dtype is not None and not _native_bfloat16():
        # Shown once (Python's default filter): a model saved with this
        # setting can be loaded and used for prediction anywhere unwarned.
        warnings.warn(
            "bilstm_crf_ner: train_precision = \"bfloat16\" on a CPU without native bfloat16 "
            "(AVX512-BF16 or AMX) trains slower than \"float32\"."
        )
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


def drop_encoder_grads(model: Model) -> None:
    """Leave the shared encoder out of the next optimizer step: the PyTorch
    shim steps only parameters whose `.grad` is set, and a fresh optimizer
    has no momentum that could move them anyway."""
    module = get_module(model)
    heads = {id(p) for p in module.heads.parameters()}
    for p in module.parameters():
        if id(p) not in heads:
            p.grad = None


def _predict(torch_model: Model, heads: List[str], docs, groups, featurize) -> Dict[str, List[DocEntities]]:
    """Decode every group and map segment entities back to doc token offsets."""
    results: Dict[str, List[DocEntities]] = {head: [[] for _ in docs] for head in heads}
    for group, decoded in zip(groups, _decode_groups(torch_model, docs, groups, featurize)):
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


def _decode_groups(torch_model: Model, docs, groups, featurize) -> Iterable[Dict[str, Any]]:
    """The decoded heads of each group, in group order.

    With torch set to N > 1 threads (`torch.set_num_threads`), the groups
    are decoded by N Python threads, each running torch on one thread: the
    LSTM kernels gain little from N threads inside one call at these sizes
    (NCBI-disease test: 1.08x with 2 threads), but groups are independent and
    torch releases the GIL in its kernels. Each group is computed exactly as
    on one thread, so the output does not depend on N. torch's thread count
    is process-wide: it reads 1 while the groups are decoded and N again
    after.
    """
    import torch

    module = torch_model.shims[0]._model
    threads = torch.get_num_threads()
    cached = getattr(module.encoder.chars, "cache_size", 0)
    if threads < 2 or len(groups) < 2 or cached or next(module.parameters()).device.type != "cpu":
        for group in groups:
            yield torch_model.predict((build_batch(docs, group, **featurize), None))
        return
    from concurrent.futures import ThreadPoolExecutor

    def decode(group) -> Dict[str, Any]:
        torch.set_num_threads(1)
        (args, _) = convert_inputs(torch_model, (build_batch(docs, group, **featurize), None), False)
        with torch.no_grad():
            output = module(*args.args, **args.kwargs)
        return convert_outputs(torch_model, (None, output), False)[0]

    # Not the shim's `predict`: it puts the module back into training mode
    # when it returns, which would switch dropout on in the other threads.
    training = module.training
    module.eval()
    try:
        with ThreadPoolExecutor(max_workers=min(threads, len(groups))) as pool:
            decoded = list(pool.map(decode, groups))
    finally:
        module.train(training)
        torch.set_num_threads(threads)
    yield from decoded


def _no_backprop(_: Any) -> None:
    raise ValueError("The BiLSTM-CRF model predicts without gradients; pass targets to train.")


def snapshot(model: Model) -> Dict[str, Any]:
    """The trained parts of an initialized model, detached from it: shapes,
    lexicons, encoder weights and, per head, its labels and weights. Used to
    keep a pretrained encoder when the component is built again."""
    module = get_module(model)
    clone = lambda state: {k: v.detach().clone() for k, v in state.items()}  # noqa: E731
    return {
        "vectors_size": model.attrs["vectors_size"],
        "words": model.attrs["words"],
        "chars": model.attrs["chars"],
        "encoder": clone(module.encoder.state_dict()),
        "heads": {name: (list(head.labels), clone(head.state_dict())) for name, head in module.heads.items()},
    }


def restore(model: Model, saved: Dict[str, Any], heads: Iterable[str]) -> None:
    """Load a `snapshot`'s encoder, and the weights of the named heads, into
    a model built (by `init`) with the snapshot's shapes and lexicons."""
    module = get_module(model)
    module.encoder.load_state_dict(saved["encoder"])
    for name in heads:
        module.heads[name].load_state_dict(saved["heads"][name][1])


def use_lexicons(model: Model, saved: Dict[str, Any]) -> None:
    """Give an uninitialized model a snapshot's shapes and lexicons, so that
    `init` builds a module its weights fit."""
    for key in ("vectors_size", "words", "chars"):
        model.attrs[key] = saved[key]


@contextlib.contextmanager
def use_averages(model: Model, params: Optional[Dict[Any, Any]]) -> Iterator[None]:
    """Run with the optimizer's parameter averages in the torch module.

    Thinc's optimizer keeps the average of a PyTorch parameter under the key
    (shim id, parameter name), while `PyTorchShim.use_params` looks for keys
    "pytorch_<id>_<name>", so the averages of `use_averages = true` would
    never reach the module (spaCy evaluates and saves checkpoints inside
    `use_params`). Parameters without an average keep their values.
    """
    if not params or not model.layers:
        yield
        return
    shim = model.layers[0].shims[0]
    named = dict(shim._model.named_parameters())
    found = {name: params[(shim.id, name)] for name in named if (shim.id, name) in params}
    if not found:
        with model.use_params(params):
            yield
        return
    import torch

    backup = {name: named[name].detach().clone() for name in found}
    with torch.no_grad():
        for name, value in found.items():
            named[name].copy_(xp2torch(value, device=named[name].device))
    try:
        yield
    finally:
        with torch.no_grad():
            for name, value in backup.items():
                named[name].copy_(value)
