"""Time to accuracy: dev F1 against wall seconds for spaCy's `ner` and
`bilstm_crf_ner` recipes, trained on the same corpus in one run.

Every system is one `spacy train` process with the same reader, the same
vectors, the same dev set scored every `--eval-frequency` steps and the same
number of threads. Its `spacy-bioner.ProgressLogger.v1` writes each
evaluation with the wall seconds since training began, and the process is
stopped after `--budget` seconds. The best checkpoint is then scored on the
test split. Systems run `--parallel` at a time, one thread each by default,
so a 16-core machine measures 15 recipes in one budget.

    python benchmarks/time_to_accuracy.py ../shared/corpora/NCBI-disease \\
        --systems benchmarks/recipes.json --only spacy_ner,recipe2 \\
        --vectors vectors/biomed-w2v --budget 480 --parallel 2 \\
        --output docs/benchmarks/time_to_accuracy_ncbi_disease.json

The systems file maps a name to {"system": "spacy_ner"} or to
{"config": PATH, "set": {dotted.key: value}, "vectors": DIR} (values may be
config blocks, e.g. a learn-rate schedule; "vectors" replaces --vectors for
that system; "eval_frequency" replaces --eval-frequency, e.g. so that a
system with twice the tokens per batch is evaluated as often per token),
see `benchmarks/recipes.json`. Writes a JSON
(curves, seconds to each threshold, best dev F1, test F1 of the best
checkpoint, tokens/s) and a PNG of the curves beside it.
"""
import datetime
import json
import os
import platform
import re
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Dict, List, Optional

import typer

ROOT = Path(__file__).resolve().parents[1]
THRESHOLDS = (0.70, 0.75, 0.78, 0.80)


def _set(config: Dict[str, Any], dotted: str, value: Any) -> None:
    *path, last = dotted.split(".")
    node = config
    for part in path:
        node = node.setdefault(part, {})
    node[last] = value


def spacy_ner_config(vectors: bool) -> Dict[str, Any]:
    """`spacy init config --pipeline ner --optimize efficiency`, with static
    vectors on when the bilstm recipes get vectors too (equal inputs)."""
    from spacy.cli.init_config import init_config

    config = init_config(lang="en", pipeline=["ner"], optimize="efficiency", gpu=False)
    if vectors:
        config["components"]["tok2vec"]["model"]["embed"]["include_static_vectors"] = True
    return config


def write_config(spec: Dict[str, Any], path: Path, vectors: bool) -> None:
    from spacy.util import load_config

    if spec.get("system") == "spacy_ner":
        config = spacy_ner_config(vectors)
    else:
        config = load_config(ROOT / spec["config"], interpolate=False)
    for split in ("train", "dev"):
        config["corpora"][split] = {"@readers": "spacy-bioner.TsvCorpus.v1", "path": f"${{paths.{split}}}",
                                    "label_map": None, "keep_labels": None, "limit": 0, "shuffle": False}
    for key, value in spec.get("set", {}).items():
        _set(config, key, value)
    config.to_disk(path)


def start(name: str, config: Path, corpus: Path, out: Path, vectors: Optional[Path],
          eval_frequency: int, threads: int, seed: int) -> subprocess.Popen:
    log = out / "curve.jsonl"
    cmd = [
        sys.executable, "-m", "spacy", "train", str(config), "--output", str(out),
        "--paths.train", str(corpus / "train.tsv"), "--paths.dev", str(corpus / "dev.tsv"),
        "--paths.vectors", str(vectors) if vectors else "null",
        "--training.max_epochs", "1000", "--training.max_steps", "0", "--training.patience", "0",
        "--training.eval_frequency", str(eval_frequency), "--training.seed", str(seed),
        "--training.logger.@loggers", "spacy-bioner.ProgressLogger.v1",
        "--training.logger.output_file", str(log),
        "--training.logger.progress_bar", "false", "--training.logger.console_output", "true",
    ]
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads),
               OPENBLAS_NUM_THREADS=str(threads), PYTHONUNBUFFERED="1")
    out.mkdir(parents=True, exist_ok=True)
    stdout = (out / "train.log").open("w")
    # Its own process group, so that stopping it stops nothing else.
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=stdout, stderr=subprocess.STDOUT,
                            start_new_session=True)


