"""CLI for the project tooling: `spacy-bioner assets|grid|cv|results`.

Thin wrappers over spacy_bioner.project.{assets,grid,cv,results}.
"""
from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer
from wasabi import msg

from . import app, fail

assets_app = typer.Typer(
    rich_markup_mode="markdown", no_args_is_help=True, help="Fetch and verify corpus files from a local mirror.")
grid_app = typer.Typer(
    rich_markup_mode="markdown", no_args_is_help=True, help="The resumable experiment grid (variant × corpus × seed).")
app.add_typer(assets_app, name="assets")
cv_app = typer.Typer(
    rich_markup_mode="markdown", no_args_is_help=True, help="k-fold cross-validation on a corpus's pooled train+dev, resumable.")
app.add_typer(grid_app, name="grid")
app.add_typer(cv_app, name="cv")


class Stage(str, Enum):
    """What `grid run` does for each step."""

    all = "all"
    train = "train"
    evaluate = "evaluate"


def _settings(project_dir: Path, var: List[str] = []):  # noqa: B006 (never mutated)
    from ..project.grid import load_settings, var_overrides

    if not (project_dir / "project.yml").is_file():
        fail(f"{project_dir / 'project.yml'}: not found (--project-dir)")
    try:
        return load_settings(project_dir, var_overrides(var))
    except (ValueError, KeyError) as err:
        fail(f"{project_dir / 'project.yml'}: {err}")


@assets_app.callback()
def _assets() -> None:
    # A callback keeps `fetch` a subcommand when this app runs on its own
    # (python -m spacy_bioner.project.assets fetch ...).
    pass


@assets_app.command("fetch")
def assets_fetch_cli(
    mirror: Path = typer.Option(..., "--mirror", help="Mirror root holding manifest.json", exists=True, file_okay=False),
    dest: Path = typer.Option(Path("assets/corpora"), "--dest", help="Destination root (mirror layout is kept)"),
    project: Optional[Path] = typer.Option(Path("project.yml"), "--project", help="project.yml whose assets under --dest are fetched; '' for none"),
    corpus: List[str] = typer.Option([], "--corpus", "-c", help="Also fetch every split of this manifest corpus (repeatable)"),
) -> None:
    """Copy files from the mirror, verifying each against the manifest's
    sha256 and project.yml's MD5. Exits non-zero naming every bad file."""
    from ..project.assets import AssetError, fetch_from_mirror

    project_file = project if project and str(project) and project.exists() else None
    try:
        done = fetch_from_mirror(mirror, dest, project_file=project_file, corpora=corpus)
    except AssetError as err:
        for path, reason in err.failures:
            msg.fail(f"{path}: {reason}")
        fail(f"{len(err.failures)} asset(s) failed verification; nothing bad was left in {dest}")
    copied = sum(1 for v in done.values() if v == "copied")
    msg.good(f"{len(done)} file(s) verified in {dest} ({copied} copied, {len(done) - copied} already there)")


@assets_app.command("verify")
def assets_verify_cli(
    dest: Path = typer.Option(Path("assets/corpora"), "--dest", help="Destination root"),
    mirror: Path = typer.Option(..., "--mirror", help="Mirror root holding manifest.json", exists=True, file_okay=False),
    project: Path = typer.Option(Path("project.yml"), "--project", help="project.yml listing the assets"),
) -> None:
    """Verify copies in place against the manifest and project.yml."""
    from ..project.assets import plan_files, verify_files

    problems = verify_files(dest, plan_files(mirror, project_file=project, dest=dest))
    for path, problem in problems:
        msg.fail(f"{path}: {problem}")
    if problems:
        fail(f"{len(problems)} asset(s) under {dest} failed verification")
    msg.good(f"All assets under {dest} verified")


