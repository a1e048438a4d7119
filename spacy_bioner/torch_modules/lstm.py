"""Bidirectional LSTM layers with variational dropout over padded batches.
Pure PyTorch.

Two choices keep the fused `nn.LSTM` kernel and stay exact:

* Padding: the backward direction runs a forward LSTM over each sequence
  reversed *within its own length*, so it never reads padding before real
  tokens. Packed sequences give the same result but their backward pass is
  2.7-3x slower on CPU; `tests/test_torch_modules.py` compares the two.
* Recurrent dropout: Gal & Ghahramani drop the hidden state h_{t-1} with one
  mask per sequence, which needs a Python loop over time steps. By default
  (`recurrent_mode="weights"`) we instead drop *columns of the
  hidden-to-hidden weights* with one mask per batch (zeroing column j of
  W_hh removes h_{t-1}[j] from every gate at every step). It is the same
  mask at every time step, shared by the sequences of a batch: the accepted
  approximation that keeps the fused kernel. `recurrent_mode="exact"` runs
  the loop with one mask per sequence, to measure what the approximation
  costs (docs/recipe.md); it is used in training only.
* Layout: the layers run time-major (T, B, D), the layout the LSTM kernel
  works in. A batch-first `nn.LSTM` transposes its input and output at every
  call, so a BiLSTM layer copied its activations four times more than it
  needs to (issue #16). The encoders transpose once on the way in and once
  on the way out of the whole stack.
"""
from typing import Optional

import torch
from torch import Tensor, nn
from torch.func import functional_call


def reverse_index(lengths: Tensor, max_length: int) -> Tensor:
    """An index that reverses each row within its length and leaves the
    padding in place. It is its own inverse.

    lengths (Tensor): (B,) sequence lengths.
    max_length (int): Padded length T.
    RETURNS (Tensor): (B, T) long index for `gather` along dim 1.
    """
    positions = torch.arange(max_length, device=lengths.device).unsqueeze(0)
    flipped = lengths.unsqueeze(1) - 1 - positions
    return torch.where(flipped >= 0, flipped, positions)


def reverse_rows(x: Tensor, reverse: Tensor) -> Tensor:
    """`x` (B, T, D) with each row reversed within its length by `reverse`
    (`reverse_index`). Rows of the flattened (B * T, D) matrix are copied
    with `index_select`: the same values as `gather` along dim 1 with the
    index expanded to D, but one contiguous row copy per position instead of
    an index read per element (gathers were a tenth of inference time).
    """
    batch, length = reverse.shape
    offsets = torch.arange(batch, device=reverse.device).unsqueeze(1) * length
    flat = (reverse + offsets).reshape(-1)
    return x.reshape(batch * length, x.shape[2]).index_select(0, flat).view(batch, length, x.shape[2])


def time_major_reverse(reverse: Tensor) -> Tensor:
    """The flat row index that reverses a time-major (T, B, D) tensor's
    sequences within their lengths: for position (t, b), the row of
    (reverse[b, t], b) in the (T * B, D) matrix. Its own inverse.

    reverse (Tensor): (B, T) `reverse_index`.
    RETURNS (Tensor): (T * B,) long index for `index_select`.
    """
    batch = reverse.shape[0]
    return (reverse.t() * batch + torch.arange(batch, device=reverse.device)).reshape(-1)


def reverse_time_major(x: Tensor, flat: Tensor) -> Tensor:
    """`x` (T, B, D) reversed within lengths by `time_major_reverse`'s index."""
    rows = x.reshape(-1, x.shape[2])
    if x.element_size() == 2 and x.shape[2] % 2 == 0 and x.is_contiguous() and not x.requires_grad:
        # bfloat16 rows moved as int32 pairs: the same bytes, but
        # index_select copies 4-byte elements about twice as fast. Only
        # without autograd: a view as int32 is not differentiable, so in
        # mixed-precision training it would cut the backward LSTM's gradient.
        return rows.view(torch.int32).index_select(0, flat).view(x.dtype).view(x.shape)
    return rows.index_select(0, flat).view(x.shape)


class _BatchFirstGrad(torch.autograd.Function):
    """Identity whose backward makes the gradient contiguous."""

    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:  # type: ignore[override]
        return x

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:  # type: ignore[override]
        return grad.contiguous()


def to_time_major(x: Tensor) -> Tensor:
    """A batch-first (B, T, D) tensor copied time-major (T, B, D).

    In training, the gradient flowing back is made batch-first contiguous
    again, as the batch-first LSTMs gave it: the embedding and indexing
    backward ops sum repeated words' gradients in memory order, so a
    transposed gradient would sum them in another order (other last bits).
    """
    if torch.is_grad_enabled() and x.requires_grad:
        x = _BatchFirstGrad.apply(x)
    return x.transpose(0, 1).contiguous()


def dropout(x: Tensor, rate: float) -> Tensor:
    """Ordinary (element-wise) dropout, scaled by 1 / (1 - rate).

    The mask is drawn with `torch.rand` rather than `nn.Dropout`'s
    `bernoulli_`, which draws one element at a time on CPU: on the
    embeddings of a training batch it was 4% of a step, this is 2.5x faster.
    The same distribution, other draws for a given seed (issue #16).
    """
    if rate <= 0.0:
        return x
    if rate >= 1.0:
        return x * 0.0
    keep = torch.rand(x.shape, device=x.device, dtype=x.dtype).ge_(rate)
    return x * keep.mul_(1.0 / (1.0 - rate))


