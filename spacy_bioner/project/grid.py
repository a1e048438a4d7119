"""The resumable experiment grid: one step per (variant, corpus, seed), and
for multi-task variants per (variant, corpus, partner, seed).

A step trains with `spacy train` (a subprocess, so a step can be killed at
any point), evaluates the best model on its own test split (exact boundary)
and on the other corpora of its group (right boundary, entity types
harmonized), and writes `results/<variant>/<corpus>/seed<k>.json`. A step
whose metrics file exists is skipped; a step whose training finished (marker
`training/<variant>/<corpus>/seed<k>/train.json`) only re-runs evaluation.
Both files are written atomically, so a file that exists is complete.

Variants (config overrides) and groups (corpus lists) are read from the
`vars` of project.yml, so the grid and `spacy project run` share one
definition. Steps train with `vars.grid_config` (the grid's recipe, pinned;
`vars.config` when there is none); a variant listed in `vars.variant_configs`
trains with that config instead; a variant in `vars.multitask_variants`
trains its corpus together with each partner corpus of its group (two heads,
`configs/multitask.cfg`), writes `results/<variant>/<corpus>+<partner>/seed<k>.json`,
and is scored out-of-corpus on the group's corpora that are neither.
Every metrics file records the config's sha256 and the variant's overrides.
"""
import datetime
import hashlib
import json
import os
import platform
import re
import shlex
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence

from wasabi import msg

from ..corpora.util import atomic_path
from ..files import pid_alive

METRICS_SCHEMA = 1
# The evaluation protocol a metrics file was scored with. Version 1 lost the
# gold sentence starts, so the pipeline's sentencizer re-split the test data
# after every "." token (cutting "E . coli"); version 2 scores the data's own
# segments, as `spacy train` scores dev. Files of an older version are
# re-scored by `grid run --rescore`, which keeps their figures under
# "superseded".
EVAL_VERSION = 2
EVAL_PROTOCOL = {
    EVAL_VERSION: "gold segments (sentence starts from the reader), model's own entity types",
    1: "test data re-segmented by the pipeline's sentencizer (cuts names at '.' tokens)",
}
TRAIN_MARKER = "train.json"
TRAIN_LOG = "train.log"
CLAIM_FILE = ".claim"
STAGES = ("all", "train", "evaluate")

# A runner executes a command in a folder, teeing its output to a log file,
# and returns the exit code. Tests pass a fake one so no real training runs.
Runner = Callable[[List[str], Path, Path], int]
# An evaluator scores a model on a .tsv file: (model, data, match, harmonize)
# -> {"precision", "recall", "f1"} as fractions, plus the command it ran.
Evaluator = Callable[[Path, Path, str, bool], Dict[str, Any]]


@dataclass(frozen=True)
class Step:
    """One cell of the grid."""

    variant: str
    corpus: str
    seed: int
    group: str
    partner: Optional[str] = None

    @property
    def folder(self) -> str:
        """The step's folder under results/ and training/ (below the variant)."""
        return self.corpus if self.partner is None else f"{self.corpus}+{self.partner}"

    @property
    def name(self) -> str:
        return f"{self.variant}/{self.folder}/seed{self.seed}"


@dataclass
class GridSettings:
    """Everything a step needs, resolved from project.yml vars.

    Paths are relative to `project_dir` unless absolute; commands run in
    `project_dir` and keep them relative, so recorded commands are portable.
    Use `path()` for file-system access.
    """

    project_dir: Path
    config: Path
    corpora_dir: Path
    training_dir: Path
    results_dir: Path
    variants: Dict[str, List[str]]
    groups: Dict[str, List[str]]
    vectors: Optional[Path] = None
    gpu_id: int = -1
    training_overrides: List[str] = field(default_factory=list)
    label_map: str = "default"
    variant_configs: Dict[str, Path] = field(default_factory=dict)
    multitask_variants: List[str] = field(default_factory=list)

    def config_of(self, variant: str) -> Path:
        return self.variant_configs.get(variant, self.config)

    def path(self, p: Path) -> Path:
        return p if p.is_absolute() else self.project_dir / p

    def split(self, corpus: str, split: str) -> Path:
        return self.corpora_dir / corpus / f"{split}.tsv"

    def train_dir(self, step: Step) -> Path:
        return self.training_dir / step.variant / step.folder / f"seed{step.seed}"

    def metrics_path(self, step: Step) -> Path:
        return self.results_dir / step.variant / step.folder / f"seed{step.seed}.json"


