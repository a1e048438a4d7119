"""From spaCy Docs to the padded arrays the torch module reads. NumPy only.

Documents are split into segments: their sentences when sentence boundaries
are set, else the whole document. A segment longer than `max_length` is read
by the encoder as overlapping windows; every token is predicted from the
window where it has the most context, and the CRF then decodes the stitched
segment whole, so nothing is truncated and the output is one valid BIO path.
"""
import itertools
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

import numpy
from spacy.attrs import LOWER, ORTH
from spacy.tokens import Doc
from spacy.vectors import Mode
from thinc.api import get_array_module

from .data_classes import FeatureBatch

PAD, UNKNOWN = 0, 1


# How many token strings a lexicon remembers the ids of (see `Lexicon.ids_of`).
ID_CACHE_SIZE = 200_000


class Lexicon:
    """A string-to-id table; id 0 is padding and id 1 stands for unknown."""

    def __init__(self, items: Sequence[str] = ()) -> None:
        self.items: List[str] = list(items)
        self.index: Dict[str, int] = {item: i + 2 for i, item in enumerate(self.items)}
        # Token string hash -> ids, so that featurizing a batch costs a dict
        # lookup per distinct word instead of string work per token.
        self._ids: Dict[Tuple[int, bool], int] = {}
        self._char_ids: Dict[int, List[int]] = {}

    def __len__(self) -> int:
        return len(self.items) + 2

    def get(self, item: str) -> int:
        return self.index.get(item, UNKNOWN)

    def ids_of(self, orths: numpy.ndarray, strings: Any, normalize_digits: bool) -> numpy.ndarray:
        """The id of each token string, given as ORTH hashes, keyed by
        `word_key(text, normalize_digits)`.

        orths (numpy.ndarray): uint64 hashes. strings (StringStore): Their texts.
        RETURNS (numpy.ndarray): int64 ids.
        """
        cache = self._ids
        out = numpy.empty(len(orths), dtype="int64")
        for i, orth in enumerate(orths.tolist()):
            found = cache.get((orth, normalize_digits))
            if found is None:
                found = self.get(word_key(strings[orth], normalize_digits))
                _remember(cache, (orth, normalize_digits), found)
            out[i] = found
        return out

    def char_ids_of(self, orths: numpy.ndarray, strings: Any) -> List[List[int]]:
        """The ids of the characters of each token string (ORTH hashes)."""
        cache = self._char_ids
        out = []
        for orth in orths.tolist():
            found = cache.get(orth)
            if found is None:
                found = [self.get(c) for c in strings[orth]]
                _remember(cache, orth, found)
            out.append(found)
        return out

    @classmethod
    def from_counts(cls, counts: Dict[str, int], min_count: int = 1) -> "Lexicon":
        """Keep the items seen at least `min_count` times, most frequent first."""
        kept = sorted((item for item, n in counts.items() if n >= min_count), key=lambda x: (-counts[x], x))
        return cls(kept)


def _remember(cache: Dict[Any, Any], key: Any, value: Any) -> None:
    # Bounded, so that annotating all of PubMed does not grow it without end.
    if len(cache) >= ID_CACHE_SIZE:
        cache.clear()
    cache[key] = value


@dataclass
class Segment:
    """Tokens [start, end) of docs[doc], and the windows the encoder reads it in:
    (window start, window end, first kept token, end of kept tokens)."""

    doc: int
    start: int
    end: int
    windows: List[Tuple[int, int, int, int]] = field(default_factory=list)

    def __len__(self) -> int:
        return self.end - self.start


def segment_docs(docs: Sequence[Doc], max_length: int, context: int) -> List[Segment]:
    """Split docs into segments (sentences if set) and long segments into windows.

    docs (Sequence[Doc]): The documents; empty ones yield no segment.
    max_length (int): Longest window the encoder reads.
    context (int): Tokens of overlap kept on each side of a window's core.
    RETURNS (List[Segment]): The segments in document order.
    """
    stride = max(1, max_length - 2 * context)
    segments = []
    for i, doc in enumerate(docs):
        if not len(doc):
            continue
        if doc.has_annotation("SENT_START"):
            bounds = [(sent.start, sent.end) for sent in doc.sents]
        else:
            bounds = [(0, len(doc))]
        for start, end in bounds:
            segment = Segment(i, start, end)
            if end - start <= max_length:
                segment.windows.append((start, end, start, end))
            else:
                for core in range(start, end, stride):
                    core_end = min(core + stride, end)
                    segment.windows.append(
                        (max(start, core - context), min(end, core_end + context), core, core_end)
                    )
            segments.append(segment)
    return segments


def group_segments(segments: List[Segment], batch_tokens: int) -> Iterator[List[Segment]]:
    """Groups of segments of similar length, so that little time goes to
    padding; each group holds at most about `batch_tokens` padded tokens."""
    ordered = sorted(segments, key=len)
    group: List[Segment] = []
    width = n_windows = 0
    for segment in ordered:
        longest = max(width, max(w[1] - w[0] for w in segment.windows))
        if group and (n_windows + len(segment.windows)) * longest > batch_tokens:
            yield group
            group, width, n_windows = [], 0, 0
            longest = max(w[1] - w[0] for w in segment.windows)
        group.append(segment)
        width, n_windows = longest, n_windows + len(segment.windows)
    if group:
        yield group