@grid_app.command("run")
def grid_run_cli(
    variant: str = typer.Option(..., "--variant", help="A key of vars.variants in project.yml (baseline, vd, ...)"),
    group: List[str] = typer.Option(..., "--group", help="A key of vars.groups (disease, species); repeatable"),
    seeds: List[str] = typer.Option(["0 1 2"], "--seeds", help="Seeds: '0 1 2', 0,1,2 or repeated"),
    corpus: List[str] = typer.Option([], "--corpus", help="Only these corpora of the group (repeatable)"),
    stage: Stage = typer.Option(Stage.all, "--stage", help="Train and evaluate, train only, or evaluate trained steps only"),
    max_steps: Optional[int] = typer.Option(None, "--max-steps", help="Stop after this many steps did work"),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the commands, run nothing"),
    rescore: bool = typer.Option(False, "--rescore", help="Also re-evaluate steps scored by an older evaluation version (retraining where the model is gone)"),
    project_dir: Path = typer.Option(Path("."), "--project-dir", help="Folder with project.yml"),
    var: List[str] = typer.Option([], "--var", help="Override a project var: NAME=VALUE (repeatable)"),
) -> None:
    """Run the grid steps that have no metrics file yet (resumable)."""
    from ..project.grid import StepFailed, parse_seeds, plan_steps, run_grid

    settings = _settings(project_dir, var)
    try:
        steps = plan_steps(settings, variant, group, parse_seeds(seeds), corpus)
        msg.info(f"{variant} {'/'.join(group)}: {len(steps)} step(s), stage {stage.value}")
        status = run_grid(settings, steps, stage=stage.value, max_steps=max_steps, dry_run=dry_run, rescore=rescore)
    except (StepFailed, ValueError) as err:
        fail(err)
    counts = {s: sum(1 for v in status.values() if v == s) for s in sorted(set(status.values()))}
    msg.info(f"{variant} {'/'.join(group)}: " + ", ".join(f"{n} {s}" for s, n in counts.items()))


@grid_app.command("tl-prepare")
def grid_tl_prepare_cli(
    group: List[str] = typer.Option(..., "--group", help="A key of vars.groups (disease, species); repeatable"),
    corpus: List[str] = typer.Option([], "--corpus", help="Only these target corpora of the groups (repeatable)"),
    stage: str = typer.Option("all", "--stage", help="silver (build the silver corpora), pretrain, or all"),
    project_dir: Path = typer.Option(Path("."), "--project-dir", help="Folder with project.yml"),
    var: List[str] = typer.Option([], "--var", help="Override a project var: NAME=VALUE (repeatable)"),
) -> None:
    """Transfer learning's inputs, per target corpus: a silver corpus from the
    tagger pool with the group's other corpora left out, and an encoder
    pretrained on it (resumable; the `tl` grid variant fine-tunes from it)."""
    from ..project.grid import StepFailed, var_overrides
    from ..project.transfer import load_transfer_settings, prepare

    settings = _settings(project_dir, var)
    try:
        unknown = [g for g in group if g not in settings.groups]
        if unknown:
            raise ValueError(f"Unknown group(s) {unknown}; vars.groups has {sorted(settings.groups)}")
        targets = [c for g in group for c in settings.groups[g] if not corpus or c in corpus]
        ts = load_transfer_settings(settings, var_overrides(var))
        status = prepare(settings, ts, targets, stage=stage)
    except (StepFailed, ValueError, KeyError) as err:
        fail(err)
    for name, state in status.items():
        msg.text(f"{name}: {state}")


@grid_app.command("status")
def grid_status_cli(
    variant: List[str] = typer.Option([], "--variant", help="Variants (default: all in project.yml)"),
    seeds: List[str] = typer.Option(["0 1 2"], "--seeds", help="Seeds: '0 1 2', 0,1,2 or repeated"),
    project_dir: Path = typer.Option(Path("."), "--project-dir", help="Folder with project.yml"),
) -> None:
    """Show which steps have metrics, which are trained, which are pending."""
    from ..project.grid import grid_status, parse_seeds

    try:
        rows = grid_status(_settings(project_dir), variant, parse_seeds(seeds))
    except ValueError as err:
        fail(err)
    header = ("variant", "group", "corpus", "seed", "state")
    msg.table([tuple(row[k] for k in header) for row in rows], header=header, divider=True)