def split_words(value: Any) -> List[str]:
    """Turn a project var into a list: "a b c", "a,b,c" or a list."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    return [w for w in re.split(r"[\s,]+", str(value).strip()) if w]


def parse_seeds(values: Iterable[str]) -> List[int]:
    """Accept `--seeds "0 1 2"`, `--seeds 0,1,2` or a repeated option."""
    return [int(w) for value in values for w in split_words(value)]


def var_overrides(assignments: Iterable[str]) -> Dict[str, str]:
    """`--var NAME=VALUE` options as weasel-style overrides.

    assignments (Iterable[str]): "NAME=VALUE" strings.
    RETURNS (Dict[str, str]): {"vars.NAME": "VALUE"}.
    """
    overrides = {}
    for item in assignments:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise ValueError(f"--var {item!r}: expected NAME=VALUE")
        overrides[f"vars.{name}"] = value
    return overrides


def project_vars(project_dir: Path, overrides: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """The `vars` of project.yml with weasel-style overrides applied.

    weasel applies overrides only where vars are referenced, not to the
    returned `vars` block, so they are applied here too.
    """
    from weasel.util import load_project_config

    overrides = overrides or {}
    v = dict(load_project_config(project_dir, overrides=overrides)["vars"])
    for key, value in overrides.items():
        if key.startswith("vars."):
            v[key[len("vars."):]] = value
    return v


def load_settings(project_dir: Path, overrides: Optional[Dict[str, Any]] = None) -> GridSettings:
    """Read the grid's settings from the vars of project.yml.

    project_dir (Path): The folder holding project.yml.
    overrides (Optional[Dict[str, Any]]): Weasel-style var overrides, e.g.
        {"vars.max_epochs": 2}.
    RETURNS (GridSettings): The resolved settings.
    """
    project_dir = project_dir.resolve()
    v = project_vars(project_dir, overrides)
    training_overrides = []
    for key in ("max_epochs", "patience", "eval_frequency"):
        if v.get(key) is not None:
            training_overrides += [f"--training.{key}", str(v[key])]
    return GridSettings(
        project_dir=project_dir,
        config=Path(v.get("grid_config") or v["config"]),
        corpora_dir=Path(v["corpora_dir"]),
        training_dir=Path(v["training_dir"]),
        results_dir=Path(v["results_dir"]),
        variants={name: shlex.split(str(args)) for name, args in v["variants"].items()},
        groups={name: split_words(corpora) for name, corpora in v["groups"].items()},
        vectors=Path(v["vectors"]) if v.get("vectors") else None,
        gpu_id=int(v.get("gpu_id", -1)),
        training_overrides=training_overrides,
        label_map=str(v.get("label_map", "default")),
        variant_configs={name: Path(path) for name, path in (v.get("variant_configs") or {}).items()},
        multitask_variants=split_words(v.get("multitask_variants")),
    )


def plan_steps(
    settings: GridSettings,
    variant: str,
    groups: Sequence[str],
    seeds: Sequence[int],
    corpora: Sequence[str] = (),
) -> List[Step]:
    """List the steps of the grid in the order they run.

    Seeds are the outer loop, so a session stopped half-way has one full
    seed over every corpus rather than three seeds of one corpus. A
    multi-task variant has a step per partner corpus of the group.
    """
    if variant not in settings.variants:
        raise ValueError(f"Unknown variant '{variant}'; project.yml has {sorted(settings.variants)}")
    steps = []
    for seed in seeds:
        for group in groups:
            if group not in settings.groups:
                raise ValueError(f"Unknown group '{group}'; project.yml has {sorted(settings.groups)}")
            for corpus in settings.groups[group]:
                if corpora and corpus not in corpora:
                    continue
                if variant in settings.multitask_variants:
                    for partner in settings.groups[group]:
                        if partner != corpus:
                            steps.append(Step(variant, corpus, seed, group, partner))
                else:
                    steps.append(Step(variant, corpus, seed, group))
    return steps


def train_command(settings: GridSettings, step: Step) -> List[str]:
    """The exact `spacy train` command of a step."""
    cmd = [
        sys.executable, "-m", "spacy", "train", str(settings.config_of(step.variant)),
        "--output", str(settings.train_dir(step)),
        "--paths.train", str(settings.split(step.corpus, "train")),
        "--paths.dev", str(settings.split(step.corpus, "dev")),
    ]
    if step.partner is not None:
        cmd += [
            "--paths.partner_train", str(settings.split(step.partner, "train")),
            "--paths.partner_dev", str(settings.split(step.partner, "dev")),
        ]
    cmd += [
        "--training.seed", str(step.seed),
        "--system.seed", str(step.seed),
        "--gpu-id", str(settings.gpu_id),
    ]
    if settings.vectors is not None:
        cmd += ["--paths.vectors", str(settings.vectors)]
    return cmd + settings.training_overrides + variant_args(settings, step)


def variant_args(settings: GridSettings, step: Step) -> List[str]:
    """A variant's overrides for a step: `{corpus}`, `{partner}` and `{seed}`
    are replaced, so that e.g. the transfer variant names the pretrained
    pipeline of its own corpus (`--paths.pretrained training/ssc/{corpus}/model-last`)."""
    values = {"{corpus}": step.corpus, "{partner}": step.partner or "", "{seed}": str(step.seed)}
    args = []
    for arg in settings.variants[step.variant]:
        for key, value in values.items():
            arg = arg.replace(key, value)
        args.append(arg)
    return args


def missing_inputs(settings: GridSettings, step: Step) -> List[str]:
    """Pipelines a step starts from (`--paths.pretrained`) that do not exist
    yet, or are still being written: spaCy saves model-last at every
    evaluation, so a pretraining in progress (its folder claimed) is not
    ready."""
    args = variant_args(settings, step)
    missing = []
    for i, arg in enumerate(args[:-1]):
        if arg != "--paths.pretrained":
            continue
        path = settings.path(Path(args[i + 1]))
        claim = path.parent / CLAIM_FILE
        if not path.exists() or (claim.exists() and _claim_alive(claim)):
            missing.append(args[i + 1])
    return missing


def _claim_alive(claim: Path) -> bool:
    try:
        return pid_alive(int(claim.read_text() or 0))
    except (OSError, ValueError):
        return False


def display_command(cmd: Sequence[str]) -> str:
    """A command as it would be typed: `python` instead of the interpreter path."""
    return shlex.join(["python" if c == sys.executable else c for c in cmd])


def subprocess_runner(cmd: List[str], cwd: Path, log_path: Path) -> int:
    """Run a command in `cwd`, echoing and logging its output."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    with log_path.open("w", encoding="utf8") as log:
        log.write("$ " + display_command(cmd) + "\n")
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        assert proc.stdout is not None
        for line in proc.stdout:
            sys.stdout.write(line)
            log.write(line)
        return proc.wait()


