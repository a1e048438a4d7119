"""CLI: `spacy-bioner vectors train|import`."""
from enum import Enum
from pathlib import Path
from typing import List

import typer
from wasabi import msg

from . import app, fail


class Binary(str, Enum):
    """Whether a word2vec file is binary."""

    auto = "auto"
    yes = "yes"
    no = "no"


class Algorithm(str, Enum):
    """How vectors are trained."""

    word2vec = "word2vec"
    fasttext = "fasttext"


vectors_app = typer.Typer(rich_markup_mode="markdown", help="Word vectors as a spaCy vectors directory (for initialize.vectors in a config).",
                          no_args_is_help=True)
app.add_typer(vectors_app, name="vectors")


@vectors_app.callback()
def _vectors() -> None:
    # Keeps `train`/`import` subcommands even when this is the only command.
    pass


@vectors_app.command("train")
def vectors_train_cli(
    texts: List[Path] = typer.Argument(..., help="Text or JSONL (\"text\" field) files, .gz allowed"),
    output: Path = typer.Option(..., "--output", "-o", help="Output spaCy vectors directory"),
    size: int = typer.Option(200, "--size", help="Vector width"),
    window: int = typer.Option(5, "--window", help="Context window"),
    min_count: int = typer.Option(3, "--min-count", help="Ignore rarer words"),
    epochs: int = typer.Option(5, "--epochs", help="Passes over the text"),
    workers: int = typer.Option(2, "--workers", help="Worker threads"),
    seed: int = typer.Option(0, "--seed", help="Random seed"),
    lowercase: bool = typer.Option(False, "--lowercase", help="Lowercase the text"),
    algorithm: Algorithm = typer.Option(Algorithm.word2vec, "--algorithm", help="word2vec, or fasttext (subword-aware)"),
    vocab_from: List[Path] = typer.Option([], "--vocab-from", help="FastText: also give vectors to the words of these CoNLL/TSV files (training splits only; repeatable)"),
) -> None:
    """Train word2vec or FastText on TEXTS (text, JSONL or CoNLL/TSV files) and save a spaCy vectors directory --output."""
    from ..vectors import train_word2vec

    for path in [*texts, *vocab_from]:
        if not path.is_file():
            fail(f"No such file: {path}")
    msg.text(f"Training {algorithm.value} on {len(texts)} file(s) ({epochs} epochs)...")
    try:
        train_word2vec(texts, output, size=size, window=window, min_count=min_count,
                       epochs=epochs, workers=workers, seed=seed, lowercase=lowercase,
                       algorithm=algorithm.value, vocab_from=vocab_from or None)
    except (ValueError, OSError) as err:
        fail(err)
    msg.good(f"Saved vectors to {output}")


@vectors_app.command("import")
def vectors_import_cli(
    path: Path = typer.Argument(..., help="word2vec file (text or binary, .gz allowed)", exists=True, dir_okay=False),
    output: Path = typer.Option(..., "--output", "-o", help="Output spaCy vectors directory"),
    prune_to: List[Path] = typer.Option([], "--prune-to", help="Keep only words found in these CoNLL/TSV files or folders (repeatable)"),
    binary: Binary = typer.Option(Binary.auto, "--binary", help="Whether PATH is binary word2vec"),
) -> None:
    """Import word2vec vectors into a spaCy vectors directory."""
    from ..vectors import import_word2vec

    is_binary = {Binary.auto: None, Binary.yes: True, Binary.no: False}[binary]
    msg.text(f"Importing {path}...")
    try:
        import_word2vec(path, output, prune_to=prune_to or None, binary=is_binary)
    except (ValueError, OSError) as err:
        fail(err)
    msg.good(f"Saved vectors to {output}")
