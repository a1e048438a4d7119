"""Word vectors: train word2vec on raw text, or import word2vec files, into a
spaCy vectors directory usable as `[initialize] vectors` (a blank pipeline
saved with `nlp.to_disk`, as `spacy init vectors` makes).

Text is tokenized with spaCy's English tokenizer, the tokenizer that makes
the Docs the component sees at inference, so vector keys match its tokens.
"""
import contextlib
import json
import sys
from pathlib import Path
from typing import ContextManager, Iterable, Iterator, List, Optional, Set

import numpy
import spacy
from spacy.language import Language
from spacy.vectors import Vectors
from wasabi import msg

from .corpora.conll import parse_conll
from .files import atomic_path, open_binary, open_text


def _working(text: str) -> ContextManager:
    """A spinner on a terminal; one plain line in a log file, which a
    spinner would fill with thousands of frames."""
    if sys.stdout.isatty():
        return msg.loading(text)
    msg.text(text)
    return contextlib.nullcontext()

# gensim cuts longer "sentences" silently; we cut them ourselves instead.
MAX_WORDS_PER_LINE = 10000


def iter_texts(path: Path) -> Iterator[str]:
    """The texts of a file: the "text" field of each line of a .jsonl(.gz)
    file, else each non-empty line of a plain text file (gzip allowed).

    path (Path): The file.
    YIELDS (str): Texts.
    """
    is_jsonl = ".jsonl" in path.suffixes or ".json" in path.suffixes
    with open_text(path) as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            if is_jsonl:
                try:
                    text = json.loads(line)["text"]
                except (ValueError, KeyError, TypeError):
                    raise ValueError(f"{path}:{lineno}: expected a JSON object with a \"text\" field") from None
                yield text
            else:
                yield line


def tokenize_to_file(inputs: Iterable[Path], output: Path, *, lowercase: bool = False) -> int:
    """Tokenize texts into a file of space-separated tokens, one text line
    per line (gensim's `corpus_file` format, read fast by its workers).

    inputs (Iterable[Path]): Text or JSONL files.
    output (Path): The token file.
    lowercase (bool): Lowercase the tokens.
    RETURNS (int): Number of tokens written.
    """
    tokenizer = spacy.blank("en").tokenizer
    n_tokens = 0
    with output.open("w", encoding="utf-8") as out:
        for path in inputs:
            # Newlines separate paragraphs; windows should not cross them.
            lines = (line for text in iter_texts(Path(path)) for line in text.split("\n"))
            for doc in tokenizer.pipe(line for line in lines if line.strip()):
                words = [t.text for t in doc if not t.is_space]
                if lowercase:
                    words = [w.lower() for w in words]
                for i in range(0, len(words), MAX_WORDS_PER_LINE):
                    out.write(" ".join(words[i:i + MAX_WORDS_PER_LINE]) + "\n")
                n_tokens += len(words)
    return n_tokens


def _vectors_pipeline(keys: List[str], data: numpy.ndarray, name: str) -> Language:
    nlp = spacy.blank("en")
    for key in keys:
        nlp.vocab.strings.add(key)
    nlp.vocab.vectors = Vectors(strings=nlp.vocab.strings, data=data.astype("float32"), keys=keys)
    nlp.vocab.vectors.name = name
    nlp.meta["vectors"]["name"] = name
    return nlp