def cli_evaluator(
    model: Path, data: Path, match: str, harmonize: bool, label_map: str = "default", cwd: Optional[Path] = None
) -> Dict[str, Any]:
    """Score a model with `spacy-bioner evaluate` in a subprocess and read
    its JSON output. A subprocess keeps the recorded command exact."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp).resolve() / "scores.json"
        cmd = [sys.executable, "-m", "spacy_bioner.cli", "evaluate", str(model), str(data), "--match", match]
        if harmonize:
            cmd += ["--label-map", label_map]
        proc = subprocess.run(cmd + ["--output", str(out)], capture_output=True, text=True, cwd=cwd)
        if proc.returncode != 0:
            raise StepFailed(f"evaluation failed ({proc.returncode}): {display_command(cmd)}\n{proc.stderr[-2000:]}")
        scores = read_scores(json.loads(out.read_text(encoding="utf8")))
    # The temporary output path is not part of the reproducible command.
    scores["command"] = display_command(cmd + ["--output", "SCORES.json"])
    return scores


def read_scores(data: Dict[str, Any]) -> Dict[str, Any]:
    """Pick micro P/R/F (fractions) from an evaluation JSON. Accepts the
    `spacy-bioner evaluate` keys and spaCy's `ents_p/r/f` keys."""
    for p, r, f in (("precision", "recall", "f1"), ("p", "r", "f"), ("ents_p", "ents_r", "ents_f")):
        for scope in (data, data.get("micro", {}), data.get("overall", {})):
            if isinstance(scope, dict) and f in scope:
                return {"precision": float(scope[p]), "recall": float(scope[r]), "f1": float(scope[f])}
    raise StepFailed(f"no precision/recall/F1 in evaluation output (keys: {sorted(data)})")


