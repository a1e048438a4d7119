"""Speed and memory of `bilstm_crf_ner` against spaCy's own `ner`, in one run.

Both pipelines are trained with `spacy train` on the same corpus, read by the
same reader, for the same number of epochs; spaCy's `ner` uses the config
that `spacy init config --pipeline ner --optimize efficiency` writes. Then
each trained pipeline annotates the test texts (tokenization included, as an
application would run it). Every measurement runs in its own subprocess, so
that its peak resident memory can be read.

    python benchmarks/speed_vs_spacy_ner.py ../shared/corpora/NCBI-disease \
        --epochs 3 --output docs/benchmarks/speed_ncbi_disease.json

Targets (issue #3): inference >= 1.5x spaCy `ner`, training >= 0.8x.
"""
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List

import typer
from time_to_accuracy import write_config  # the same spaCy `ner` config in every benchmark

ROOT = Path(__file__).resolve().parents[1]


# Runs a command as its own child and writes that child's peak RSS (KiB) to
# a file, so that each measurement has its own peak, not the running max.
WRAP = (
    "import resource, subprocess, sys; subprocess.run(sys.argv[2:], check=True); "
    "open(sys.argv[1], 'w').write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))"
)


def run_measured(cmd: List[str], work_dir: Path) -> Dict[str, float]:
    """Run a command; return its wall time and peak RSS (MiB)."""
    peak_file = work_dir / "peak_rss.txt"
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", WRAP, str(peak_file), *cmd], check=True, cwd=ROOT)
    wall = time.perf_counter() - start
    return {"wall_s": wall, "peak_rss_mib": int(peak_file.read_text()) / 1024}


def count_tokens(path: Path) -> int:
    with path.open(encoding="utf8") as f:
        return sum(1 for line in f if line.strip() and not line.startswith("-DOCSTART-"))


INFER = """
import json, sys, time, spacy
from spacy_bioner.corpora.conll import read_conll
model, test, repeats = sys.argv[1], sys.argv[2], int(sys.argv[3])
nlp = spacy.load(model)
docs, _ = read_conll(test, nlp.vocab)
texts = [d.text for d in docs]
n_tokens = sum(len(nlp.make_doc(t)) for t in texts)
list(nlp.pipe(texts[:200]))  # warm-up
best = float("inf")
for _ in range(repeats):
    start = time.perf_counter()
    for _doc in nlp.pipe(texts, batch_size=256):
        pass
    best = min(best, time.perf_counter() - start)
import resource
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"tokens": n_tokens, "best_s": best, "tok_per_s": n_tokens / best, "peak_rss_mib": peak}))
"""


def main(
    corpus: Path = typer.Argument(..., help="Folder with train.tsv, dev.tsv, test.tsv"),
    epochs: int = typer.Option(3, help="Epochs each system trains for"),
    repeats: int = typer.Option(3, help="Inference passes; the fastest counts"),
    work_dir: Path = typer.Option(Path("training/benchmark"), help="Where models go (not committed)"),
    output: Path = typer.Option(Path("docs/benchmarks/speed.json"), help="Results JSON (a .md is written beside it)"),
) -> None:
    corpus = corpus.resolve()
    work_dir = (ROOT / work_dir).resolve()
    work_dir.mkdir(parents=True, exist_ok=True)
    write_config({"system": "spacy_ner"}, work_dir / "spacy_ner.cfg", vectors=False)
    systems = {
        "bilstm_crf_ner": ROOT / "configs" / "bilstm_crf.cfg",
        "spacy_ner": work_dir / "spacy_ner.cfg",
    }
    train_tokens = count_tokens(corpus / "train.tsv")
    results: Dict[str, Dict] = {}
    for name, config in systems.items():
        out = work_dir / name
        train = run_measured([
            sys.executable, "-m", "spacy", "train", str(config), "--output", str(out),
            "--paths.train", str(corpus / "train.tsv"), "--paths.dev", str(corpus / "dev.tsv"),
            "--training.max_epochs", str(epochs), "--training.patience", "0",
            "--training.max_steps", "0",
        ], work_dir)
        infer_cmd = [sys.executable, "-c", INFER, str(out / "model-last"), str(corpus / "test.tsv"), str(repeats)]
        proc = subprocess.run(infer_cmd, check=True, cwd=ROOT, capture_output=True, text=True)
        infer = json.loads(proc.stdout.strip().splitlines()[-1])
        meta = json.loads((out / "model-last" / "meta.json").read_text())
        results[name] = {
            "train_wall_s": round(train["wall_s"], 1),
            "train_tok_per_s": round(epochs * train_tokens / train["wall_s"]),
            "train_peak_rss_mib": round(train["peak_rss_mib"]),
            "infer_tok_per_s": round(infer["tok_per_s"]),
            "infer_peak_rss_mib": round(infer["peak_rss_mib"]),
            "dev_ents_f": meta.get("performance", {}).get("ents_f"),
        }
    ours, ref = results["bilstm_crf_ner"], results["spacy_ner"]
    report = {
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "machine": f"{platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "corpus": corpus.name,
        "epochs": epochs,
        "train_tokens_per_epoch": train_tokens,
        "systems": results,
        "ratios": {
            "inference": round(ours["infer_tok_per_s"] / ref["infer_tok_per_s"], 2),
            "training": round(ours["train_tok_per_s"] / ref["train_tok_per_s"], 2),
        },
        "targets": {"inference": 1.5, "training": 0.8},
    }
    output = ROOT / output
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2) + "\n")
    rows = "\n".join(
        f"| {n} | {r['train_tok_per_s']:,} | {r['infer_tok_per_s']:,} | {r['train_peak_rss_mib']} | "
        f"{r['infer_peak_rss_mib']} | {r['dev_ents_f']:.3f} |"
        for n, r in results.items()
    )
    output.with_suffix(".md").write_text(
        f"# Speed: bilstm_crf_ner vs spaCy ner ({corpus.name}, {epochs} epochs each)\n\n"
        f"`{report['command']}` on {report['date']}, {report['machine']}.\n\n"
        "| system | training tok/s (wall, dev evals incl.) | inference tok/s | train peak RSS MiB | "
        "inference peak RSS MiB | dev F1 after the budget |\n|---|---|---|---|---|---|\n"
        f"{rows}\n\nRatios (ours / spaCy ner): inference **{report['ratios']['inference']}x** "
        f"(target 1.5x), training **{report['ratios']['training']}x** (target 0.8x).\n"
    )
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    typer.run(main)