def read_curve(path: Path) -> List[Dict[str, Any]]:
    if not path.exists():
        return []
    points = []
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue  # a line cut by the stop
        f = record["scores"].get("ents_f", record["score"])
        points.append({"seconds": record["seconds"], "step": record["step"], "epoch": record["epoch"],
                       "words": record["words"], "dev_f": f})
    return points


def test_f1(model: Path, corpus: Path, threads: int) -> Optional[float]:
    """Exact-match F1 of a saved checkpoint on the test split (None if the
    run saved none)."""
    if not (model / "meta.json").exists():
        return None
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    proc = subprocess.run([sys.executable, "-m", "spacy_bioner.cli", "evaluate", str(model), str(corpus / "test.tsv")],
                          cwd=ROOT, env=env, capture_output=True, text=True)
    found = re.search(r"exact F1: ([0-9.]+)", proc.stdout)
    return round(float(found.group(1)) / 100, 4) if found else None


def summarize(curve: List[Dict[str, Any]], budget: float) -> Dict[str, Any]:
    kept = [p for p in curve if p["seconds"] <= budget]
    summary: Dict[str, Any] = {"evaluations": len(kept)}
    best = max(kept, key=lambda p: p["dev_f"], default=None)
    summary["best_dev_f"] = round(best["dev_f"], 4) if best else None
    summary["best_at_seconds"] = best["seconds"] if best else None
    for threshold in THRESHOLDS:
        reached = next((p["seconds"] for p in kept if p["dev_f"] >= threshold), None)
        summary[f"seconds_to_{threshold:.2f}"] = reached
    last = kept[-1] if kept else None
    summary["train_words_per_s"] = round(last["words"] / last["seconds"]) if last and last["seconds"] else None
    summary["epochs_done"] = last["epoch"] if last else None
    return summary


def markdown_table(report: Dict[str, Any]) -> str:
    """The report's systems as a Markdown table: seconds to each dev-F1
    threshold and to spaCy `ner`'s best, best dev F1, test F1, words/s."""
    systems = report["systems"]
    ref = systems.get("spacy_ner", {}).get("best_dev_f")
    head = ["system", *[f"s to {t:.2f}" for t in THRESHOLDS]]
    if ref is not None:
        head.append(f"s to spaCy's best ({ref:.3f})")
    head += ["best dev F1", "test F1 (best ckpt)", "epochs", "train words/s"]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    fmt = lambda v: "—" if v is None else (f"{v:.0f}" if isinstance(v, float) else str(v))  # noqa: E731
    for name, r in systems.items():
        cells = [f"`{name}`", *[fmt(r[f"seconds_to_{t:.2f}"]) for t in THRESHOLDS]]
        if ref is not None:
            cells.append(fmt(next((p["seconds"] for p in r["curve"] if p["dev_f"] >= ref), None)))
        cells += [f"{r['best_dev_f']:.3f}" if r["best_dev_f"] is not None else "—",
                  f"{r['test_f_of_best']:.3f}" if r["test_f_of_best"] is not None else "—",
                  fmt(r["epochs_done"]), fmt(r["train_words_per_s"])]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows) + "\n"