class StepFailed(RuntimeError):
    """A step's training or evaluation failed; its metrics were not written."""


def parse_epochs(log_text: str) -> Optional[int]:
    """Epochs run, from the table `spacy train` prints (column E counts from 0).

    The table has a row per evaluation, so this is the epoch of the last
    evaluation, plus one.
    """
    epochs = [int(m.group(1)) for m in re.finditer(r"^\s*(\d+)\s+(\d+)\s+\d", log_text, re.M)]
    return max(epochs) + 1 if epochs else None


def cpu_model() -> Optional[str]:
    """The CPU's model name from /proc/cpuinfo (None elsewhere). Machines of
    one core count can differ several-fold in speed, so wall times name it."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text(encoding="utf8", errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return None


def machine_info(gpu_id: int) -> Dict[str, Any]:
    """What the numbers were measured on."""
    info: Dict[str, Any] = {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "gpu_id": gpu_id,
    }
    try:
        import torch
        import spacy

        info.update(torch=torch.__version__, spacy=spacy.__version__, torch_threads=torch.get_num_threads())
    except ImportError:
        pass
    return info


def git_commit(cwd: Path = Path(__file__).resolve().parent) -> Dict[str, Any]:
    """The commit the code ran at (the checkout holding this package, not the
    project folder, which need not be a repository), and whether the tree
    had local changes."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd, capture_output=True, text=True).stdout.strip()
        return {"commit": commit, "dirty": bool(dirty)}
    except (OSError, subprocess.CalledProcessError):
        return {"commit": None, "dirty": None}


def write_json_atomic(path: Path, data: Dict[str, Any]) -> None:
    """Write JSON so that the file either does not exist or is complete."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf8")


def train_step(settings: GridSettings, step: Step, runner: Runner) -> Dict[str, Any]:
    """Train one step unless its training marker exists; return the marker."""
    out_dir = settings.path(settings.train_dir(step))
    marker = out_dir / TRAIN_MARKER
    if marker.exists():
        return json.loads(marker.read_text(encoding="utf8"))
    missing = missing_inputs(settings, step)
    if missing:
        raise StepFailed(f"{step.name} starts from {', '.join(missing)}, which does not exist or is still being "
                         "trained: run `spacy-bioner grid tl-prepare` for its corpus first")
    cmd = train_command(settings, step)
    msg.divider(f"train {step.name}")
    start = time.time()
    rc = runner(cmd, settings.project_dir, out_dir / TRAIN_LOG)
    wall = time.time() - start
    if rc != 0:
        raise StepFailed(f"training {step.name} exited with {rc}; see {out_dir / TRAIN_LOG}")
    log = out_dir / TRAIN_LOG
    record = {
        "command": display_command(cmd),
        "wall_time_s": round(wall, 1),
        "epochs": parse_epochs(log.read_text(encoding="utf8")) if log.exists() else None,
        "best_dev_f1": _best_dev_score(out_dir / "model-best"),
        "finished": _now(),
    }
    write_json_atomic(marker, record)
    return record


def _best_dev_score(model_dir: Path) -> Optional[float]:
    meta = model_dir / "meta.json"
    if not meta.exists():
        return None
    perf = json.loads(meta.read_text(encoding="utf8")).get("performance", {})
    value = perf.get("ents_f")
    return float(value) if value is not None else None


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def vectors_sha256(vectors_dir: Path) -> Optional[str]:
    """The sha256 of a vectors folder's table (`vocab/vectors`, and its keys
    when stored apart), or None when it has none.

    The word2vec fallback of the `vectors` step trains with two gensim
    workers, which is not bit-reproducible, so two machines that each built
    "vectors/biomed-w2v" hold different tables: the hash tells them apart.
    """
    files = [vectors_dir / "vocab" / name for name in ("vectors", "key2row", "vectors.cfg")]
    files = [f for f in files if f.is_file()]
    if not files:
        return None
    digest = hashlib.sha256()
    for f in files:
        with f.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def recipe(settings: GridSettings, step: Step) -> Dict[str, Any]:
    """What a step was trained with: the config file and its sha256, and the
    variant's overrides, so that runs of an edited config are told apart."""
    config = settings.config_of(step.variant)
    path = settings.path(config)
    args = variant_args(settings, step)
    result = {
        "config": str(config),
        "config_sha256": hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None,
        "overrides": args + settings.training_overrides,
        "vectors": str(settings.vectors) if settings.vectors is not None else None,
        "vectors_sha256": vectors_sha256(settings.path(settings.vectors)) if settings.vectors is not None else None,
        "partner": step.partner,
    }
    if "--paths.pretrained" in args[:-1]:
        # Transfer: what the encoder was pretrained on (silver corpus, its
        # taggers and the ones left out), from the pretraining's marker.
        pretrained = Path(args[args.index("--paths.pretrained") + 1])
        marker = settings.path(pretrained).parent / "pretrain.json"
        info = json.loads(marker.read_text(encoding="utf8")) if marker.exists() else {}
        result["pretrained"] = {"path": str(pretrained),
                                **{k: info[k] for k in ("command", "max_steps", "silver", "peak_rss_mib") if k in info}}
    return result


