"""Typed data passed between the featurizer, the Thinc layer and the torch
module. NumPy only (the arrays may be cupy on GPU)."""
from dataclasses import dataclass
from typing import Any, List, NamedTuple, Optional, Sequence, Tuple

import numpy

# Per doc: (start token, end token, label, confidence) of each entity.
DocEntities = List[Tuple[int, int, str, float]]


class Targets(NamedTuple):
    """Gold tag ids (per doc, one per token, BIO ids of `head`'s tag set)."""

    head: str
    tags: Sequence[numpy.ndarray]


@dataclass
class FeatureBatch:
    """Padded arrays for one group of segments, built by
    `features.build_batch` and turned into a torch `TokenBatch` by the bridge
    (`model/bridge.py`). The fields mirror `TokenBatch` (see its shapes).

    words: (W, Tw) ids into the trainable word embedding.
    vectors: (W, Tw, Dv) static vectors, or None without vectors.
    known: (W, Tw) bool, False where a word has no vector; None without vectors.
    unique: (W, Tw) index of each token's word in `chars`.
    chars: (sum of char_lengths,) the character ids of the batch's distinct
        words, concatenated (no padding to the longest word).
    char_lengths: (U,) word lengths in characters.
    lengths: (W,) window lengths.
    segment_lengths: (S,) segment lengths.
    gather: (S, Ts) index into the W * Tw window positions, or None when
        every segment is one window.
    tags: (S, Ts) gold tag ids, or None when predicting.
    word_keys: (U,) int64 key of each distinct word (its ORTH hash), with
        which the char encoder may cache its states at inference.
    """

    words: Any
    vectors: Optional[Any]
    known: Optional[Any]
    unique: Any
    chars: Any
    char_lengths: Any
    lengths: Any
    segment_lengths: Any
    gather: Optional[Any] = None
    tags: Optional[Any] = None
    word_keys: Optional[Any] = None