def plot(results: Dict[str, Dict[str, Any]], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 5.5))
    for name, result in results.items():
        curve = result["curve"]
        if curve:
            style = "k--" if name == "spacy_ner" else "-"
            ax.plot([p["seconds"] for p in curve], [p["dev_f"] for p in curve], style, label=name, linewidth=1.2)
    ax.set_xlabel("wall seconds (1 thread each, dev evaluations included)")
    ax.set_ylabel("dev F1 (exact)")
    ax.set_ylim(0.4, None)
    ax.grid(alpha=0.3)
    ax.set_title(title)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(
    corpus: Path = typer.Argument(..., help="Folder with train.tsv, dev.tsv, test.tsv"),
    systems: Path = typer.Option(ROOT / "benchmarks" / "recipes.json", help="JSON file of systems"),
    only: str = typer.Option("", help="Comma-separated system names to run (default: all)"),
    vectors: Optional[Path] = typer.Option(None, help="spaCy vectors directory for every system"),
    budget: float = typer.Option(480.0, help="Wall seconds each system trains for"),
    eval_frequency: int = typer.Option(100, help="Steps between dev evaluations"),
    parallel: int = typer.Option(1, help="Systems trained at once"),
    threads: int = typer.Option(1, help="Threads per system"),
    seed: int = typer.Option(0, help="Training seed"),
    work_dir: Path = typer.Option(Path("training/time_to_accuracy"), help="Models and logs (not committed)"),
    output: Path = typer.Option(..., help="Results JSON; a .png is written beside it"),
    machine: str = typer.Option("", help="Where it ran, in words (recorded in the JSON)"),
) -> None:
    specs = json.loads(systems.read_text())
    names = [n for n in (only.split(",") if only else specs) if n]
    unknown = [n for n in names if n not in specs]
    if unknown:
        raise typer.BadParameter(f"unknown systems {unknown}; {systems} has {sorted(specs)}")
    corpus = corpus.resolve()
    work = (ROOT / work_dir / corpus.name).resolve()
    work.mkdir(parents=True, exist_ok=True)
    vectors = vectors.resolve() if vectors else None
    queue = list(names)
    running: Dict[str, Any] = {}
    while queue or running:
        while queue and len(running) < parallel:
            name = queue.pop(0)
            out = work / name
            config = work / f"{name}.cfg"
            write_config(specs[name], config, vectors is not None)
            # A system may bring its own vectors (the vector-table lever).
            own = (ROOT / specs[name]["vectors"]).resolve() if specs[name].get("vectors") else vectors
            every = int(specs[name].get("eval_frequency", eval_frequency))
            running[name] = (start(name, config, corpus, out, own, every, threads, seed),
                             time.monotonic())
        time.sleep(2)
        for name, (proc, began) in list(running.items()):
            if proc.poll() is not None or time.monotonic() - began > budget + 5:
                if proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGTERM)
                    try:
                        proc.wait(30)
                    except subprocess.TimeoutExpired:
                        os.killpg(proc.pid, signal.SIGKILL)
                del running[name]
    # The best checkpoints are scored on the test split side by side.
    with ThreadPoolExecutor(max_workers=parallel) as pool:
        tests = dict(zip(names, pool.map(lambda n: test_f1(work / n / "model-best", corpus, threads), names)))
    results: Dict[str, Dict[str, Any]] = {}
    for name in names:
        curve = read_curve(work / name / "curve.jsonl")
        results[name] = {"spec": specs[name], **summarize(curve, budget), "test_f_of_best": tests[name],
                         "curve": curve}
        print(name, {k: v for k, v in results[name].items() if k not in ("curve", "spec")}, flush=True)
    report = {
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "machine": machine or f"{platform.platform()}, {os.cpu_count()} CPUs",
        "python": platform.python_version(),
        "corpus": corpus.name,
        "budget_s": budget,
        "threads_per_system": threads,
        "systems_in_parallel": parallel,
        "eval_frequency": eval_frequency,
        "vectors": str(vectors.name) if vectors else None,
        "systems": results,
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=1) + "\n")
    output.with_suffix(".md").write_text(
        f"# Time to accuracy: {corpus.name}\n\n`{report['command']}`, {report['date']}, {report['machine']}; "
        f"budget {budget:.0f} s per system, {threads} thread(s) each, dev scored every {eval_frequency} steps "
        "(wall seconds include the evaluations).\n\n" + markdown_table(report))
    plot(results, output.with_suffix(".png"), f"{corpus.name}: dev F1 against wall time")


if __name__ == "__main__":
    typer.run(main)