def sequence_mask(x: Tensor, rate: float) -> Optional[Tensor]:
    """A dropout mask shared by all time steps of each sequence: (B, 1, D),
    scaled by 1 / (1 - rate). None when no dropout applies."""
    if rate <= 0.0:
        return None
    keep = torch.full((x.shape[0], 1, x.shape[2]), 1.0 - rate, device=x.device, dtype=x.dtype)
    return torch.bernoulli(keep) / (1.0 - rate)


class VariationalBiLSTM(nn.Module):
    """One BiLSTM layer: `hidden_size` units per direction, outputs (B, T, 2H).

    Dropout rates (active only in training): `input_dropout` and
    `output_dropout` use one mask per sequence, the same at every time step;
    `recurrent_dropout` masks columns of the hidden-to-hidden weights
    (`recurrent_mode="weights"`) or h_{t-1} per sequence (`"exact"`).
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        *,
        input_dropout: float = 0.0,
        output_dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        recurrent_mode: str = "weights",
    ) -> None:
        super().__init__()
        if recurrent_mode not in ("weights", "exact"):
            raise ValueError(f"recurrent_mode must be 'weights' or 'exact', not {recurrent_mode!r}")
        self.recurrent_mode = recurrent_mode
        self.hidden_size = hidden_size
        self.input_dropout = input_dropout
        self.output_dropout = output_dropout
        self.recurrent_dropout = recurrent_dropout
        self.forward_lstm = nn.LSTM(input_size, hidden_size)
        self.backward_lstm = nn.LSTM(input_size, hidden_size)

    def forward(self, x: Tensor, lengths: Tensor, reverse: Tensor) -> Tensor:
        """x (Tensor): (B, T, D) padded input. lengths (Tensor): (B,).
        reverse (Tensor): `reverse_index(lengths, T)`.
        RETURNS (Tensor): (B, T, 2H); values on padding are undefined.
        """
        flat = time_major_reverse(reverse)
        return self.time_major(x.transpose(0, 1).contiguous(), flat).transpose(0, 1)

    def time_major(self, x: Tensor, reverse: Tensor) -> Tensor:
        """`forward` in the time-major layout, what the encoders call.

        x (Tensor): (T, B, D) contiguous padded input.
        reverse (Tensor): `time_major_reverse(reverse_index(lengths, T))`.
        RETURNS (Tensor): (T, B, 2H) contiguous; padding values undefined.
        """
        if self.training:
            x = _apply_sequence_mask(x, self.input_dropout)
        fwd = self._run(self.forward_lstm, x)
        bwd = reverse_time_major(self._run(self.backward_lstm, reverse_time_major(x, reverse)), reverse)
        out = torch.cat((fwd, bwd), dim=2)
        if self.training:
            out = _apply_sequence_mask(out, self.output_dropout)
        return out

    def _run(self, lstm: nn.LSTM, x: Tensor) -> Tensor:
        if not (self.training and self.recurrent_dropout > 0.0):
            return lstm(x)[0]
        rate = self.recurrent_dropout
        if self.recurrent_mode == "exact":
            keep = torch.full((x.shape[1], self.hidden_size), 1.0 - rate, device=x.device, dtype=x.dtype)
            return lstm_loop(lstm, x, torch.bernoulli(keep) / (1.0 - rate))
        keep = torch.full((self.hidden_size,), 1.0 - rate, device=x.device, dtype=x.dtype)
        columns = torch.bernoulli(keep) / (1.0 - rate)
        weight = lstm.weight_hh_l0 * columns.unsqueeze(0)
        return functional_call(lstm, {"weight_hh_l0": weight}, (x,))[0]


def _apply_sequence_mask(x: Tensor, rate: float) -> Tensor:
    """`x` (T, B, D) times a `sequence_mask`. The mask is drawn in the
    batch-first shape (B, 1, D), so the same seed gives the same masks as the
    batch-first layers did."""
    mask = sequence_mask(x.transpose(0, 1), rate)
    return x if mask is None else x * mask.transpose(0, 1)


def lstm_loop(lstm: nn.LSTM, x: Tensor, h_mask: Optional[Tensor] = None) -> Tensor:
    """A one-layer `nn.LSTM` run step by step, with `h_mask` (B, H)
    multiplied into h_{t-1} at every step: Gal & Ghahramani's exact recurrent
    dropout. Without a mask it equals `lstm(x)[0]`.

    lstm (nn.LSTM): Its weights are used (gate order i, f, g, o).
    x (Tensor): (T, B, D) input, or (B, T, D) if `lstm.batch_first`.
    h_mask (Optional[Tensor]): (B, H) mask on the recurrent state.
    RETURNS (Tensor): (T, B, H) hidden states ((B, T, H) if batch-first).
    """
    if lstm.batch_first:
        return lstm_loop_time_major(lstm, x.transpose(0, 1), h_mask).transpose(0, 1)
    return lstm_loop_time_major(lstm, x, h_mask)


def lstm_loop_time_major(lstm: nn.LSTM, x: Tensor, h_mask: Optional[Tensor]) -> Tensor:
    steps, batch, _ = x.shape
    hidden = lstm.hidden_size
    # The input projection of every step at once; only h @ W_hh is sequential.
    gates_x = torch.nn.functional.linear(x, lstm.weight_ih_l0, lstm.bias_ih_l0 + lstm.bias_hh_l0)
    h = x.new_zeros((batch, hidden))
    c = x.new_zeros((batch, hidden))
    outputs = []
    for t in range(steps):
        h_in = h if h_mask is None else h * h_mask
        gates = gates_x[t] + h_in @ lstm.weight_hh_l0.t()
        i, f, g, o = gates.chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        outputs.append(h)
    return torch.stack(outputs, dim=0) if outputs else x.new_zeros((0, batch, hidden))
