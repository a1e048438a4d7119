"""Bidirectional LSTM layers with variational dropout over padded batches.
Pure PyTorch.

Two choices keep the fused `nn.LSTM` kernel and stay exact:

* Padding: the backward direction runs a forward LSTM over each sequence
  reversed *within its own length*, so it never reads padding before real
  tokens. Packed sequences give the same result but their backward pass is
  2.7-3x slower on CPU; `tests/test_torch_modules.py` compares the two.
* Recurrent dropout: Gal & Ghahramani drop the hidden state h_{t-1} with one
  mask per sequence, which needs a Python loop over time steps. We instead
  drop *columns of the hidden-to-hidden weights* with one mask per batch
  (zeroing column j of W_hh removes h_{t-1}[j] from every gate at every
  step). It is the same mask at every time step, shared by the sequences of
  a batch: the accepted approximation that keeps the fused kernel.
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
    `recurrent_dropout` masks columns of the hidden-to-hidden weights.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        *,
        input_dropout: float = 0.0,
        output_dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.hidden_size = hidden_size
        self.input_dropout = input_dropout
        self.output_dropout = output_dropout
        self.recurrent_dropout = recurrent_dropout
        self.forward_lstm = nn.LSTM(input_size, hidden_size, batch_first=True)
        self.backward_lstm = nn.LSTM(input_size, hidden_size, batch_first=True)

    def forward(self, x: Tensor, lengths: Tensor, reverse: Tensor) -> Tensor:
        """x (Tensor): (B, T, D) padded input. lengths (Tensor): (B,).
        reverse (Tensor): `reverse_index(lengths, T)`.
        RETURNS (Tensor): (B, T, 2H); values on padding are undefined.
        """
        if self.training:
            mask = sequence_mask(x, self.input_dropout)
            if mask is not None:
                x = x * mask
        index = reverse.unsqueeze(2).expand(-1, -1, x.shape[2])
        fwd = self._run(self.forward_lstm, x)
        bwd = self._run(self.backward_lstm, x.gather(1, index))
        bwd = bwd.gather(1, reverse.unsqueeze(2).expand(-1, -1, self.hidden_size))
        out = torch.cat((fwd, bwd), dim=2)
        if self.training:
            mask = sequence_mask(out, self.output_dropout)
            if mask is not None:
                out = out * mask
        return out

    def _run(self, lstm: nn.LSTM, x: Tensor) -> Tensor:
        if not (self.training and self.recurrent_dropout > 0.0):
            return lstm(x)[0]
        rate = self.recurrent_dropout
        keep = torch.full((self.hidden_size,), 1.0 - rate, device=x.device, dtype=x.dtype)
        columns = torch.bernoulli(keep) / (1.0 - rate)
        weight = lstm.weight_hh_l0 * columns.unsqueeze(0)
        return functional_call(lstm, {"weight_hh_l0": weight}, (x,))[0]