def evaluate_step(settings: GridSettings, step: Step, training: Dict[str, Any], evaluator: Evaluator) -> Dict[str, Any]:
    """Score a trained step in-corpus and out-of-corpus; write its metrics."""
    model = settings.train_dir(step) / "model-best"
    msg.divider(f"evaluate {step.name}")
    commands = []
    in_corpus = evaluator(model, settings.split(step.corpus, "test"), "exact", False)
    commands.append(in_corpus.pop("command", None))
    out_of_corpus = {}
    for other in settings.groups[step.group]:
        if other in (step.corpus, step.partner):
            continue
        scores = evaluator(model, settings.split(other, "test"), "right", True)
        commands.append(scores.pop("command", None))
        out_of_corpus[other] = {"match": "right", "label_map": settings.label_map, **scores}
    metrics = {
        "schema": METRICS_SCHEMA,
        "evaluation": {"version": EVAL_VERSION, "protocol": EVAL_PROTOCOL[EVAL_VERSION]},
        "variant": step.variant,
        "corpus": step.corpus,
        "group": step.group,
        "partner": step.partner,
        "seed": step.seed,
        "in_corpus": {"test": step.corpus, "split": "test", "match": "exact", **in_corpus},
        "out_of_corpus": out_of_corpus,
        "training": training,
        "recipe": recipe(settings, step),
        "evaluation_commands": [c for c in commands if c],
        "date": _now(),
        "machine": machine_info(settings.gpu_id),
        "git": git_commit(),
    }
    old_path = settings.path(settings.metrics_path(step))
    if old_path.exists():
        # A re-score: the earlier figures stay readable beside the new ones.
        old = json.loads(old_path.read_text(encoding="utf8"))
        metrics["superseded"] = old.pop("superseded", []) + [old]
    write_json_atomic(old_path, metrics)
    msg.good(f"{step.name}: in-corpus F1 {100 * in_corpus['f1']:.2f} -> {settings.metrics_path(step)}")
    return metrics


