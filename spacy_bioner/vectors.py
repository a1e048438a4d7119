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
    from .training.readers import CONLL_SUFFIXES

    tokenizer = spacy.blank("en").tokenizer
    n_tokens = 0
    with output.open("w", encoding="utf-8") as out:
        for path in inputs:
            if Path(path).suffix in CONLL_SUFFIXES:
                # Already tokenized: one sentence per line, labels dropped.
                for document in parse_conll(Path(path))[0]:
                    for sentence in document:
                        words = [row[0].lower() if lowercase else row[0] for row in sentence]
                        out.write(" ".join(words) + "\n")
                        n_tokens += len(words)
                continue
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
    algorithm: str = "word2vec",
    vocab_from: Optional[List[Path]] = None,
) -> Path:
    """Train skip-gram word2vec (or FastText) with gensim and save a spaCy
    vectors directory.

    inputs (List[Path]): JSONL files with a "text" field, plain text files
        (.gz allowed), or CoNLL/TSV files (their tokens; labels are ignored).
    output_dir (Path): The vectors directory (replaced once complete).
    size (int): Vector width.
    window (int): Context window.
    min_count (int): Ignore rarer words.
    epochs (int): Passes over the text.
    workers (int): gensim worker threads (with more than one the result is
        not exactly reproducible).
    seed (int): Random seed.
    lowercase (bool): Lowercase the text (the keys are then lowercase).
    algorithm (str): "word2vec" or "fasttext" (subword-aware: rare words get
        vectors built from their character n-grams).
    vocab_from (Optional[List[Path]]): With FastText, CoNLL/TSV files whose
        words are added to the table with subword vectors even when rarer
        than `min_count` (give training splits, never test splits).
    RETURNS (Path): The vectors directory.
    """
    from gensim.models import FastText, Word2Vec

    if algorithm not in ("word2vec", "fasttext"):
        raise ValueError(f"algorithm must be 'word2vec' or 'fasttext', not {algorithm!r}")
    if vocab_from and algorithm != "fasttext":
        raise ValueError("vocab_from needs algorithm='fasttext' (word2vec has no vectors for unseen words)")

    output_dir = Path(output_dir)
    with atomic_path(output_dir, is_dir=True) as tmp:
        token_file = tmp / "tokens.txt"
        with _working("Tokenizing text..."):
            n_tokens = tokenize_to_file(inputs, token_file, lowercase=lowercase)
        msg.good(f"Tokenized {n_tokens} tokens")
        if not n_tokens:
            raise ValueError(f"No text found in {', '.join(map(str, inputs))}")
        with _working(f"Training {algorithm} ({epochs} epochs, {workers} workers)..."):
            trainer = FastText if algorithm == "fasttext" else Word2Vec
            model = trainer(corpus_file=str(token_file), vector_size=size, window=window,
                            min_count=min_count, epochs=epochs, workers=workers, seed=seed, sg=1)
        token_file.unlink()
        keys = list(model.wv.index_to_key)
        if not keys:
            raise ValueError(f"No word occurs at least min_count={min_count} times")
        data = model.wv.vectors
        if vocab_from:
            known = set(keys)
            extra = sorted(w.lower() if lowercase else w for w in corpus_words(vocab_from))
            extra = [w for w in dict.fromkeys(extra) if w not in known]
            if extra:
                data = numpy.concatenate([data, numpy.stack([model.wv[w] for w in extra])])
                keys += extra
            msg.info(f"Added {len(extra)} words of {len(vocab_from)} corpus file(s) with subword vectors")
        short = "ft" if algorithm == "fasttext" else "w2v"
        nlp = _vectors_pipeline(keys, data, name=f"spacy_bioner_{short}_{size}d")
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