@grid_app.command("matrix")
def grid_matrix_cli(
    variant: List[str] = typer.Option([], "--variant", help="Variants (default: all in project.yml)"),
    project_dir: Path = typer.Option(Path("."), "--project-dir", help="Folder with project.yml"),
) -> None:
    """Print the in-corpus / out-of-corpus F1 matrix of each variant and group."""
    from ..project.results import load_metrics, render_matrix

    settings = _settings(project_dir)
    metrics = load_metrics(settings.path(settings.results_dir))
    for v in variant or list(settings.variants):
        for group, corpora in settings.groups.items():
            msg.divider(f"{v} / {group}: rows train, columns test; diagonal exact, rest right-boundary F1")
            print(render_matrix(metrics, v, corpora))


@cv_app.command("run")
def cv_run_cli(
    variant: str = typer.Option(..., "--variant", help="A key of vars.variants in project.yml (baseline, vd, ...)"),
    corpus: str = typer.Option(..., "--corpus", help="A corpus folder name under vars.corpora_dir"),
    k: int = typer.Option(5, "--k", help="Number of folds"),
    fold_seed: int = typer.Option(0, "--fold-seed", help="Seed of the fold assignment"),
    seeds: List[str] = typer.Option(["0"], "--seeds", help="Training seeds: '0 1 2', 0,1,2 or repeated"),
    max_steps: Optional[int] = typer.Option(None, "--max-steps", help="Stop after this many folds did work"),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the commands, run nothing"),
    project_dir: Path = typer.Option(Path("."), "--project-dir", help="Folder with project.yml"),
    var: List[str] = typer.Option([], "--var", help="Override a project var: NAME=VALUE (repeatable)"),
) -> None:
    """Train and score each fold that has no metrics file yet, then print the
    mean and standard deviation of in-corpus (exact) F1."""
    from ..project.cv import cv_steps, prepare_cv, summarize
    from ..project.grid import StepFailed, parse_seeds, run_grid

    parsed = parse_seeds(seeds)
    try:
        settings, names = prepare_cv(_settings(project_dir, var), corpus, k=k, seed=fold_seed)
        msg.info(f"{variant} {corpus}: {k} folds written to {settings.corpora_dir}")
        run_grid(settings, cv_steps(variant, names, parsed), max_steps=max_steps, dry_run=dry_run)
    except (StepFailed, ValueError, FileNotFoundError) as err:
        fail(err)
    summary = summarize(settings, variant, names, parsed)
    mean, sd = summary["mean_f1"], summary["sd_f1"]
    msg.info(
        f"{variant} {corpus} {k}-fold CV: {summary['runs']}/{summary['expected']} runs"
        + (f", F1 {100 * mean:.2f}" if mean is not None else "")
        + (f" ± {100 * sd:.2f}" if sd is not None else "")
    )


@app.command("results")
def results_cli(
    output: Path = typer.Option(Path("docs/results.md"), "--output", "-o", help="Markdown file to write"),
    project_dir: Path = typer.Option(Path("."), "--project-dir", help="Folder with project.yml"),
    var: List[str] = typer.Option([], "--var", help="Override a project var, e.g. results_dir=results/recipe1 (repeatable)"),
) -> None:
    """Write docs/results.md from the grid's metrics files (one recipe's folder, vars.results_dir)."""
    from ..project.results import config_files, write_results

    settings = _settings(project_dir, var)
    commands = [f"spacy project run {w}" for w in ("baseline", "vd", "mtl", "mtl-vd", "tl")] + ["spacy project run results"]
    path = write_results(settings.path(settings.results_dir), settings.path(output),
                         groups=settings.groups, variants=list(settings.variants), commands=commands,
                         shown_as=Path(settings.results_dir).as_posix(),
                         configs=config_files(settings.project_dir))
    msg.good(f"Wrote {path}")
