"""Bulk annotation throughput at PubMed scale: `spacy-bioner annotate` over
at least 20,000 abstracts, with 1 process, 2 processes (`--n-process 2`) and
the Ray backend on a local cluster, one thread per worker.

The abstracts are the mirror's unlabeled biomedical text, repeated under new
ids until there are `--abstracts` of them, split into `--shards` JSONL files
(the sharded, resumable output path that a PubMed run would use). Each
configuration runs as its own `annotate` command(s): one process, `--n-process
2`, two independent commands on disjoint shards, and Ray; a sampler reads the
resident memory of every process of its tree from /proc twice a second.
From the measured rate the report projects the hours for all of PubMed.

With `--baseline` (e.g. a trained spaCy `ner` pipeline), every configuration
also runs that pipeline through the same `annotate` commands, the two
alternated over `--passes` passes (the order turning each pass), and the
report gives each one's median rate and the ratio: the all-core comparison of
the two systems on the bulk path, where no main process decodes the docs.

    python benchmarks/pubmed_throughput.py training/speed/ours/model-best \\
        --text assets/corpora/unlabeled/biomed_text.jsonl.gz --abstracts 20000 \\
        --output docs/benchmarks/pubmed_throughput.json
"""
import datetime
import gzip
import json
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Dict, List, Optional

import typer

ROOT = Path(__file__).resolve().parents[1]
# PubMed's size for the projection (assumptions, written into the report).
PUBMED_ABSTRACTS = 36_000_000


def write_inputs(text: Path, n: int, shards: int, folder: Path) -> List[Path]:
    """`n` records cycled from `text` (new ids), dealt into `shards` files."""
    with gzip.open(text, "rt", encoding="utf8") as f:
        records = [json.loads(line) for line in f if line.strip()]
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"shard{i:02d}.jsonl" for i in range(shards)]
    outs = [p.open("w", encoding="utf8") for p in paths]
    for i in range(n):
        record = records[i % len(records)]
        copy = {"id": f"r{i // len(records)}-{record['id']}", "text": record["text"]}
        outs[i % shards].write(json.dumps(copy) + "\n")
    for out in outs:
        out.close()
    return paths


def count_tokens(paths: List[Path]) -> int:
    import spacy

    tokenizer = spacy.blank("en").tokenizer
    total = 0
    for path in paths:
        with path.open(encoding="utf8") as f:
            total += sum(len(doc) for doc in tokenizer.pipe(json.loads(line)["text"] for line in f))
    return total


