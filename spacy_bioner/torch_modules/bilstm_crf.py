"""The BiLSTM-CRF of Lample et al. (2016) as used by Saber: a shared encoder
(word vectors + character BiLSTM -> stacked word BiLSTMs) and one CRF head per
label set. Pure PyTorch: no spaCy or Thinc import.
"""
from dataclasses import dataclass
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import torch
from torch import Tensor, nn

from .crf import CRFHead, Entity
from .lstm import VariationalBiLSTM, dropout, reverse_index, time_major_reverse, to_time_major


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
    chars (Tensor): (sum of char_lengths,) character ids of the batch's
        distinct words, concatenated.
    char_lengths (Tensor): (U,) word lengths in characters.
    lengths (Tensor): (W,) window lengths.
    gather (Optional[Tensor]): (S, Ts) index into the W * Tw window positions.
    segment_lengths (Tensor): (S,) segment lengths.
    word_keys (Optional[Tensor]): (U,) int64 key of each distinct word (the
        same string, the same key), for the char encoder's inference cache.
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
    word_keys: Optional[Tensor] = None


# Default size of the char encoder's inference cache (word strings); 0: off.
# Off by default: a cached state was computed in another batch of words,
# and the LSTM kernel rounds differently for other batch shapes, so outputs
# match an uncached run only to float rounding (on a 1,440-token segment a
# confidence moved by 3e-4), not bit for bit. Set `cache_size` to opt in.
CHAR_CACHE_SIZE = 0


