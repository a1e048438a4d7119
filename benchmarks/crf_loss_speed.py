"""Training speed with the CRF log-likelihood computed without a Python step
per token (`log_partition`, `path_scores`) against pytorch-crf's recursion,
in one process on one thread, the two alternated pass by pass (the order
turning each pass), with the recipe's batches and with length-binned ones.

    OMP_NUM_THREADS=1 python benchmarks/crf_loss_speed.py MODEL CORPUS \\
        --output docs/benchmarks/crf_loss_speed_amd.json

The two losses are equal in value and gradients up to float32 rounding
(`tests/test_torch_modules.py`); only the number of autograd ops differs.
"""
import datetime
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Dict, List

import typer

from speed_helpers import describe_machine, single_thread, training_batches


def main(
    model: Path = typer.Argument(..., help="A bilstm_crf_ner pipeline (trained or initialized)"),
    corpus: Path = typer.Argument(..., help="Folder with train.tsv"),
    sentences: int = typer.Option(1000, help="Training sentences per pass"),
    passes: int = typer.Option(4, help="Passes per loss and batching (median counts)"),
    output: Path = typer.Option(..., help="Results JSON"),
) -> None:
    single_thread()
    import spacy
    from spacy.training.batchers import minibatch_by_padded_size

    import spacy_bioner.torch_modules.crf as crf

    nlp = spacy.load(model)
    batches, optimizer = training_batches(nlp, corpus / "train.tsv", sentences)
    examples = [eg for batch in batches for eg in batch]
    batchings = {
        "recipe batches": batches,
        "length-binned (batch_by_padded size 500)": [
            list(b) for b in minibatch_by_padded_size(examples, size=500, buffer=256, discard_oversize=False)
        ],
    }
    n_tokens = sum(len(eg.reference) for eg in examples)
    losses = {"pytorch-crf recursion": 0, "loop-free": crf.SCAN_MAX_TAGS}
    passes_s: Dict[str, List[float]] = {}
    names = list(losses)
    for i in range(passes):
        for loss in names[i % 2:] + names[:i % 2]:
            crf.SCAN_MAX_TAGS = losses[loss]  # 0: every head takes pytorch-crf's path
            for batching, bs in batchings.items():
                start = time.perf_counter()
                for batch in bs:
                    nlp.update(batch, sgd=optimizer)
                passes_s.setdefault(f"{loss}, {batching}", []).append(round(time.perf_counter() - start, 4))
    rows = {k: {"passes_s": v, "tok_per_s": round(n_tokens / statistics.median(v))} for k, v in passes_s.items()}
    ratios = {b: round(rows[f"loop-free, {b}"]["tok_per_s"] / rows[f"pytorch-crf recursion, {b}"]["tok_per_s"], 3)
              for b in batchings}
    report = {
        "command": "python benchmarks/crf_loss_speed.py " + " ".join(sys.argv[1:]),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": describe_machine(),
        "threads": 1,
        "tokens_per_pass": n_tokens,
        "rows": rows,
        "loop_free_over_recursion": ratios,
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    typer.run(main)
