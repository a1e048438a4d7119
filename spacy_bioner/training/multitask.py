"""Multi-corpus training through `spacy train`: a reader that marks every
example with its head, and a batcher that yields single-corpus batches.

    [corpora.train]
    @readers = "spacy-bioner.MultiCorpus.v1"

    [corpora.train.corpora.ncbi]
    path = ${paths.train}

    [corpora.train.corpora.bc5cdr]
    path = ${paths.partner}
    label_map = "default"

    [training.batcher]
    @batchers = "spacy-bioner.batch_by_corpus.v1"
    size = 32
    schedule = "round_robin"

Each training step then takes one batch of one corpus and updates the shared
encoder and that corpus's head (Wang et al. 2018), with one optimizer.
"""
import random
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional

import spacy
from spacy.language import Language
from spacy.training.batchers import minibatch_by_padded_size
from spacy.training import Example

from ..pipeline.bilstm_crf_ner import HEAD_KEY
from .readers import TsvCorpus

SCHEDULES = ("round_robin", "proportional")
CORPUS_KEYS = {"path", "label_map", "keep_labels", "scheme", "per", "limit"}


def head_of(example: Example) -> Optional[str]:
    """The head an example was marked with by `MultiCorpus` (None if unmarked)."""
    return example.reference.user_data.get(HEAD_KEY)


@spacy.registry.readers("spacy-bioner.MultiCorpus.v1")
def create_multi_corpus(corpora: Dict[str, Dict[str, Any]], shuffle: bool = False) -> Callable[[Language], Iterator[Example]]:
    """Create a reader of several corpora, one per head.

    corpora (Dict[str, Dict[str, Any]]): Head name -> settings of a
        `spacy-bioner.TsvCorpus.v1`: `path` (required), and optionally
        `label_map`, `keep_labels`, `scheme`, `per`, `limit`.
    shuffle (bool): Shuffle each corpus's examples on every pass.
    RETURNS (Callable[[Language], Iterator[Example]]): The reader.
    """
    return MultiCorpus(corpora, shuffle=shuffle)


class MultiCorpus:
    """Yield the examples of several corpora, each marked with its head in
    `example.reference.user_data["spacy_bioner_head"]`. The corpora are read
    one after another from disk on every call, so memory stays flat; the
    batcher (or spaCy's epoch shuffle) mixes them."""

    def __init__(self, corpora: Dict[str, Dict[str, Any]], *, shuffle: bool = False) -> None:
        if not corpora:
            raise ValueError("spacy-bioner.MultiCorpus.v1 needs at least one corpus.")
        self.readers: Dict[str, TsvCorpus] = {}
        for head, settings in corpora.items():
            settings = dict(settings)
            unknown = set(settings) - CORPUS_KEYS
            if unknown:
                raise ValueError(f"Corpus '{head}': unknown setting(s) {sorted(unknown)}; use {sorted(CORPUS_KEYS)}.")
            if settings.get("path") is None:
                raise ValueError(f"Corpus '{head}' of spacy-bioner.MultiCorpus.v1 needs a path.")
            self.readers[head] = TsvCorpus(Path(settings.pop("path")), shuffle=shuffle, **settings)

    def __call__(self, nlp: Language) -> Iterator[Example]:
        for head, reader in self.readers.items():
            for eg in reader(nlp):
                eg.reference.user_data[HEAD_KEY] = head
                yield eg