def train_word2vec(
    inputs: List[Path],
    output_dir: Path,
    *,
    size: int = 200,
    window: int = 5,
    min_count: int = 3,
    epochs: int = 5,
    workers: int = 2,
    seed: int = 0,
    lowercase: bool = False,
) -> Path:
    """Train skip-gram word2vec with gensim and save a spaCy vectors directory.

    inputs (List[Path]): JSONL files with a "text" field, or plain text files (.gz allowed).
    output_dir (Path): The vectors directory (replaced once complete).
    size (int): Vector width.
    window (int): Context window.
    min_count (int): Ignore rarer words.
    epochs (int): Passes over the text.
    workers (int): gensim worker threads (with more than one the result is
        not exactly reproducible).
    seed (int): Random seed.
    lowercase (bool): Lowercase the text (the keys are then lowercase).
    RETURNS (Path): The vectors directory.
    """
    from gensim.models import Word2Vec

    output_dir = Path(output_dir)
    with atomic_path(output_dir, is_dir=True) as tmp:
        token_file = tmp / "tokens.txt"
        with _working("Tokenizing text..."):
            n_tokens = tokenize_to_file(inputs, token_file, lowercase=lowercase)
        msg.good(f"Tokenized {n_tokens} tokens")
        if not n_tokens:
            raise ValueError(f"No text found in {', '.join(map(str, inputs))}")
        with _working(f"Training word2vec ({epochs} epochs, {workers} workers)..."):
            model = Word2Vec(corpus_file=str(token_file), vector_size=size, window=window,
                             min_count=min_count, epochs=epochs, workers=workers, seed=seed, sg=1)
        token_file.unlink()
        keys = list(model.wv.index_to_key)
        if not keys:
            raise ValueError(f"No word occurs at least min_count={min_count} times")
        nlp = _vectors_pipeline(keys, model.wv.vectors, name=f"spacy_bioner_w2v_{size}d")
        nlp.to_disk(tmp)
        msg.good(f"Trained {len(keys)} vectors of width {size}")
    return output_dir


def corpus_words(paths: Iterable[Path]) -> Set[str]:
    """The tokens of CoNLL/TSV corpus files (folders are searched for .tsv/.conll/.iob).

    paths (Iterable[Path]): Files or folders.
    RETURNS (Set[str]): The distinct tokens.
    """
    from .training.readers import CONLL_SUFFIXES

    words: Set[str] = set()
    for path in paths:
        path = Path(path)
        files = sorted(p for p in path.rglob("*") if p.suffix in CONLL_SUFFIXES) if path.is_dir() else [path]
        for file in files:
            for document in parse_conll(file)[0]:
                for sentence in document:
                    words.update(row[0] for row in sentence)
    return words


def _is_binary(path: Path) -> bool:
    # Text word2vec files start with an ASCII header line "<rows> <dims>" and
    # continue in text; binary ones have raw floats right after the first word.
    with open_binary(path) as f:
        f.readline()
        chunk = f.read(4096)
    try:
        chunk.decode("utf-8")
    except UnicodeDecodeError as err:
        return err.start < len(chunk) - 4  # not just a character cut at the chunk end
    return False


def import_word2vec(
    path: Path,
    output_dir: Path,
    *,
    prune_to: Optional[List[Path]] = None,
    binary: Optional[bool] = None,
) -> Path:
    """Import a word2vec file (text or binary, .gz allowed) into a spaCy vectors directory.

    path (Path): The word2vec file.
    output_dir (Path): The vectors directory (replaced once complete).
    prune_to (Optional[List[Path]]): CoNLL/TSV corpus files or folders; keep only
        rows whose word, or its lowercase form, occurs in them (case-folded match).
    binary (Optional[bool]): Binary format; None guesses from the content.
    RETURNS (Path): The vectors directory.
    """
    from gensim.models import KeyedVectors

    path = Path(path)
    if binary is None:
        binary = _is_binary(path)
    with _working(f"Loading {path}..."):
        kv = KeyedVectors.load_word2vec_format(str(path), binary=binary)
    keys = list(kv.index_to_key)
    rows = numpy.arange(len(keys))
    if prune_to:
        words = corpus_words(prune_to)
        lower = {w.lower() for w in words}
        rows = numpy.array([i for i, key in enumerate(keys) if key in words or key.lower() in lower],
                           dtype=int)
        msg.info(f"Kept {len(rows)} of {len(keys)} vectors found in {len(words)} corpus words")
        keys = [keys[i] for i in rows]
    if not keys:
        raise ValueError(f"No vectors left to import from {path}")
    nlp = _vectors_pipeline(keys, kv.vectors[rows], name=f"{path.name.split('.')[0]}_{kv.vector_size}d")
    with atomic_path(output_dir, is_dir=True) as tmp:
        nlp.to_disk(tmp)
    msg.good(f"Imported {len(keys)} vectors of width {kv.vector_size} into {output_dir}")
    return Path(output_dir)
