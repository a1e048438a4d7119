"""The one place where Thinc and torch meet: `convert_inputs` and
`convert_outputs` for the `PyTorchWrapper` around the torch `BiLSTMCRF`.

Inputs are `(FeatureBatch, head)`; outputs are a float loss with a backprop
callback (training) or, per head, `(labels, entities)` (prediction).
"""
import functools
import weakref
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy
from thinc.api import ArgsKwargs, Model, Optimizer, xp2torch

from .data_classes import FeatureBatch


def convert_inputs(model: Model, inputs: Tuple[FeatureBatch, Optional[str]], is_train: bool) -> Tuple[ArgsKwargs, Callable]:
    """Arrays of a `FeatureBatch` -> a torch `TokenBatch` on the module's device.

    RETURNS (Tuple[ArgsKwargs, Callable]): The module's arguments and a
        backprop callback; no gradient flows to the integer inputs.
    """
    from ..torch_modules.bilstm_crf import TokenBatch

    batch, head = inputs
    device = next(model.shims[0]._model.parameters()).device

    def tensor(array: Any) -> Any:
        if array is None:
            return None
        return xp2torch(model.ops.asarray(array), device=device)

    token_batch = TokenBatch(
        words=tensor(batch.words),
        vectors=tensor(batch.vectors),
        known=tensor(batch.known),
        unique=tensor(batch.unique),
        chars=tensor(batch.chars),
        char_lengths=tensor(batch.char_lengths),
        lengths=tensor(batch.lengths),
        gather=tensor(batch.gather),
        segment_lengths=tensor(batch.segment_lengths),
        word_keys=tensor(batch.word_keys),
    )
    kwargs = {"head": head}
    if batch.tags is not None:
        kwargs["tags"] = tensor(batch.tags)
    return ArgsKwargs(args=(token_batch,), kwargs=kwargs), lambda d: None


def convert_outputs(model: Model, inputs_outputs: Tuple[Any, Any], is_train: bool) -> Tuple[Any, Callable]:
    """A loss tensor -> (float, backprop); decoded heads -> {head: (labels, entities)}."""
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


def finish_update(model: Model, optimizer: Optimizer) -> None:
    """Step Thinc's `optimizer` on the torch module's parameters, as
    `model.finish_update(optimizer)` would, in a few vectorized torch calls.

    Thinc's `PyTorchShim.finish_update` calls the optimizer once per
    parameter: a gradient norm, Thinc's scalar Adam loop, the average and two
    array conversions each time, about 5 ms of a 45 ms training step for this
    model's 32 tensors. Here, with Thinc's own Adam (the configs' `Adam.v1`),
    the same update runs as torch's fused Adam over all tensors at once, on
    the optimizer's own state: its first and second moments, step counts and
    parameter averages are updated in place, so `use_params`, a later
    fallback and spaCy's checkpoints see what Thinc's loop would have left
    (up to float rounding). Any other optimizer, or settings this does not
    cover (RAdam, L2 added to the gradient, a GPU, a loss scaler), goes
    through `model.finish_update`.
    """
    nodes = list(model.walk())
    shims = [shim for node in nodes for shim in node.shims]
    if not shims or any(node.param_names for node in nodes) or not _fused_adam_applies(optimizer):
        model.finish_update(optimizer)
        return
    stepped = []
    for shim in shims:
        named = [(name, p) for name, p in shim._model.named_parameters() if p.grad is not None and p.numel() > 0]
        if getattr(shim._grad_scaler, "_enabled", True) or not all(_on_cpu_float32(p) for _, p in named):
            model.finish_update(optimizer)
            return
        stepped.append((shim, named))
    for shim, named in stepped:
        _fused_adam_step(shim, named, optimizer)


@functools.lru_cache(maxsize=1)
def _torch_has_cpu_fused_adam() -> bool:
    # torch runs `Adam(fused=True)` on CPU from 2.4 on; setup.cfg allows 2.1.
    import torch
    from packaging.version import Version

    return Version(torch.__version__.split("+")[0]) >= Version("2.4")


def _fused_adam_applies(optimizer: Optimizer) -> bool:
    return (
        _torch_has_cpu_fused_adam()
        and type(optimizer) is Optimizer
        and not optimizer.use_radam
        and optimizer.b1 > 0.0
        and optimizer.b2 > 0.0
        and (optimizer.L2 == 0 or optimizer.L2_is_weight_decay)
    )


def _on_cpu_float32(param: Any) -> bool:
    import torch

    return param.device.type == "cpu" and param.dtype == torch.float32 and param.is_contiguous()