def vector_rows(vectors: Any, orths: numpy.ndarray, lowers: numpy.ndarray) -> numpy.ndarray:
    """Row of each word in the vectors table, trying the exact form first and
    the lowercase form second; -1 where neither has a vector.

    vectors (Vectors): The vocab's vectors (spaCy's default mode).
    orths, lowers (numpy.ndarray): ORTH and LOWER hashes of the words.
    """
    if vectors.mode != Mode.default:
        raise ValueError(
            f"bilstm_crf_ner reads static vectors in spaCy's default mode only; "
            f"the vectors table is in mode '{vectors.mode}'."
        )
    rows = vectors.find(keys=orths)
    missing = rows < 0
    if missing.any():
        rows[missing] = vectors.find(keys=lowers[missing])
    return rows


_DIGITS = str.maketrans("123456789", "000000000")


def word_key(text: str, normalize_digits: bool = False) -> str:
    """The form a trainable word embedding is keyed by: lowercase, and with
    `normalize_digits` every digit replaced by 0."""
    key = text.lower()
    return key.translate(_DIGITS) if normalize_digits else key


def build_batch(
    docs: Sequence[Doc],
    segments: List[Segment],
    *,
    words: Lexicon,
    chars: Lexicon,
    vectors_table: Optional[Any] = None,
    tags: Optional[Sequence[numpy.ndarray]] = None,
    normalize_digits: bool = False,
) -> FeatureBatch:
    """Padded arrays for one group of segments, with `tags` (S, Ts) when
    gold tag ids per doc are given.

    vectors_table: The vocab's vectors (numpy or cupy), or None when the
        model has none; rows are looked up here, per batch.
    normalize_digits: How `words` is keyed (see `word_key`).
    """
    vocab = docs[segments[0].doc].vocab
    strings = vocab.strings
    use_vectors = vectors_table is not None
    windows = [(seg.doc, w) for seg in segments for w in seg.windows]
    width = max(w[1] - w[0] for _, w in windows)
    n = len(windows)
    # ORTH, and LOWER for the vectors' second try, in one array per doc.
    attrs = [ORTH, LOWER] if use_vectors else [ORTH]
    hashes = numpy.zeros((len(attrs), n, width), dtype="uint64")
    lengths = numpy.zeros((n,), dtype="int64")
    doc_hashes: Dict[int, numpy.ndarray] = {}
    for r, (d, (start, end, _, _)) in enumerate(windows):
        if d not in doc_hashes:
            doc_hashes[d] = docs[d].to_array(attrs).reshape(-1, len(attrs)).T
        lengths[r] = end - start
        hashes[:, r, : end - start] = doc_hashes[d][:, start:end]
    # Everything per token is done on arrays; Python only looks at each
    # distinct word of the batch once (and then only on a cache miss).
    real = numpy.arange(width)[None, :] < lengths[:, None]
    distinct, first, inverse = numpy.unique(hashes[0][real], return_index=True, return_inverse=True)
    unique_ids = numpy.zeros((n, width), dtype="int64")
    unique_ids[real] = inverse
    word_ids = numpy.zeros((n, width), dtype="int64")
    word_ids[real] = words.ids_of(distinct, strings, normalize_digits)[inverse]
    per_word = chars.char_ids_of(distinct, strings)
    char_lengths = numpy.array([len(ids) for ids in per_word], dtype="int64")
    # Concatenated, not padded: the char encoder pads words in groups of
    # similar length, so that one 3,000-character token does not widen the
    # matrix of every other word in the batch.
    char_ids = numpy.fromiter(itertools.chain.from_iterable(per_word), dtype="int64",
                              count=int(char_lengths.sum()))
    rows = None
    if use_vectors:
        # Looked up once per distinct word (LOWER is a property of the word).
        rows = numpy.full((n, width), -1, dtype="int64")
        rows[real] = vector_rows(vocab.vectors, distinct, hashes[1][real][first])[inverse]
    vectors = known = None
    if rows is not None:
        xp = get_array_module(vectors_table)
        # Fancy indexing copies already: no second copy when it is float32.
        vectors = vectors_table[xp.asarray(numpy.maximum(rows, 0))].astype("float32", copy=False)
        known = rows >= 0
    batch = FeatureBatch(
        words=word_ids,
        vectors=vectors,
        known=known,
        unique=unique_ids,
        chars=char_ids,
        char_lengths=char_lengths,
        lengths=lengths,
        segment_lengths=numpy.array([len(s) for s in segments], dtype="int64"),
        # Same bits, signed: torch has no uint64.
        word_keys=distinct.view("int64"),
    )
    if any(len(seg.windows) > 1 for seg in segments):
        batch.gather = _stitch_index(segments, width)
    if tags is not None:
        gold = numpy.zeros((len(segments), max(len(s) for s in segments)), dtype="int64")
        for i, seg in enumerate(segments):
            gold[i, : len(seg)] = tags[seg.doc][seg.start : seg.end]
        batch.tags = gold
    return batch


def _stitch_index(segments: List[Segment], width: int) -> numpy.ndarray:
    """For each segment position, its flat position among the window states:
    the token is read from the window whose core contains it."""
    index = numpy.zeros((len(segments), max(len(s) for s in segments)), dtype="int64")
    row = 0
    for i, seg in enumerate(segments):
        for start, _, core, core_end in seg.windows:
            positions = numpy.arange(core, core_end)
            index[i, positions - seg.start] = row * width + (positions - start)
            row += 1
    return index


def count_vocab(docs: Iterable[Doc]) -> Tuple[Dict[str, int], Dict[str, int]]:
    """Counts of token texts and of characters in training docs (the layer
    keys the texts with `word_key` when it builds its lexicon)."""
    words: Dict[str, int] = {}
    chars: Dict[str, int] = {}
    for doc in docs:
        for token in doc:
            words[token.text] = words.get(token.text, 0) + 1
            for c in token.text:
                chars[c] = chars.get(c, 0) + 1
    return words, chars