class CharEncoder(nn.Module):
    """Character embeddings -> BiLSTM; a word is the concatenation of the
    last forward and last backward states (2 * hidden_size)."""

    def __init__(self, n_chars: int, embed_size: int, hidden_size: int, **dropout: float) -> None:
        super().__init__()
        self.embed = nn.Embedding(n_chars, embed_size, padding_idx=0)
        self.lstm = VariationalBiLSTM(embed_size, hidden_size, **dropout)
        # Word strings whose states are kept between prediction batches (0:
        # no cache); about 200 bytes each at 25 units.
        self.cache_size = CHAR_CACHE_SIZE
        self._cache_params: Optional[List[Tensor]] = None
        self._cache_rows: Dict[int, int] = {}
        self._cache_table: Optional[Tensor] = None

    def forward(self, chars: Tensor, lengths: Tensor, keys: Optional[Tensor] = None) -> Tensor:
        """Word states (U, 2 * hidden_size) from concatenated character ids.

        Words are padded in groups whose longest word is at most twice the
        shortest (plus a little), so padding costs at most about half of the
        work whatever the longest word in the batch.

        keys (Optional[Tensor]): (U,) a key per word string. When predicting
            (eval and inference mode) with `cache_size > 0`, the states of
            words seen in earlier batches are taken from a cache.
        """
        n_words = lengths.shape[0]
        out = self.embed.weight.new_zeros((n_words, 2 * self.lstm.hidden_size))
        if n_words == 0:
            return out
        # Always float32: at 25 units its LSTM is slower in bfloat16 (the
        # casts cost more than the small matrix products save).
        with torch.autocast(chars.device.type, enabled=False):
            # Only in inference mode: the cache's tensors are inference
            # tensors, which may not be written outside it.
            if keys is None or self.training or not torch.is_inference_mode_enabled() or not self.cache_size:
                return self._encode(chars, lengths, out)
            return self._encode_cached(chars, lengths, keys, out)

    def clear_cache(self) -> None:
        """Forget the cached word states (benchmarks start cold with it)."""
        self._cache_params = None
        self._cache_rows = {}
        self._cache_table = None

    def _encode_cached(self, chars: Tensor, lengths: Tensor, keys: Tensor, out: Tensor) -> Tensor:
        """`_encode` for the words not in the cache; the others are copied.
        A word's state depends only on its characters and the weights (up to
        the kernel's rounding, see CHAR_CACHE_SIZE), and the cache is emptied
        whenever the weights differ from those it was filled with (compared
        exactly)."""
        params = [p.detach() for p in self.parameters()]
        cached = self._cache_params
        if cached is None or not all(a.device == b.device and torch.equal(a, b) for a, b in zip(params, cached)):
            self._cache_params = [p.clone() for p in params]
            self._cache_rows = {}
            self._cache_table = out.new_empty((0, out.shape[1]))
        rows = self._cache_rows
        found = [rows.get(key, -1) for key in keys.tolist()]
        index = torch.tensor(found, dtype=torch.long, device=out.device)
        hit = index >= 0
        if bool(hit.any()):
            out[hit] = self._cache_table[index[hit]]
        missing = (~hit).nonzero().squeeze(1)
        if missing.numel():
            # The characters of the missing words, concatenated as `chars` is.
            starts = (lengths.cumsum(0) - lengths)[missing]
            sub_lengths = lengths[missing]
            sub_starts = sub_lengths.cumsum(0) - sub_lengths
            total = int(sub_lengths.sum())
            char_index = torch.arange(total, device=chars.device) + torch.repeat_interleave(starts - sub_starts, sub_lengths)
            states = self._encode(chars[char_index], sub_lengths, out.new_zeros((missing.numel(), out.shape[1])))
            out[missing] = states
            self._remember(keys[missing].tolist(), states)
        return out

    def _remember(self, keys: List[int], states: Tensor) -> None:
        n = len(keys)
        if n > self.cache_size:
            return
        rows = self._cache_rows
        if len(rows) + n > self.cache_size:
            rows.clear()
        start, table = len(rows), self._cache_table
        assert table is not None
        if start + n > table.shape[0]:
            # Capacity doubles, so that rows are not all copied per batch.
            size = min(self.cache_size, max(2 * table.shape[0], start + n, 1024))
            grown = states.new_empty((size, states.shape[1]))
            grown[:start] = table[:start]
            self._cache_table = table = grown
        table[start : start + n] = states
        for i, key in enumerate(keys):
            rows[key] = start + i

    def _encode(self, chars: Tensor, lengths: Tensor, out: Tensor) -> Tensor:
        n_words = lengths.shape[0]
        offsets = lengths.cumsum(0) - lengths
        order = torch.argsort(lengths, stable=True)
        sorted_lengths = lengths[order].tolist()
        begin = 0
        while begin < n_words:
            limit = 2 * max(1, sorted_lengths[begin]) + 8
            stop = begin
            while stop < n_words and sorted_lengths[stop] <= limit:
                stop += 1
            rows = order[begin:stop]
            # (.to: under bfloat16 autocast the LSTM returns bfloat16.)
            out[rows] = self._encode_padded(chars, offsets[rows], lengths[rows]).to(out.dtype)
            begin = stop
        return out

    def _encode_padded(self, chars: Tensor, offsets: Tensor, lengths: Tensor) -> Tensor:
        width = max(1, int(lengths.max()))
        steps = torch.arange(width, device=chars.device)
        real = steps.unsqueeze(0) < lengths.unsqueeze(1)
        flat = (offsets.unsqueeze(1) + steps).clamp(max=max(0, chars.shape[0] - 1))
        padded = torch.where(real, chars[flat] if chars.numel() else torch.zeros_like(flat), 0)
        lengths = lengths.clamp(min=1)
        # Embedded batch-first, then copied time-major: embedding the
        # transposed ids would be one copy less, but its backward would sum
        # each character's gradient in another order (not the same bits).
        embedded = to_time_major(self.embed(padded))
        states = self.lstm.time_major(embedded, time_major_reverse(reverse_index(lengths, width)))
        hidden = self.lstm.hidden_size
        last = states[lengths - 1, torch.arange(padded.shape[0], device=chars.device), :hidden]
        # The backward half is back in text order, so its final state is at 0.
        return torch.cat((last, states[0, :, hidden:]), dim=1)


