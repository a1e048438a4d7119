"""Training speed with the CRF log-likelihood computed without a Python step
per token (`log_partition`, `path_scores`) against pytorch-crf's recursion,
in one process on one thread, alternated by `speed_per_core.alternate` (the
order turning each pass), with the recipe's batches and with length-binned
ones (`bin_by_length`, as `speed_per_core.py` bins them).

    OMP_NUM_THREADS=1 python benchmarks/crf_loss_speed.py MODEL CORPUS \\
        --output docs/benchmarks/crf_loss_speed_amd.json

The two losses are equal in value and gradients up to float32 rounding
(`tests/test_torch_modules.py`); only the number of autograd ops differs.
"""
import datetime
import json
import sys
from pathlib import Path
from typing import Callable

import typer

from speed_helpers import describe_machine, single_thread, training_batches
from speed_per_core import BINNED_SIZE, _updates, alternate
from spacy_bioner.training.multitask import bin_by_length


def _with_loss(scan_max_tags: int, run: Callable[[], int]) -> Callable[[], int]:
    """`run` with heads of up to `scan_max_tags` tags on the loop-free loss
    (0: every head on pytorch-crf's recursion)."""
    import spacy_bioner.torch_modules.crf as crf

    def go() -> int:
        crf.SCAN_MAX_TAGS = scan_max_tags
        return run()

    return go


def main(
    model: Path = typer.Argument(..., help="A bilstm_crf_ner pipeline (trained or initialized)"),
    corpus: Path = typer.Argument(..., help="Folder with train.tsv"),
    sentences: int = typer.Option(1000, help="Training sentences per pass"),
    passes: int = typer.Option(4, help="Passes per loss and batching (median counts)"),
    output: Path = typer.Option(..., help="Results JSON"),
) -> None:
    single_thread()
    import spacy

    import spacy_bioner.torch_modules.crf as crf

    nlp = spacy.load(model)
    batches, optimizer = training_batches(nlp, corpus / "train.tsv", sentences)
    examples = [eg for batch in batches for eg in batch]
    batchings = {
        "recipe batches": batches,
        f"length-binned (batch_by_padded size {BINNED_SIZE})": bin_by_length(examples, padded_size=BINNED_SIZE),
    }
    losses = {"pytorch-crf recursion": 0, "loop-free": crf.SCAN_MAX_TAGS}
    rows = alternate({f"{loss}, {batching}": _with_loss(tags, _updates(nlp, bs, optimizer))
                      for loss, tags in losses.items() for batching, bs in batchings.items()}, passes)
    ratios = {b: round(rows[f"loop-free, {b}"]["tok_per_s"] / rows[f"pytorch-crf recursion, {b}"]["tok_per_s"], 3)
              for b in batchings}
    report = {
        "command": "python benchmarks/crf_loss_speed.py " + " ".join(sys.argv[1:]),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": describe_machine(),
        "threads": 1,
        "tokens_per_pass": sum(len(eg.reference) for eg in examples),
        "rows": rows,
        "loop_free_over_recursion": ratios,
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    typer.run(main)
