"""The BiLSTM-CRF of Lample et al. (2016) as used by Saber: a shared encoder
(word vectors + character BiLSTM -> stacked word BiLSTMs) and one CRF head per
label set. Pure PyTorch: no spaCy or Thinc import.
"""
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from torch import Tensor, nn

from .crf import CRFHead, Entity
from .lstm import VariationalBiLSTM, reverse_index


@dataclass
class TokenBatch:
    """Padded tensors for one batch of token windows.

    The encoder reads W windows of at most Tw tokens. The CRF heads read S
    segments of at most Ts tokens, stitched from window states by `gather`
    (None when every segment is exactly one window).

    words (Tensor): (W, Tw) ids into the trainable word embedding.
    vectors (Optional[Tensor]): (W, Tw, Dv) static word vectors, or None.
    known (Optional[Tensor]): (W, Tw) bool, False where a word has no vector.
    unique (Tensor): (W, Tw) index of each token's word in `chars`.
    chars (Tensor): (U, L) character ids of the batch's distinct words.
    char_lengths (Tensor): (U,) word lengths in characters.
    lengths (Tensor): (W,) window lengths.
    gather (Optional[Tensor]): (S, Ts) index into the W * Tw window positions.
    segment_lengths (Tensor): (S,) segment lengths.
    """

    words: Tensor
    vectors: Optional[Tensor]
    known: Optional[Tensor]
    unique: Tensor
    chars: Tensor
    char_lengths: Tensor
    lengths: Tensor
    gather: Optional[Tensor]
    segment_lengths: Tensor


class CharEncoder(nn.Module):
    """Character embeddings -> BiLSTM; a word is the concatenation of the
    last forward and last backward states (2 * hidden_size)."""

    def __init__(self, n_chars: int, embed_size: int, hidden_size: int, **dropout: float) -> None:
        super().__init__()
        self.embed = nn.Embedding(n_chars, embed_size, padding_idx=0)
        self.lstm = VariationalBiLSTM(embed_size, hidden_size, **dropout)

    def forward(self, chars: Tensor, lengths: Tensor) -> Tensor:
        lengths = lengths.clamp(min=1)
        states = self.lstm(self.embed(chars), lengths, reverse_index(lengths, chars.shape[1]))
        hidden = self.lstm.hidden_size
        last = states[torch.arange(chars.shape[0], device=chars.device), lengths - 1, :hidden]
        # The backward half is back in text order, so its final state is at 0.
        return torch.cat((last, states[:, 0, hidden:]), dim=1)


class BiLSTMEncoder(nn.Module):
    """Token representations shared by all heads: (W, Tw, 2 * hidden_size).

    vectors_size (int): Width of static vectors; 0 to use a trainable word
        embedding of `n_words` rows and width `word_size` instead.
    """

    def __init__(
        self,
        *,
        vectors_size: int,
        n_words: int,
        word_size: int,
        n_chars: int,
        char_embed_size: int,
        char_hidden_size: int,
        hidden_size: int,
        depth: int,
        embed_dropout: float,
        input_dropout: float,
        output_dropout: float,
        recurrent_dropout: float,
    ) -> None:
        super().__init__()
        dropout = dict(
            input_dropout=input_dropout,
            output_dropout=output_dropout,
            recurrent_dropout=recurrent_dropout,
        )
        self.vectors_size = vectors_size
        if vectors_size:
            # Words without a vector get this learned vector, not frozen zeros.
            self.unknown_vector = nn.Parameter(torch.zeros(vectors_size))
            word_width = vectors_size
        else:
            self.word_embed = nn.Embedding(n_words, word_size, padding_idx=0)
            word_width = word_size
        self.chars = CharEncoder(n_chars, char_embed_size, char_hidden_size, **dropout)
        self.embed_dropout = nn.Dropout(embed_dropout)
        width = word_width + 2 * char_hidden_size
        layers = []
        for _ in range(depth):
            layers.append(VariationalBiLSTM(width, hidden_size, **dropout))
            width = 2 * hidden_size
        self.layers = nn.ModuleList(layers)
        self.output_size = width

    def forward(self, batch: TokenBatch) -> Tensor:
        if self.vectors_size:
            assert batch.vectors is not None and batch.known is not None
            words = torch.where(batch.known.unsqueeze(2), batch.vectors, self.unknown_vector)
        else:
            words = self.word_embed(batch.words)
        chars = self.chars(batch.chars, batch.char_lengths)[batch.unique]
        x = self.embed_dropout(torch.cat((words, chars), dim=2))
        reverse = reverse_index(batch.lengths, x.shape[1])
        for layer in self.layers:
            x = layer(x, batch.lengths, reverse)
        return x


Decoded = Dict[str, Tuple[Tensor, List[List[Entity]]]]


class BiLSTMCRF(nn.Module):
    """A shared `BiLSTMEncoder` and one `CRFHead` per named label set.

    Called with `tags` it returns the summed negative log-likelihood of one
    head; without, the Viterbi paths and entities of every head (or of
    `head`), so that Thinc's PyTorch shim can drive both through `forward`.
    """

    def __init__(self, heads: Dict[str, Sequence[str]], **encoder_config) -> None:
        super().__init__()
        self.encoder = BiLSTMEncoder(**encoder_config)
        self.heads = nn.ModuleDict(
            {name: CRFHead(self.encoder.output_size, labels) for name, labels in heads.items()}
        )

    def segment_states(self, batch: TokenBatch) -> Tuple[Tensor, Tensor]:
        """Encoder states per segment (S, Ts, H) and the mask of real tokens."""
        states = self.encoder(batch)
        if batch.gather is not None:
            states = states.reshape(-1, states.shape[2])[batch.gather]
        positions = torch.arange(states.shape[1], device=states.device)
        mask = positions.unsqueeze(0) < batch.segment_lengths.unsqueeze(1)
        return states, mask

    def forward(
        self, batch: TokenBatch, head: Optional[str] = None, tags: Optional[Tensor] = None
    ):
        states, mask = self.segment_states(batch)
        if tags is not None:
            if head is None:
                raise ValueError("A head name is needed to compute a loss.")
            return self.heads[head].loss(states, tags, mask)
        names = list(self.heads) if head is None else [head]
        return {name: self.heads[name].decode(states, mask) for name in names}