class _AdamViews:
    """torch views of one parameter's state arrays in Thinc's optimizer
    (flat moments; the average in the parameter's shape), which share their
    memory, and torch's step count tensor."""

    def __init__(self, optimizer: Optimizer, key: Tuple, param: Any) -> None:
        import torch

        for store in (optimizer.mom1, optimizer.mom2):
            if key not in store:
                store[key] = numpy.zeros((param.numel(),), dtype="float32")
        self.arrays = (optimizer.mom1[key], optimizer.mom2[key])
        self.mom1, self.mom2 = (torch.from_numpy(array).view(param.shape) for array in self.arrays)
        self.average: Any = None
        self.average_array: Any = None
        self.step = torch.tensor(0.0)
        self.step_count = 0

    def valid(self, optimizer: Optimizer, key: Tuple) -> bool:
        return optimizer.mom1.get(key) is self.arrays[0] and optimizer.mom2.get(key) is self.arrays[1]

    def average_of(self, optimizer: Optimizer, key: Tuple, param: Any) -> Any:
        import torch

        if key not in optimizer.averages:
            optimizer.averages[key] = numpy.zeros(tuple(param.shape), dtype="float32")
        if optimizer.averages[key] is not self.average_array:
            self.average_array = optimizer.averages[key]
            self.average = torch.from_numpy(self.average_array).view(param.shape)
        return self.average


# Per shim (as long as it lives), the views of its parameters' optimizer
# state, so that a step does not rebuild a hundred tensor views (0.5 ms of 2.4); a
# view whose arrays are no longer the optimizer's (another optimizer) is
# rebuilt. The views keep the last optimizer's arrays alive with the shim:
# four times the parameters' size, 18 MB for the configs' model.
_VIEWS: "weakref.WeakKeyDictionary[Any, Dict[Tuple, _AdamViews]]" = weakref.WeakKeyDictionary()


def _fused_adam_step(shim: Any, named: List[Tuple[str, Any]], optimizer: Optimizer) -> None:
    """One step of Thinc's Adam on a shim's parameters that have a gradient
    (the parameters of a frozen part have none)."""
    import torch
    from torch.optim.adam import adam

    if not named:
        return
    keys = [(shim.id, name) for name, _ in named]
    params = [p.detach() for _, p in named]
    grads = [p.grad for _, p in named]
    if optimizer.grad_clip:
        # Thinc clips each parameter's gradient by its own norm.
        clip = float(optimizer.grad_clip)
        norms = torch.stack(torch._foreach_norm(grads))
        scales = torch.where(norms >= clip, clip / norms, torch.ones_like(norms))
        torch._foreach_mul_(grads, scales.tolist())
    cache = _VIEWS.setdefault(shim, {})
    views = []
    for key, param in zip(keys, params):
        view = cache.get(key)
        if view is None or not view.valid(optimizer, key):
            view = cache[key] = _AdamViews(optimizer, key, param)
        optimizer.nr_update[key] += 1
        views.append(view)
    learn_rate = float(optimizer.learn_rate)
    # Thinc's Adam kernel holds the betas in float32 (1 - 0.999 is 0.00099999
    # there); so do these, else the second moments differ by 1e-5.
    b1, b2 = float(numpy.float32(optimizer.b1)), float(numpy.float32(optimizer.b2))
    eps = float(optimizer.eps)
    counts = [optimizer.nr_update[key] for key in keys]
    # All parameters share one step count, unless some were frozen a while.
    for t in sorted(set(counts)):
        group = [i for i, count in enumerate(counts) if count == t]
        for i in group:
            if views[i].step_count != t - 1:
                views[i].step.fill_(t - 1)
            # torch adds this step to the count it is given.
            views[i].step_count = t
        group_params = [params[i] for i in group]
        # Thinc divides by sqrt(v) + eps and folds sqrt(1 - b2^t) into the
        # step size; torch divides by sqrt(v) / sqrt(1 - b2^t) + eps: the
        # same update with eps scaled by 1 / sqrt(1 - b2^t).
        adam(
            group_params,
            [grads[i] for i in group],
            [views[i].mom1 for i in group],
            [views[i].mom2 for i in group],
            [],
            [views[i].step for i in group],
            fused=True,
            amsgrad=False,
            beta1=b1,
            beta2=b2,
            lr=learn_rate,
            weight_decay=0.0,
            eps=eps / (1.0 - b2**t) ** 0.5,
            maximize=False,
        )
        if optimizer.L2 != 0:
            torch._foreach_add_(group_params, group_params, alpha=-learn_rate * float(optimizer.L2))
        if optimizer.averages is not None:
            averages = [views[i].average_of(optimizer, keys[i], params[i]) for i in group]
            decay = min((1.0 + t) / (10.0 + t), 0.9999)
            torch._foreach_lerp_(averages, group_params, 1.0 - decay)
    torch._foreach_zero_(grads)
