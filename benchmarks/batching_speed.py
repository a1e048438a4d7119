"""Training speed of length-binned batches against the recipe's batches, in one run.

`configs/bilstm_crf.cfg` batches 16 sentences in corpus order
(`spacy.batch_by_sequence.v1`), so every sentence of an update is padded to
the longest one: on NCBI-disease that is about 2 padded positions per token,
and the BiLSTM forward and backward kernels (two thirds of a training step)
run over all of them. spaCy's `spacy.batch_by_padded.v1` sorts a buffer of
sentences by length and cuts batches by padded size instead. This benchmark
trains one pipeline on the same sentences batched both ways, passes
alternated (A B A B ...) on one thread so that load from other processes
falls on both alike, and reports tokens/s, padded positions per token and
the ratio. It measures speed only: whether a recipe with such batches
reaches the same F1 is a separate training run (docs/recipe.md).

    OMP_NUM_THREADS=1 python benchmarks/batching_speed.py ../shared/corpora/NCBI-disease/train.tsv \\
        --sentences 768 --padded-size 500 --repeats 3 --output docs/benchmarks/batching_speed.json
"""
import datetime
import json
import random
import statistics
import time
from pathlib import Path
from typing import Any, Dict, List

import spacy
import typer
from spacy.util import registry
from thinc.api import Config

from speed_helpers import describe_machine, single_thread, thread_settings
from spacy_bioner.training.multitask import bin_by_length
from spacy_bioner.training.readers import create_tsv_corpus

ROOT = Path(__file__).resolve().parents[1]


def padded_per_token(batches: List[List[Any]]) -> float:
    """Positions the LSTMs compute (longest sentence x batch size) per real token."""
    padded = sum(max(len(eg.reference) for eg in b) * len(b) for b in batches)
    return padded / sum(len(eg.reference) for b in batches for eg in b)


def timed_pass(nlp: spacy.Language, batches: List[List[Any]], optimizer: Any) -> float:
    """Seconds for one `nlp.update` pass over the batches."""
    start = time.perf_counter()
    for batch in batches:
        nlp.update(batch, sgd=optimizer, losses={})
    return time.perf_counter() - start


def main(
    corpus: Path = typer.Argument(..., help="A CoNLL/TSV training file"),
    sentences: int = typer.Option(768, help="Training sentences, shuffled with seed 0"),
    padded_size: int = typer.Option(500, help="spacy.batch_by_padded.v1 size (padded positions per batch)"),
    buffer: int = typer.Option(256, help="spacy.batch_by_padded.v1 buffer (sentences sorted together)"),
    repeats: int = typer.Option(3, help="Alternated passes of each batching"),
    output: Path = typer.Option(ROOT / "docs" / "benchmarks" / "batching_speed.json"),
) -> None:
    single_thread()
    config = Config().from_disk(ROOT / "configs" / "bilstm_crf.cfg")
    nlp = spacy.util.load_model_from_config(config, auto_fill=True)
    examples = list(create_tsv_corpus(corpus, limit=0)(nlp))
    random.Random(0).shuffle(examples)
    examples = examples[:sentences]
    optimizer = nlp.initialize(lambda: examples)
    recipe_batcher = registry.resolve({"b": config["training"]["batcher"]})["b"]
    systems: Dict[str, List[List[Any]]] = {
        "recipe (batch_by_sequence, 16 sentences)": [list(b) for b in recipe_batcher(examples)],
        f"batch_by_padded (size {padded_size}, buffer {buffer})": bin_by_length(
            examples, padded_size=padded_size, buffer=buffer),
    }
    tokens = sum(len(eg.reference) for eg in examples)
    timed_pass(nlp, list(systems.values())[0][:4], optimizer)  # warm-up: lazy allocations
    seconds: Dict[str, List[float]] = {name: [] for name in systems}
    for _ in range(repeats):
        for name, batches in systems.items():
            seconds[name].append(timed_pass(nlp, batches, optimizer))
    rows = []
    for name, batches in systems.items():
        rows.append({
            "batching": name,
            "batches": len(batches),
            "tokens_per_batch": round(tokens / len(batches), 1),
            "padded_per_token": round(padded_per_token(batches), 3),
            "tokens_per_s": [round(tokens / s) for s in seconds[name]],
            "median_tokens_per_s": round(tokens / statistics.median(seconds[name])),
        })
    ratio = rows[1]["median_tokens_per_s"] / rows[0]["median_tokens_per_s"]
    result = {
        "command": (f"OMP_NUM_THREADS=1 python benchmarks/batching_speed.py {corpus} --sentences {sentences} "
                    f"--padded-size {padded_size} --buffer {buffer} --repeats {repeats}"),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": describe_machine(),
        "threads": thread_settings(),
        "sentences": len(examples),
        "tokens": tokens,
        "rows": rows,
        "ratio": round(ratio, 3),
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf8")
    lines = [
        "# Training speed: length-binned batches vs the recipe's batches", "",
        f"`{result['command']}`", "",
        f"{result['date']}; {result['machine']}; one thread; {len(examples)} sentences ({tokens:,} tokens), "
        f"passes alternated, median of {repeats}.", "",
        "| batching | batches | tokens/batch | padded positions/token | training tok/s (median) |",
        "|---|---|---|---|---|",
        *(f"| {r['batching']} | {r['batches']} | {r['tokens_per_batch']} | {r['padded_per_token']} | "
          f"{r['median_tokens_per_s']:,} |" for r in rows),
        "", f"Ratio: **{ratio:.2f}x**.", "",
    ]
    output.with_suffix(".md").write_text("\n".join(lines), encoding="utf8")
    print("\n".join(lines))


if __name__ == "__main__":
    typer.run(main)