class BiLSTMEncoder(nn.Module):
    """Token representations shared by all heads: (W, Tw, 2 * hidden_size).

    vectors_size (int): Width of static vectors; 0 to use a trainable word
        embedding of `n_words` rows and width `word_size` instead.
    trainable_words (bool): With static vectors, also concatenate a trainable
        word embedding (`n_words` rows of width `word_size`), so that words
        whose frozen vector is poor or missing can still be learned.
    word_dropout (float): In training, the probability that a token's word
        vector and word embedding are replaced by the unknown word's, so that
        the unknown-word representation is trained on every corpus and the
        model learns to tag from characters and context (Lample et al.
        replace singletons; this drops any word).
    recurrent_mode (str): "weights" or "exact" (see `VariationalBiLSTM`).
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
        trainable_words: bool = False,
        word_dropout: float = 0.0,
        recurrent_mode: str = "weights",
    ) -> None:
        super().__init__()
        dropout = dict(
            input_dropout=input_dropout,
            output_dropout=output_dropout,
            recurrent_dropout=recurrent_dropout,
            recurrent_mode=recurrent_mode,
        )
        self.vectors_size = vectors_size
        self.word_dropout = word_dropout
        word_width = 0
        if vectors_size:
            # Words without a vector get this learned vector, not frozen zeros.
            self.unknown_vector = nn.Parameter(torch.zeros(vectors_size))
            word_width += vectors_size
        self.has_word_embed = not vectors_size or trainable_words
        if self.has_word_embed:
            self.word_embed = nn.Embedding(n_words, word_size, padding_idx=0)
            word_width += word_size
        self.chars = CharEncoder(n_chars, char_embed_size, char_hidden_size, **dropout)
        self.embed_dropout = embed_dropout
        width = word_width + 2 * char_hidden_size
        layers = []
        for _ in range(depth):
            layers.append(VariationalBiLSTM(width, hidden_size, **dropout))
            width = 2 * hidden_size
        self.layers = nn.ModuleList(layers)
        self.output_size = width

    def forward(self, batch: TokenBatch) -> Tensor:
        char_states = self.chars(batch.chars, batch.char_lengths, batch.word_keys)
        return self.encode_rows(batch, char_states, 0, batch.words.shape[0])

    def chunks(self, batch: TokenBatch, max_tokens: int) -> Iterator[Tensor]:
        """The states of the batch's windows, a few windows at a time (at most
        about `max_tokens` padded tokens), so that inference over a very long
        segment never holds all its window states at once."""
        char_states = self.chars(batch.chars, batch.char_lengths, batch.word_keys)
        n_rows, width = batch.words.shape
        step = max(1, max_tokens // max(1, width))
        for begin in range(0, n_rows, step):
            yield self.encode_rows(batch, char_states, begin, min(n_rows, begin + step))

    def encode_rows(self, batch: TokenBatch, char_states: Tensor, begin: int, end: int) -> Tensor:
        """States (end - begin, Tw, H) of windows [begin, end)."""
        word_ids = batch.words[begin:end]
        dropped = None
        if self.training and self.word_dropout > 0.0:
            dropped = torch.rand(word_ids.shape, device=word_ids.device) < self.word_dropout
        parts = []
        if self.vectors_size:
            assert batch.vectors is not None and batch.known is not None
            known = batch.known[begin:end]
            if dropped is not None:
                known = known & ~dropped
            parts.append(torch.where(known.unsqueeze(2), batch.vectors[begin:end], self.unknown_vector))
        if self.has_word_embed:
            if dropped is not None:
                # Padding (id 0) stays padding; real words become UNKNOWN (1).
                word_ids = torch.where(dropped & (word_ids > 0), torch.ones_like(word_ids), word_ids)
            parts.append(self.word_embed(word_ids))
        parts.append(char_states[batch.unique[begin:end]])
        x = torch.cat(parts, dim=2)
        if self.training:
            x = dropout(x, self.embed_dropout)
        # One copy into the LSTMs' time-major layout for the whole stack.
        x = to_time_major(x)
        reverse = time_major_reverse(reverse_index(batch.lengths[begin:end], x.shape[0]))
        for layer in self.layers:
            x = layer.time_major(x, reverse)
        # Batch-first again for the heads (a linear layer over a transposed
        # view would copy it anyway, and sum its bias gradient in another order).
        return x.transpose(0, 1).contiguous()


# Window positions the encoder reads at once when predicting (see
# `BiLSTMCRF.segment_emissions`).
INFER_TOKENS = 8192

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
        # None: predict in the parameters' dtype. torch.bfloat16: run the
        # LSTMs and linear layers in bfloat16 when predicting (autocast),
        # which CPUs with AMX or AVX512-BF16 do about 3x faster; the CRF
        # still decodes float32 scores. A runtime choice, not saved.
        self.inference_dtype: Optional[torch.dtype] = None
        # None: train in float32. torch.bfloat16: mixed precision, the
        # forward and backward of the word LSTMs and linear layers in
        # bfloat16 (autocast) while the parameters, the optimizer, the char
        # BiLSTM and the CRF's log-likelihood stay float32. Set from the
        # architecture's `train_precision`.
        self.train_dtype: Optional[torch.dtype] = None

    def segment_states(self, batch: TokenBatch) -> Tuple[Tensor, Tensor]:
        """Encoder states per segment (S, Ts, H) and the mask of real tokens."""
        states = self.encoder(batch)
        if batch.gather is not None:
            states = states.reshape(-1, states.shape[2])[batch.gather]
        positions = torch.arange(states.shape[1], device=states.device)
        mask = positions.unsqueeze(0) < batch.segment_lengths.unsqueeze(1)
        return states, mask

    def segment_emissions(self, batch: TokenBatch, names: Sequence[str]) -> Tuple[Dict[str, Tensor], Tensor]:
        """Emission scores per segment (S, Ts, K) of each named head, and the
        mask of real tokens. The encoder runs over at most INFER_TOKENS window
        positions at a time and only K scores per token are kept, so memory
        beyond the batch's inputs is a few floats per token."""
        n_rows, width = batch.words.shape
        # Allocated once, before the loop: small results kept from every chunk
        # would sit between the chunks' large freed buffers and keep the
        # process's heap from shrinking (memory growing with the document).
        per_window = {
            name: self.heads[name].output.weight.new_empty((n_rows, width, self.heads[name].output.out_features))
            for name in names
        }
        begin = 0
        for states in self.encoder.chunks(batch, INFER_TOKENS):
            for name in names:
                per_window[name][begin : begin + states.shape[0]] = self.heads[name].emissions(states)
            begin += states.shape[0]
        emissions = {}
        for name in names:
            scores = per_window[name]
            if batch.gather is not None:
                scores = scores.reshape(-1, scores.shape[2])[batch.gather]
            emissions[name] = scores
        positions = torch.arange(next(iter(emissions.values())).shape[1], device=batch.lengths.device)
        mask = positions.unsqueeze(0) < batch.segment_lengths.unsqueeze(1)
        return emissions, mask

    def forward(
        self, batch: TokenBatch, head: Optional[str] = None, tags: Optional[Tensor] = None
    ):
        if tags is not None:
            if head is None:
                raise ValueError("A head name is needed to compute a loss.")
            low = self.train_dtype
            with torch.autocast(batch.words.device.type, dtype=low, enabled=low is not None):
                states, mask = self.segment_states(batch)
                emissions = self.heads[head].emissions(states)
            return self.heads[head].nll(emissions.float(), tags, mask)
        names = list(self.heads) if head is None else [head]
        # Prediction runs under no_grad (Thinc's shim); inference mode also
        # skips autograd's version counters and view tracking on every op.
        low = self.inference_dtype
        with torch.inference_mode(not torch.is_grad_enabled()):
            with torch.autocast(batch.words.device.type, dtype=low, enabled=low is not None):
                # Scores land in float32 buffers (see `segment_emissions`).
                emissions, mask = self.segment_emissions(batch, names)
            return {name: self.heads[name].decode_emissions(emissions[name], mask) for name in names}
