"""The one place where Thinc and torch meet: `convert_inputs` and
`convert_outputs` for the `PyTorchWrapper` around the torch `BiLSTMCRF`.

Inputs are `(FeatureBatch, head)`; outputs are a float loss with a backprop
callback (training) or, per head, `(labels, entities)` (prediction).
"""
from typing import Any, Callable, Optional, Tuple

from thinc.api import ArgsKwargs, Model, xp2torch

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
