"""The all-core rows of `speed_per_core.py` alone, for a lent many-core
machine with little time on it: each group of rows runs in its own
subprocess under a time limit, so that one row that stalls costs only its
own limit and the others still report.

* group `processes`: spaCy's `ner`, ours and ours in bfloat16, each with
  `nlp.pipe(n_process=N)`, alternated (A B C, B C A, C A B) in one process whose torch
  never ran more than one thread (workers are forked from it);
* group `threads`: ours and ours in bfloat16 with N torch threads,
  alternated in a second process.

    python benchmarks/speed_all_cores.py CORPUS OURS SPACY_NER --n-process 16 \\
        --batch ours=1000,spacy=256 --repeat 2 --passes 3 --output all_cores.json

`--batch` takes each system's fastest one-thread batch size from a
`speed_per_core.py` run on the same machine. Comparisons across the two
groups are between processes run one after the other on an idle machine;
within a group, passes alternate as in `speed_per_core.py`.
"""
import datetime
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict

import typer

from speed_helpers import describe_machine, load_test_texts
from speed_per_core import ALL_CORE_SPLITS, BF16, _pipe, alternate, threads_batch_size


def measure(group: str, args: Dict[str, Any]) -> Dict[str, Any]:
    import spacy
    import torch

    n, batch = args["n_process"], args["batch"]
    torch.set_num_threads(n if group == "threads" else 1)
    ours, ref = spacy.load(args["ours"]), spacy.load(args["spacy"])
    corpus = Path(args["corpus"])
    texts = [t for split in ALL_CORE_SPLITS for t in load_test_texts(corpus / split, ref)]
    texts = texts * args["repeat"]
    list(ours.pipe(texts[:200]))
    list(ref.pipe(texts[:200]))
    if group == "processes":
        runs = {
            f"spacy_ner (n_process={n})": _pipe(ref, texts, batch_size=batch["spacy"], n_process=n),
            f"bilstm_crf_ner (n_process={n})": _pipe(ours, texts, "float32", batch_size=batch["ours"], n_process=n),
            f"{BF16} (n_process={n})": _pipe(ours, texts, "bfloat16", batch_size=batch["ours"], n_process=n),
        }
    else:
        # At least the batch size that gives each thread a length group.
        size = max(batch["ours"], threads_batch_size(ours, texts, n)) if args.get("size_for_threads") else batch["ours"]
        runs = {
            f"bilstm_crf_ner ({n} threads, batch {size})": _pipe(ours, texts, "float32", batch_size=size),
            f"{BF16} ({n} threads, batch {size})": _pipe(ours, texts, "bfloat16", batch_size=size),
        }
    return alternate(runs, args["passes"])


def run_group(group: str, args: Dict[str, Any], limit: float) -> Dict[str, Any]:
    """One group in its own process session, so that at the time limit the
    `nlp.pipe` workers it forked are stopped with it, not left running."""
    proc = subprocess.Popen([sys.executable, __file__, "--measure", group, json.dumps(args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return {"error": f"did not finish within {limit:.0f} s"}
    if proc.returncode:
        return {"error": err.strip().splitlines()[-1:]}
    return json.loads(out.strip().splitlines()[-1])


def main(
    corpus: Path = typer.Argument(..., help="Folder with train.tsv, dev.tsv, test.tsv"),
    ours: Path = typer.Argument(..., help="Trained bilstm_crf_ner pipeline"),
    spacy_model: Path = typer.Argument(..., help="Trained spaCy ner pipeline"),
    n_process: int = typer.Option(..., help="Processes or threads"),
    batch: str = typer.Option("ours=1000,spacy=256", help="nlp.pipe batch size of each system"),
    repeat: int = typer.Option(2, help="Annotate the three splits' texts this many times per pass"),
    passes: int = typer.Option(3, help="Passes per row (median counts)"),
    limit: float = typer.Option(120.0, help="Seconds each group may run"),
    size_for_threads: bool = typer.Option(True, help="Threads rows: raise ours' batch size until every thread has a length group"),
    output: Path = typer.Option(..., help="Results JSON"),
) -> None:
    args = {"corpus": str(corpus.resolve()), "ours": str(ours.resolve()), "spacy": str(spacy_model.resolve()),
            "n_process": n_process, "repeat": repeat, "passes": passes, "size_for_threads": size_for_threads,
            "batch": {k: int(v) for k, v in (item.split("=") for item in batch.split(","))}}
    report: Dict[str, Any] = {"command": " ".join(["python", "benchmarks/speed_all_cores.py", *sys.argv[1:]]),
                              "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                              "machine": describe_machine(), **args, "groups": {}}
    for group in ("processes", "threads"):
        report["groups"][group] = run_group(group, args, limit)
        print(group, json.dumps(report["groups"][group]), flush=True)
    rows = {k: v for g in report["groups"].values() if "error" not in g for k, v in g.items()}
    ref = next((v["tok_per_s"] for k, v in rows.items() if k.startswith("spacy_ner")), None)
    if ref:
        report["ratios_to_spacy_ner"] = {k: round(v["tok_per_s"] / ref, 2) for k, v in rows.items()}
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report.get("ratios_to_spacy_ner"), indent=1))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--measure"]:
        print(json.dumps(measure(sys.argv[2], json.loads(sys.argv[3]))))
    else:
        typer.run(main)