def run_grid(
    settings: GridSettings,
    steps: Sequence[Step],
    *,
    stage: str = "all",
    runner: Runner = subprocess_runner,
    evaluator: Optional[Evaluator] = None,
    max_steps: Optional[int] = None,
    dry_run: bool = False,
    rescore: bool = False,
) -> Dict[str, str]:
    """Run the steps that have no metrics yet (with `rescore`, also those
    scored by an older evaluation version).

    settings (GridSettings): Resolved settings.
    steps (Sequence[Step]): From plan_steps.
    stage (str): "all" (train then evaluate), "train" (train only) or
        "evaluate" (score steps whose training finished; others are left).
    runner (Runner): Executes the training command.
    evaluator (Optional[Evaluator]): Scores a model; default: the
        `spacy-bioner evaluate` CLI.
    max_steps (Optional[int]): Stop after this many steps did work, so a
        session can advance the grid one step at a time.
    dry_run (bool): Print what would run, run nothing.
    rescore (bool): Re-evaluate steps whose metrics are of an older
        evaluation version; a step whose model is gone is trained again
        with its recorded settings first.
    RETURNS (Dict[str, str]): {step name: "done" | "skipped" | "would run" |
        "not trained" | "claimed" (another live worker is on it)}.
    """
    if stage not in STAGES:
        raise ValueError(f"stage must be one of {STAGES}")
    if evaluator is None:
        def evaluator(model: Path, data: Path, match: str, harmonize: bool) -> Dict[str, Any]:
            return cli_evaluator(model, data, match, harmonize, settings.label_map, cwd=settings.project_dir)
    status: Dict[str, str] = {}
    worked = 0
    for number, step in enumerate(steps, 1):
        marker = settings.path(settings.train_dir(step)) / TRAIN_MARKER
        metrics_path = settings.path(settings.metrics_path(step))
        done = metrics_path.exists() and not (rescore and eval_version(metrics_path) < EVAL_VERSION)
        if done or (stage == "train" and marker.exists()):
            status[step.name] = "skipped"
            continue
        if stage == "evaluate" and not marker.exists():
            status[step.name] = "not trained"
            continue
        if max_steps is not None and worked >= max_steps:
            status[step.name] = "pending"
            continue
        if dry_run:
            if not marker.exists():
                msg.text(display_command(train_command(settings, step)))
            status[step.name] = "would run"
            worked += 1
            continue
        claim = settings.path(settings.train_dir(step)) / CLAIM_FILE
        if not try_claim(claim):
            status[step.name] = "claimed"
            continue
        msg.info(f"Grid step {number}/{len(steps)}: {step.name} ({'evaluate' if marker.exists() else stage})")
        try:
            training = train_step(settings, step, runner)
            if stage != "train":
                evaluate_step(settings, step, training, evaluator)
        finally:
            claim.unlink(missing_ok=True)
        status[step.name] = "done"
        worked += 1
    return status


def eval_version(metrics_path: Path) -> int:
    """The evaluation version a metrics file was scored with (files written
    before versions were recorded are version 1)."""
    data = json.loads(metrics_path.read_text(encoding="utf8"))
    return int(data.get("evaluation", {}).get("version", 1))


def step_state(settings: GridSettings, step: Step) -> str:
    """Where a step stands: "done" (metrics written), "trained, not
    evaluated" (training marker only) or "pending"."""
    path = settings.path(settings.metrics_path(step))
    if path.exists():
        version = eval_version(path)
        return "done" if version >= EVAL_VERSION else f"done (evaluation v{version}; grid run --rescore)"
    if (settings.path(settings.train_dir(step)) / TRAIN_MARKER).exists():
        return "trained, not evaluated"
    return "pending"


def grid_status(settings: GridSettings, variants: Sequence[str], seeds: Sequence[int]) -> List[Dict[str, Any]]:
    """The state of every step of the given variants over all groups.

    settings (GridSettings): Resolved settings.
    variants (Sequence[str]): Variants (empty: all in project.yml).
    seeds (Sequence[int]): Seeds.
    RETURNS (List[Dict[str, Any]]): One {"variant", "group", "corpus", "seed",
        "state"} per step, in run order.
    """
    rows = []
    for variant in variants or list(settings.variants):
        for step in plan_steps(settings, variant, list(settings.groups), seeds):
            rows.append({"variant": step.variant, "group": step.group, "corpus": step.corpus,
                         "seed": step.seed, "state": step_state(settings, step)})
    return rows


def try_claim(path: Path) -> bool:
    """Claim a step for this process, so that several `grid run` workers can
    share one grid (e.g. one per CPU core). A claim whose process no longer
    runs (a killed worker) is taken over.

    path (Path): The step's claim file.
    RETURNS (bool): Whether this process now holds the claim.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            try:
                owner = int(path.read_text() or 0)
            except (OSError, ValueError):
                owner = 0
            if owner and owner != os.getpid() and pid_alive(owner):
                return False
            path.unlink(missing_ok=True)
            continue
        with os.fdopen(fd, "w") as f:
            f.write(str(os.getpid()))
        return True
    return False
