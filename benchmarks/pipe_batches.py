"""How fast `nlp.pipe` is at the batch sizes users leave it at, with and
without the component's token floor per batch (`PIPE_MIN_TOKENS`).

spaCy groups docs by `nlp.batch_size` (128 in our configs) and hands each
group to the component. Segments are sorted by length only within a group,
so small groups of short docs pad more and pay per-call costs more often.
The component now closes a batch only once it also holds `PIPE_MIN_TOKENS`
tokens; this measures that floor against none, on one thread, with the
test and dev sentences as docs and with the same text joined ten sentences
to a doc (abstract-sized), passes alternated in one process.

    python benchmarks/pipe_batches.py training/demo/model-best \\
        ../shared/corpora/NCBI-disease --output docs/benchmarks/pipe_batches.json
"""
import datetime
import sys
from pathlib import Path
from typing import Any, Callable, Dict, List

import typer

from speed_helpers import describe_machine, load_test_texts, single_thread, write_report

FLOORS = (0, 8192, 16384, 32768, 65536)
BATCH_SIZES = (32, 128, 1000)


def _pass(nlp: Any, texts: List[str], batch_size: int, floor: int) -> Callable[[], int]:
    floor_cfg = {"bilstm_crf_ner": {"min_batch_tokens": floor}}

    def run() -> int:
        return sum(len(doc) for doc in nlp.pipe(texts, batch_size=batch_size, component_cfg=floor_cfg))

    return run


def main(
    model: Path = typer.Argument(..., help="A trained bilstm_crf_ner pipeline"),
    corpus: Path = typer.Argument(..., help="Folder with the splits"),
    splits: str = typer.Option("test.tsv,dev.tsv", help="Splits whose sentences are the texts (enough tokens to tell the floors apart)"),
    passes: int = typer.Option(5, help="Passes per setting (median counts)"),
    output: Path = typer.Option(Path("docs/benchmarks/pipe_batches.json"), help="JSON; a .md is written beside it"),
) -> None:
    single_thread()
    import spacy
    from speed_per_core import alternate
    from spacy_bioner.pipeline.bilstm_crf_ner import PIPE_MIN_TOKENS as default_floor

    nlp = spacy.load(model)
    sentences = [t for split in splits.split(",") for t in load_test_texts(corpus / split, nlp)]
    docs = {"sentences": sentences,
            "10 sentences per doc": [" ".join(sentences[i : i + 10]) for i in range(0, len(sentences), 10)]}
    list(nlp.pipe(sentences[:200]))  # warm-up
    rows: Dict[str, Dict[str, Any]] = {}
    for kind, texts in docs.items():
        runs = {f"{kind} | {size} | {floor}": _pass(nlp, texts, size, floor) for size in BATCH_SIZES for floor in FLOORS}
        rows.update(alternate(runs, passes))
    report = {
        "command": " ".join(["python", "benchmarks/pipe_batches.py", *sys.argv[1:]]),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": describe_machine(),
        "model": str(model),
        "default_floor": default_floor,
        "rows": rows,
    }
    lines = [
        "# `nlp.pipe` speed by batch size and token floor (one thread)\n",
        f"`{report['command']}`\n",
        f"{report['date']}; {report['machine']}. One process, one thread, {passes} passes alternated, median. "
        f"Texts: the {rows[next(iter(rows))]['tokens']:,} tokens of the sentences of {corpus.name}'s {splits}, one sentence per "
        f"doc or ten per doc. Floor: the least number of tokens per batch (`PIPE_MIN_TOKENS`, now {default_floor}); "
        "0 is spaCy's plain `batch_size` docs per batch, as before.\n",
        "| docs | `batch_size` | " + " | ".join(f"floor {f}" for f in FLOORS) + " |",
        "|---|---|" + "---|" * len(FLOORS),
    ]
    for kind in docs:
        for size in BATCH_SIZES:
            lines.append(f"| {kind} | {size} | " + " | ".join(
                f"{rows[f'{kind} | {size} | {floor}']['tok_per_s']:,}" for floor in FLOORS) + " |")
    write_report(output, report, lines)


if __name__ == "__main__":
    typer.run(main)
