"""Transfer learning in the grid: per target corpus, a silver corpus and an
encoder pretrained on it, then the `tl` grid variant fine-tunes on the gold
corpus (configs/finetune.cfg, `--paths.pretrained` of that corpus).

Honesty rule. A transfer model fine-tuned on corpus A is tested out of corpus
on the other corpora of A's group, so its silver corpus is built only by
taggers that were trained on none of them: each target corpus gets its own
silver corpus, drawn from one pool of taggers (`vars.silver_pool`) with the
group's other corpora left out (`build-silver --leave-out ... --exclude-left-out`).
The taggers' votes are cached per tagger (`vars.votes_dir`), so the pool
annotates the text once, not once per target.

Every step is its own process, is skipped when its marker exists, and is
claimed while it runs, so the grid resumes and several workers can share it.
"""
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from wasabi import msg

from .grid import (
    CLAIM_FILE,
    GridSettings,
    StepFailed,
    display_command,
    git_commit,
    machine_info,
    project_vars,
    split_words,
    try_claim,
    write_json_atomic,
    _now,
)

PRETRAIN_MARKER = "pretrain.json"
STAGES = ("taggers", "silver", "pretrain", "all")
# Runs a command (cmd, cwd, log path) and returns (exit code, peak RSS MiB).
MeasuredRunner = Callable[[List[str], Path, Path], Tuple[int, float]]


@dataclass
class TransferSettings:
    """The transfer-learning vars of project.yml."""

    text: Path
    pool: List[str]
    k: int
    cap_k: bool
    agreement: str
    pmid_blacklist: Path
    entity_blacklist: Path
    silver_dir: Path
    votes_dir: Path
    ssc_dir: Path
    ssc_max_steps: int
    limit: int = 0

    def silver(self, corpus: str) -> Path:
        return self.silver_dir / corpus

    def pretrained(self, corpus: str) -> Path:
        return self.ssc_dir / corpus


def load_transfer_settings(grid: GridSettings, overrides: Optional[Dict[str, Any]] = None) -> TransferSettings:
    """Read the transfer vars of the project beside `grid`.

    grid (GridSettings): The grid's settings (project folder, vectors, ...).
    overrides (Optional[Dict[str, Any]]): Weasel-style var overrides.
    RETURNS (TransferSettings): The resolved settings.
    """
    v = project_vars(grid.project_dir, overrides)
    mirror = Path(v.get("corpora_mirror", "../shared/corpora"))
    return TransferSettings(
        text=Path(v["silver_text"]),
        pool=split_words(v["silver_pool"]),
        k=int(v.get("silver_k", 2)),
        cap_k=str(v.get("silver_cap_k", "true")).lower() in ("1", "true", "yes"),
        agreement=str(v.get("silver_agreement", "exact")),
        pmid_blacklist=Path(v.get("silver_pmid_blacklist", mirror / "blacklists" / "pmid_blacklists")),
        entity_blacklist=Path(v.get("silver_entity_blacklist", mirror / "blacklists" / "entity_blacklists")),
        silver_dir=Path(v["silver_dir"]),
        votes_dir=Path(v["votes_dir"]),
        ssc_dir=Path(v["ssc_dir"]),
        ssc_max_steps=int(v.get("ssc_max_steps", 0)),
        limit=int(v.get("silver_limit", 0)),
    )


def left_out(grid: GridSettings, corpus: str) -> List[str]:
    """The corpora a transfer model for `corpus` is tested on out of corpus:
    the other corpora of its group. No tagger of its silver corpus may have
    been trained on one of them."""
    for corpora in grid.groups.values():
        if corpus in corpora:
            return [c for c in corpora if c != corpus]
    raise ValueError(f"{corpus} is in no group of vars.groups ({', '.join(grid.groups)})")


def silver_command(grid: GridSettings, ts: TransferSettings, corpus: str) -> List[str]:
    """The `build-silver` command of a target corpus."""
    cmd = [sys.executable, "-m", "spacy_bioner.cli", "build-silver", str(ts.text),
           "--output", str(ts.silver(corpus)), "--taggers", " ".join(ts.pool),
           "--leave-out", " ".join(left_out(grid, corpus)), "--exclude-left-out",
           "--k", str(ts.k), "--agreement", ts.agreement, "--votes-dir", str(ts.votes_dir),
           "--pmid-blacklist", str(ts.pmid_blacklist), "--entity-blacklist", str(ts.entity_blacklist)]
    if ts.cap_k:
        cmd.append("--cap-k")
    if ts.limit:
        cmd += ["--limit", str(ts.limit)]
    return cmd