def _tree_rss(root: int) -> Dict[int, int]:
    """RSS (KiB) of `root` and all its descendants, from /proc."""
    children: Dict[int, List[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    rss: Dict[int, int] = {}
    stack = [root]
    while stack:
        pid = stack.pop()
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        rss[pid] = int(line.split()[1])
        except OSError:
            pass
        stack.extend(children.get(pid, []))
    return rss


def run(cmds: List[List[str]], env: Dict[str, str]) -> Dict[str, float]:
    """Run commands side by side; the wall time until all are done and the
    peak RSS of the largest process and of all their processes (MiB)."""
    peak_one = peak_sum = 0
    start = time.perf_counter()
    procs = [subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for cmd in cmds]
    done = threading.Event()

    def sample() -> None:
        nonlocal peak_one, peak_sum
        while not done.is_set():
            rss = {pid: kib for proc in procs for pid, kib in _tree_rss(proc.pid).items()}
            if rss:
                peak_one, peak_sum = max(peak_one, max(rss.values())), max(peak_sum, sum(rss.values()))
            time.sleep(0.5)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    outputs = [proc.communicate()[0] for proc in procs]
    wall = time.perf_counter() - start
    done.set()
    sampler.join()
    for cmd, proc, out in zip(cmds, procs, outputs):
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{out[-2000:]}")
    return {"wall_s": round(wall, 1), "peak_rss_largest_process_mib": round(peak_one / 1024),
            "peak_rss_all_processes_mib": round(peak_sum / 1024)}


def workers(config: str) -> int:
    return int(config.replace("ray", "").replace("split", "").replace("threads", ""))


def run_config(model: Path, config: str, inputs: List[Path], work: Path, env: Dict[str, str],
               abstracts: int) -> Dict[str, float]:
    """One configuration's `annotate` command(s) with `model`, into a fresh
    output folder of this benchmark; checks that every record was written."""
    out = work / f"out-{config}"
    if out.exists():
        shutil.rmtree(out)  # our own output folder from an earlier run of this benchmark

    def annotate(files: List[Path]) -> List[str]:
        return [sys.executable, "-m", "spacy_bioner.cli", "annotate", str(model), *map(str, files),
                "-o", str(out), "--batch-size", "256", "--format", "jsonl"]

    if config.startswith("ray"):
        cmds = [annotate(inputs) + ["--backend", "ray", "--ray-actors", config[3:]]]
    elif config.startswith("threads"):
        cmds = [annotate(inputs) + ["--threads", config[7:]]]
    elif config.startswith("split"):
        # Independent single-process commands on disjoint shards: how a
        # PubMed run would use N cores without any coordination.
        n = int(config[5:])
        cmds = [annotate(inputs[i::n]) for i in range(n)]
    else:
        cmds = [annotate(inputs) + ["--n-process", config]]
    measured = run(cmds, env)
    written = sum(1 for shard in out.glob("*.jsonl") for _ in shard.open(encoding="utf8"))
    if written != abstracts:
        raise RuntimeError(f"{model} {config}: {written} records written for {abstracts} abstracts")
    return {**measured, "records": written}


def main(
    model: Path = typer.Argument(..., help="A trained pipeline"),
    text: Path = typer.Option(ROOT / "assets/corpora/unlabeled/biomed_text.jsonl.gz", help="JSONL(.gz) abstracts"),
    abstracts: int = typer.Option(20000, help="Abstracts to annotate per configuration"),
    shards: int = typer.Option(8, help="Input files (one output shard each)"),
    work_dir: Path = typer.Option(Path("training/pubmed_throughput"), help="Inputs and outputs (not committed)"),
    configs: str = typer.Option("1,2,split2,ray2", help="Comma-separated: N (one command, --n-process N), threadsN (one command, --threads N), splitN (N independent commands on disjoint shards), rayN (Ray, N actors)"),
    output: Path = typer.Option(..., help="Report JSON (a .md is written beside it)"),
    baseline: Optional[Path] = typer.Option(None, help="A second pipeline (e.g. spaCy's ner) run through the same commands, alternated"),
    passes: int = typer.Option(1, help="Passes per configuration and pipeline (median wall time counts)"),
) -> None:
    work = (ROOT / work_dir).resolve()
    inputs = write_inputs(text, abstracts, shards, work / "inputs")
    n_tokens = count_tokens(inputs)
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
               RAY_DEDUP_LOGS="0", PYTHONUNBUFFERED="1")
    rows: Dict[str, Dict[str, float]] = {}
    baseline_rows: Dict[str, Dict[str, float]] = {}
    models = [model] if baseline is None else [model, baseline]
    for config in configs.split(","):
        runs: Dict[Path, List[Dict[str, float]]] = {m: [] for m in models}
        for i in range(passes):
            for m in models[i % len(models):] + models[:i % len(models)]:
                runs[m].append(run_config(m, config, inputs, work, env, abstracts))
        for m, target in zip(models, (rows, baseline_rows)):
            measured = sorted(runs[m], key=lambda r: r["wall_s"])[len(runs[m]) // 2]
            target[config] = {**measured, "pass_wall_s": [r["wall_s"] for r in runs[m]],
                              "docs_per_s": round(abstracts / measured["wall_s"], 1),
                              "tokens_per_s": round(n_tokens / measured["wall_s"])}
            print(m, config, target[config], flush=True)
    for table in (rows, baseline_rows):
        base = table.get("1")
        for config, row in table.items():
            row["workers"] = workers(config)
            row["scaling_vs_1_process"] = round(row["docs_per_s"] / base["docs_per_s"], 2) if base else None
    best = max(rows.items(), key=lambda kv: kv[1]["docs_per_s"] / kv[1]["workers"])
    per_worker = best[1]["docs_per_s"] / best[1]["workers"]
    projection = {
        "assumptions": (f"{PUBMED_ABSTRACTS:,} abstracts of the length of these ({n_tokens / abstracts:.0f} tokens "
                        f"each on average); the per-worker rate of '{best[0]}' holds on every core (one "
                        "single-threaded worker per core, shards annotated independently); model loading and "
                        "I/O as in these runs; no GPU."),
        "docs_per_s_per_worker": round(per_worker, 1),
        "hours_on_n_cores": {n: round(PUBMED_ABSTRACTS / (per_worker * n) / 3600, 1) for n in (1, 2, 16, 64, 256)},
    }
    report = {
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "machine": f"{platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "threads_per_worker": 1,
        "abstracts": abstracts,
        "tokens": n_tokens,
        "shards": shards,
        "passes": passes,
        "configs": rows,
        "pubmed_projection": projection,
    }
    if baseline is not None:
        report["baseline"] = {"model": str(baseline), "configs": baseline_rows,
                              "ratio_tokens_per_s": {c: round(rows[c]["tokens_per_s"] / baseline_rows[c]["tokens_per_s"], 2)
                                                     for c in rows}}
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=1) + "\n")
    lines = [f"# Bulk annotation throughput ({abstracts:,} abstracts, {n_tokens:,} tokens)", "",
             f"`{report['command']}`, {report['date']}, {report['machine']}; one thread per worker (threadsN: N threads in one process).", "",
             "| configuration | workers | wall s | docs/s | tokens/s | scaling vs 1 process | peak RSS, largest process MiB | peak RSS, all processes MiB |",
             "|---|---|---|---|---|---|---|---|"]
    def name(config: str) -> str:
        if config.startswith("ray"):
            return f"Ray local cluster, {config[3:]} actors"
        if config.startswith("split"):
            return f"{config[5:]} independent `annotate` commands, disjoint shards"
        if config.startswith("threads"):
            return f"local, 1 process, `--threads {config[7:]}`"
        return "local, 1 process" if config == "1" else f"local, `--n-process {config}`"

    for config, row in rows.items():
        lines.append(f"| {name(config)} | {row['workers']} | "
                     f"{row['wall_s']} | {row['docs_per_s']} | {row['tokens_per_s']:,} | {row['scaling_vs_1_process']} | "
                     f"{row['peak_rss_largest_process_mib']} | {row['peak_rss_all_processes_mib']} |")
    if baseline is not None:
        lines += ["", f"**Against `{baseline}`**, through the same commands, alternated ({passes} passes, median "
                  "wall time; the wall time includes loading each pipeline):", "",
                  "| configuration | workers | ours tokens/s | baseline tokens/s | ratio | baseline peak RSS, all processes MiB |",
                  "|---|---|---|---|---|---|"]
        for config, row in rows.items():
            other = baseline_rows[config]
            lines.append(f"| {name(config)} | {row['workers']} | {row['tokens_per_s']:,} | {other['tokens_per_s']:,} | "
                         f"**{report['baseline']['ratio_tokens_per_s'][config]}x** | {other['peak_rss_all_processes_mib']} |")
    lines += ["", f"**All of PubMed.** {projection['assumptions']} Hours: " +
              ", ".join(f"{n} cores {h:,}" for n, h in projection["hours_on_n_cores"].items()) + "."]
    output.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    typer.run(main)