@spacy.registry.batchers("spacy-bioner.batch_by_corpus.v1")
def configure_batch_by_corpus(
    size: int = 32, schedule: str = "round_robin", temperature: float = 1.0, padded_size: int = 0, buffer: int = 256
) -> Callable[[Iterable[Example]], Iterator[List[Example]]]:
    """Create a batcher that yields batches of one corpus (head) each.

    size (int): Examples (sentences) per batch, when `padded_size` is 0.
    schedule (str): "round_robin": rounds visit every corpus once, in a new
        random order each round; a corpus that runs out starts again
        (reshuffled) until the largest has been seen once, so a small corpus
        is never starved. "proportional": each batch's corpus is drawn with
        probability ∝ size^temperature (1: as large as it is, 0: uniform),
        for as many batches as all corpora hold.
    temperature (float): The exponent of "proportional".
    padded_size (int): When above 0, batches are binned by length instead, as
        `spacy.batch_by_padded.v1` does, within each corpus: `buffer`
        examples at a time are sorted by length and cut into batches of at
        most this many padded positions (longest sentence x sentences). The
        LSTMs then compute about one position per token instead of about two
        (docs/recipe.md); a sentence longer than this is a batch of its own.
    buffer (int): Examples sorted together when binning by length.
    RETURNS (Callable): The batcher.
    """
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES}, not {schedule!r}")
    if size < 1:
        raise ValueError("size must be at least 1")
    if padded_size < 0 or buffer < 1:
        raise ValueError("padded_size must be at least 0 and buffer at least 1")

    def batcher(examples: Iterable[Example]) -> Iterator[List[Example]]:
        return batch_by_corpus(examples, size=size, schedule=schedule, temperature=temperature,
                               padded_size=padded_size, buffer=buffer)

    return batcher


def batch_by_corpus(
    examples: Iterable[Example], *, size: int, schedule: str = "round_robin", temperature: float = 1.0,
    padded_size: int = 0, buffer: int = 256,
) -> Iterator[List[Example]]:
    """Group one pass of examples by head and interleave single-head batches.

    The pass is held in memory while it is batched: spaCy's epoch loop
    (`max_epochs >= 0`) holds it anyway. Unmarked examples form one group.

    examples (Iterable[Example]): One epoch of (shuffled) examples.
    size (int): Examples per batch.
    schedule (str): "round_robin" or "proportional" (see the batcher).
    temperature (float): The exponent of "proportional".
    padded_size (int): Bin by length into batches of at most this many padded
        positions instead (0: `size` examples per batch).
    buffer (int): Examples sorted together when binning by length.
    YIELDS (List[Example]): Batches whose examples share a head.
    """
    by_head: Dict[Optional[str], List[Example]] = {}
    for eg in examples:
        by_head.setdefault(head_of(eg), []).append(eg)
    if not by_head:
        return
    if padded_size > 0:
        def cut(egs: List[Example]) -> List[List[Example]]:
            return bin_by_length(egs, padded_size=padded_size, buffer=buffer)
    else:
        def cut(egs: List[Example]) -> List[List[Example]]:
            return [egs[i : i + size] for i in range(0, len(egs), size)]
    queues = {head: _Cycle(egs, cut) for head, egs in by_head.items()}
    heads = list(queues)
    if schedule == "round_robin":
        largest = max(queues.values(), key=len)
        while not largest.wrapped:
            order = heads[:]
            random.shuffle(order)
            for head in order:
                yield queues[head].next_batch()
    else:
        weights = [len(queues[h]) ** temperature for h in heads]
        total = sum(len(q) for q in queues.values())
        for _ in range(total):
            head = random.choices(heads, weights=weights)[0]
            yield queues[head].next_batch()


def bin_by_length(examples: List[Example], *, padded_size: int, buffer: int = 256) -> List[List[Example]]:
    """Batches of examples of similar length (`spacy.batch_by_padded.v1`'s
    batching): `buffer` examples at a time are sorted by length and cut into
    batches of at most `padded_size` padded positions.

    examples (List[Example]): The examples, in the order buffers are taken.
    padded_size (int): Most padded positions (longest sentence x sentences).
    buffer (int): Examples sorted together.
    RETURNS (List[List[Example]]): The batches.
    """
    return [list(b) for b in minibatch_by_padded_size(examples, size=padded_size, buffer=buffer,
                                                      get_length=lambda eg: len(eg.reference))]


class _Cycle:
    """Batches of one corpus, reshuffled, re-cut and restarted when exhausted."""

    def __init__(self, examples: List[Example], cut: Callable[[List[Example]], List[List[Example]]]) -> None:
        self.examples = examples
        self.cut = cut
        self.batches = cut(examples)
        self.position = 0
        self.wrapped = False

    def __len__(self) -> int:
        """Number of batches in one pass."""
        return len(self.batches)

    def next_batch(self) -> List[Example]:
        if self.position >= len(self.batches):
            random.shuffle(self.examples)
            self.batches = self.cut(self.examples)
            self.position = 0
        batch = self.batches[self.position]
        self.position += 1
        if self.position >= len(self.batches):
            self.wrapped = True
        return batch