def pretrain_steps(ts: TransferSettings, report: Dict[str, Any], batch_size: int) -> int:
    """Batches of pretraining: `ssc_max_steps`, or with 0 one pass over the
    silver sentences (the papers' one epoch)."""
    if ts.ssc_max_steps > 0:
        return ts.ssc_max_steps
    sentences = int(report["documents"]["sentences_written"])
    return max(1, -(-sentences // batch_size))


def pretrain_command(grid: GridSettings, ts: TransferSettings, corpus: str, max_steps: int, seed: int = 0) -> List[str]:
    """The `spacy train` command that pretrains on a target's silver corpus.

    The silver folder is streamed shard by shard (spaCy streams only with
    `max_epochs = -1`), so memory does not grow with the silver corpus; its
    first 500 sentences serve as a dev set only to save a checkpoint, and
    fine-tuning starts from model-last.
    """
    silver = str(ts.silver(corpus))
    cmd = [sys.executable, "-m", "spacy", "train", str(grid.config), "--output", str(ts.pretrained(corpus)),
           "--paths.train", silver, "--paths.dev", silver, "--corpora.dev.limit", "500",
           "--training.max_epochs", "-1", "--training.max_steps", str(max_steps),
           # No early stop: the dev set is silver, and one pass is the budget.
           "--training.patience", "0",
           "--training.seed", str(seed), "--system.seed", str(seed), "--gpu-id", str(grid.gpu_id)]
    if grid.vectors is not None:
        cmd += ["--paths.vectors", str(grid.vectors)]
    return cmd + grid.variants.get("baseline", [])


def measured_run(cmd: List[str], cwd: Path, log_path: Path, poll_s: float = 0.2) -> Tuple[int, float]:
    """Run a command, logging its output; return its exit code and its peak
    resident memory in MiB.

    The peak is the process's own VmHWM, polled from /proc while it runs.
    (The child's rusage cannot be used: Linux counts in it the parent's
    memory at fork time, before exec.) Where /proc is missing it is 0.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    peak_kib = 0
    with log_path.open("w", encoding="utf8") as log:
        log.write("$ " + display_command(cmd) + "\n")
        log.flush()
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, env=env)
        status = Path(f"/proc/{proc.pid}/status")
        while proc.poll() is None:
            peak_kib = max(peak_kib, _vm_hwm_kib(status))
            time.sleep(poll_s)
    return proc.returncode, round(peak_kib / 1024, 1)


def _vm_hwm_kib(status: Path) -> int:
    try:
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def tagger_command(grid: GridSettings, corpus: str, model: Path) -> List[str]:
    """The `spacy train` command of a pool tagger: the grid's BL recipe and
    budget, seed 0, on the corpus's train/dev splits; `model` is the
    `model-best` folder the pool names."""
    cmd = [sys.executable, "-m", "spacy", "train", str(grid.config), "--output", str(model.parent),
           "--paths.train", str(grid.split(corpus, "train")), "--paths.dev", str(grid.split(corpus, "dev")),
           "--training.seed", "0", "--system.seed", "0", "--gpu-id", str(grid.gpu_id)]
    if grid.vectors is not None:
        cmd += ["--paths.vectors", str(grid.vectors)]
    return cmd + grid.training_overrides + grid.variants.get("baseline", [])


def train_taggers(grid: GridSettings, ts: TransferSettings, runner: MeasuredRunner = measured_run) -> Dict[str, str]:
    """Train every pool tagger whose model does not exist yet."""
    from ..silver.build import Tagger

    status = {}
    for spec in ts.pool:
        tagger = Tagger.parse(spec)
        model = Path(tagger.path)
        if grid.path(model).exists():
            status[f"tagger/{tagger.name}"] = "skipped"
            continue
        if not tagger.trained_on:
            raise StepFailed(f"Pool tagger {spec!r} names no corpus (CLASS:CORPUS=MODEL), so it cannot be trained")
        cmd = tagger_command(grid, tagger.trained_on, model)
        msg.divider(f"tagger {tagger.name}")
        log = grid.path(model.parent) / "train.log"
        rc, _ = runner(cmd, grid.project_dir, log)
        if rc != 0:
            raise StepFailed(f"training tagger {tagger.name} exited with {rc}; see {log}")
        status[f"tagger/{tagger.name}"] = "done"
    return status


def build_silver_step(grid: GridSettings, ts: TransferSettings, corpus: str, runner: MeasuredRunner = measured_run) -> str:
    """Build a target's silver corpus unless its report exists."""
    out = grid.path(ts.silver(corpus))
    if (out / "report.json").exists():
        return "skipped"
    if out.exists():
        # A build that was cut off: its shards are incomplete, and
        # build-silver refuses a non-empty folder. Only its own files go.
        for p in out.glob("silver-*.spacy"):
            p.unlink()
        for p in out.glob(".silver-*.part"):
            p.unlink()
    cmd = silver_command(grid, ts, corpus)
    msg.divider(f"silver {corpus} (leave out {', '.join(left_out(grid, corpus))})")
    log = grid.path(ts.silver_dir) / f"build-{corpus}.log"
    rc, rss = runner(cmd, grid.project_dir, log)
    if rc != 0:
        raise StepFailed(f"build-silver for {corpus} exited with {rc}; see {log}")
    return "done"


def pretrain_step(grid: GridSettings, ts: TransferSettings, corpus: str, runner: MeasuredRunner = measured_run) -> str:
    """Pretrain on a target's silver corpus unless its marker exists."""
    out = grid.path(ts.pretrained(corpus))
    marker = out / PRETRAIN_MARKER
    if marker.exists():
        return "skipped"
    report_path = grid.path(ts.silver(corpus)) / "report.json"
    if not report_path.exists():
        raise StepFailed(f"No silver corpus for {corpus} ({report_path} missing): run the silver stage first")
    claim = out / CLAIM_FILE
    if not try_claim(claim):
        return "claimed"
    try:
        report = json.loads(report_path.read_text(encoding="utf8"))
        steps = pretrain_steps(ts, report, _batch_size(grid))
        cmd = pretrain_command(grid, ts, corpus, steps)
        msg.divider(f"pretrain {corpus} ({steps} batches)")
        start = time.time()
        rc, rss = runner(cmd, grid.project_dir, out / "train.log")
        if rc != 0:
            raise StepFailed(f"pretraining for {corpus} exited with {rc}; see {out / 'train.log'}")
        write_json_atomic(marker, {
            "command": display_command(cmd),
            "max_steps": steps,
            "silver": {"path": str(ts.silver(corpus)), "documents": report["documents"],
                       "taggers": report["taggers"], "excluded_taggers": report.get("excluded_taggers", []),
                       "kept": {c: m["kept"] for c, m in report["mentions"].items()}},
            "wall_time_s": round(time.time() - start, 1),
            "peak_rss_mib": rss,
            "finished": _now(),
            "machine": machine_info(grid.gpu_id),
            "git": git_commit(),
        })
    finally:
        claim.unlink(missing_ok=True)
    return "done"


def _batch_size(grid: GridSettings) -> int:
    from spacy.util import load_config

    config = load_config(grid.path(grid.config), interpolate=False)
    return int(config["training"]["batcher"].get("size", 16))


def prepare(grid: GridSettings, ts: TransferSettings, corpora: Sequence[str], stage: str = "all",
            runner: MeasuredRunner = measured_run) -> Dict[str, str]:
    """Train the missing pool taggers, then build the silver corpora and
    pretrain, for the given target corpora.

    stage (str): "taggers", "silver", "pretrain" or "all" (in that order).
    RETURNS (Dict[str, str]): {"tagger/<name>" | "silver/<corpus>" |
        "pretrain/<corpus>": "done" | "skipped" | "claimed"}.
    """
    if stage not in STAGES:
        raise ValueError(f"stage must be one of {STAGES}")
    status: Dict[str, str] = {}
    if stage in ("taggers", "all"):
        status.update(train_taggers(grid, ts, runner))
    if stage in ("silver", "all"):
        for corpus in corpora:
            status[f"silver/{corpus}"] = build_silver_step(grid, ts, corpus, runner)
    if stage in ("pretrain", "all"):
        for corpus in corpora:
            status[f"pretrain/{corpus}"] = pretrain_step(grid, ts, corpus, runner)
    return status
