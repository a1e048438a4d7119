"""The grid runs each (variant, corpus, seed) step once, with a fake runner."""
import json
import sys
from pathlib import Path
from typing import List

import pytest

from spacy_bioner.project.grid import (
    GridSettings, StepFailed, grid_status, load_settings, parse_epochs, parse_seeds, plan_steps, read_scores, run_grid,
    train_command, var_overrides,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def settings(tmp_path):
    return GridSettings(
        project_dir=tmp_path,
        config=Path("configs/bilstm_crf.cfg"),
        corpora_dir=Path("assets/corpora"),
        training_dir=Path("training"),
        results_dir=Path("results"),
        variants={"baseline": ["--components.bilstm_crf_ner.model.embed_dropout", "0.3"],
                  "vd": ["--components.bilstm_crf_ner.model.input_dropout", "0.3"]},
        groups={"disease": ["A", "B", "C"], "species": ["S1", "S2"]},
        training_overrides=["--training.max_epochs", "2"],
    )


class FakeRunner:
    """Stands in for `spacy train`: records the command, writes a log with
    the console table and a model-best folder."""

    def __init__(self, rc: int = 0) -> None:
        self.calls: List[List[str]] = []
        self.rc = rc

    def __call__(self, cmd, cwd, log_path):
        self.calls.append(cmd)
        out = Path(cwd) / cmd[cmd.index("--output") + 1]
        (out / "model-best").mkdir(parents=True, exist_ok=True)
        (out / "model-best" / "meta.json").write_text(json.dumps({"performance": {"ents_f": 0.8}}))
        log_path.write_text("E    #       LOSS BILST...  ENTS_F  ENTS_P  ENTS_R  SCORE\n"
                            "---  ------  ------------  ------  ------  ------  ------\n"
                            "  0       0        120.55    0.00    0.00    0.00    0.00\n"
                            "  3     340       1550.12   72.10   70.00   74.33    0.72\n")
        return self.rc


def fake_evaluator(model, data, match, harmonize):
    # F1 encodes which test set was used, so the metrics can be checked.
    f = 0.9 if match == "exact" else 0.5
    return {"precision": f, "recall": f, "f1": f, "command": f"evaluate {model} {data} --match {match}"}


def test_steps_write_metrics_and_are_skipped_when_done(settings):
    runner = FakeRunner()
    steps = plan_steps(settings, "vd", ["disease"], [0, 1])
    assert [s.name for s in steps][:3] == ["vd/A/seed0", "vd/B/seed0", "vd/C/seed0"]
    status = run_grid(settings, steps, runner=runner, evaluator=fake_evaluator)
    assert set(status.values()) == {"done"} and len(runner.calls) == 6
    metrics = json.loads((settings.project_dir / "results/vd/A/seed1.json").read_text())
    assert metrics["in_corpus"] == {"test": "A", "split": "test", "match": "exact",
                                    "precision": 0.9, "recall": 0.9, "f1": 0.9}
    assert sorted(metrics["out_of_corpus"]) == ["B", "C"]
    assert metrics["out_of_corpus"]["B"]["match"] == "right"
    assert metrics["training"]["epochs"] == 4
    assert metrics["training"]["best_dev_f1"] == 0.8
    assert metrics["training"]["command"].startswith("python -m spacy train configs/bilstm_crf.cfg --output training/vd/A/seed1")
    assert {"platform", "cpu_count"} <= set(metrics["machine"])
    assert "commit" in metrics["git"] and metrics["date"]
    # Second run: every metrics file exists, nothing runs.
    runner2 = FakeRunner()
    status = run_grid(settings, steps, runner=runner2, evaluator=fake_evaluator)
    assert set(status.values()) == {"skipped"} and runner2.calls == []


def test_existing_metrics_file_skips_only_that_step(settings):
    steps = plan_steps(settings, "baseline", ["species"], [0])
    done = settings.project_dir / "results/baseline/S1/seed0.json"
    done.parent.mkdir(parents=True)
    done.write_text("{}")
    runner = FakeRunner()
    status = run_grid(settings, steps, runner=runner, evaluator=fake_evaluator)
    assert status == {"baseline/S1/seed0": "skipped", "baseline/S2/seed0": "done"}
    assert len(runner.calls) == 1 and "assets/corpora/S2/train.tsv" in runner.calls[0]
    assert done.read_text() == "{}", "a finished step is never rewritten"


def test_trained_step_is_only_evaluated(settings):
    steps = plan_steps(settings, "baseline", ["species"], [0], corpora=["S1"])
    run_grid(settings, steps, stage="train", runner=FakeRunner(), evaluator=fake_evaluator)
    assert not (settings.project_dir / "results/baseline/S1/seed0.json").exists()
    runner = FakeRunner()
    status = run_grid(settings, steps, stage="evaluate", runner=runner, evaluator=fake_evaluator)
    assert status == {"baseline/S1/seed0": "done"} and runner.calls == []
    assert (settings.project_dir / "results/baseline/S1/seed0.json").exists()
    # Steps without a finished training are left alone by the evaluate stage.
    other = plan_steps(settings, "baseline", ["species"], [1], corpora=["S1"])
    assert run_grid(settings, other, stage="evaluate", runner=runner, evaluator=fake_evaluator) == {
        "baseline/S1/seed1": "not trained"}


def test_failed_training_writes_no_metrics(settings):
    steps = plan_steps(settings, "vd", ["species"], [0])
    with pytest.raises(StepFailed):
        run_grid(settings, steps, runner=FakeRunner(rc=1), evaluator=fake_evaluator)
    assert not list((settings.project_dir).rglob("seed0.json"))
    assert not list((settings.project_dir).rglob("train.json"))


def test_max_steps_and_dry_run(settings):
    steps = plan_steps(settings, "vd", ["disease", "species"], [0, 1, 2])
    assert len(steps) == 15
    runner = FakeRunner()
    status = run_grid(settings, steps, runner=runner, evaluator=fake_evaluator, max_steps=1)
    assert list(status.values()).count("done") == 1 and list(status.values()).count("pending") == 14
    status = run_grid(settings, steps, runner=runner, evaluator=fake_evaluator, dry_run=True)
    assert list(status.values()).count("would run") == 14 and len(runner.calls) == 1


def test_train_command(settings):
    step = plan_steps(settings, "vd", ["disease"], [2])[1]
    cmd = train_command(settings, step)
    assert cmd[:5] == [sys.executable, "-m", "spacy", "train", "configs/bilstm_crf.cfg"]
    joined = " ".join(cmd)
    for part in ("--output training/vd/B/seed2", "--paths.train assets/corpora/B/train.tsv",
                 "--paths.dev assets/corpora/B/dev.tsv", "--training.seed 2", "--system.seed 2",
                 "--components.bilstm_crf_ner.model.input_dropout 0.3", "--training.max_epochs 2"):
        assert part in joined


def test_helpers():
    assert parse_seeds(["0 1 2"]) == [0, 1, 2]
    assert parse_seeds(["0,1", "5"]) == [0, 1, 5]
    assert parse_epochs("no table") is None
    assert read_scores({"ents_p": 0.5, "ents_r": 0.25, "ents_f": 1 / 3}) == {
        "precision": 0.5, "recall": 0.25, "f1": 1 / 3}
    with pytest.raises(StepFailed):
        read_scores({"nothing": 1})


def test_settings_from_project_yml():
    settings = load_settings(ROOT, {"vars.max_epochs": 7, "vars.vectors": ""})
    assert "7" in settings.training_overrides
    assert settings.vectors is None
    with pytest.raises(ValueError, match="Unknown variant"):
        plan_steps(settings, "nope", ["disease"], [0])


def test_steps_claimed_by_a_live_worker_are_left_to_it(settings):
    import os
    import subprocess

    from spacy_bioner.project.grid import CLAIM_FILE, try_claim

    steps = plan_steps(settings, "vd", ["disease"], [0])
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        claim = settings.path(settings.train_dir(steps[0])) / CLAIM_FILE
        claim.parent.mkdir(parents=True)
        claim.write_text(str(other.pid))
        runner = FakeRunner()
        status = run_grid(settings, steps, runner=runner, evaluator=fake_evaluator)
        assert status[steps[0].name] == "claimed" and status[steps[1].name] == "done"
        assert not (settings.path(settings.train_dir(steps[1])) / CLAIM_FILE).exists()
    finally:
        other.kill()
        other.wait()
    # A dead worker's claim is taken over.
    assert try_claim(claim) and claim.read_text() == str(os.getpid())


def test_rescore_reevaluates_old_evaluation_versions_and_keeps_their_figures(settings):
    from spacy_bioner.project.grid import EVAL_VERSION, eval_version

    steps = plan_steps(settings, "vd", ["species"], [0])
    path = settings.project_dir / "results/vd/S1/seed0.json"
    path.parent.mkdir(parents=True)
    old = {"schema": 1, "variant": "vd", "corpus": "S1", "seed": 0, "in_corpus": {"f1": 0.55}, "training": {"epochs": 9}}
    path.write_text(json.dumps(old))  # written before versions were recorded: version 1
    assert eval_version(path) == 1 < EVAL_VERSION
    # Without --rescore the old file counts as done (S2 has none and runs).
    status = run_grid(settings, steps, runner=FakeRunner(), evaluator=fake_evaluator)
    assert status == {"vd/S1/seed0": "skipped", "vd/S2/seed0": "done"} and json.loads(path.read_text()) == old
    # With it, the step is scored again (trained first: its model is gone).
    runner = FakeRunner()
    status = run_grid(settings, steps, runner=runner, evaluator=fake_evaluator, rescore=True)
    assert status == {"vd/S1/seed0": "done", "vd/S2/seed0": "skipped"} and len(runner.calls) == 1
    new = json.loads(path.read_text())
    assert new["evaluation"]["version"] == EVAL_VERSION and new["in_corpus"]["f1"] == 0.9
    assert new["superseded"] == [old]
    # Up to date now: a second rescore does nothing.
    status = run_grid(settings, steps, runner=FakeRunner(), evaluator=fake_evaluator, rescore=True)
    assert set(status.values()) == {"skipped"}


def test_grid_status_follows_the_files(settings):
    steps = plan_steps(settings, "vd", ["disease"], [0])
    run_grid(settings, steps[:1], runner=FakeRunner(), evaluator=fake_evaluator)
    run_grid(settings, steps[1:2], stage="train", runner=FakeRunner(), evaluator=fake_evaluator)
    rows = grid_status(settings, ["vd"], [0])
    assert [(r["corpus"], r["state"]) for r in rows[:4]] == [
        ("A", "done"), ("B", "trained, not evaluated"), ("C", "pending"), ("S1", "pending")]
    assert len(grid_status(settings, [], [0, 1])) == 2 * 2 * 5  # all variants by default
    with pytest.raises(ValueError, match="Unknown variant 'typo'"):
        grid_status(settings, ["typo"], [0])


def test_var_overrides():
    assert var_overrides(["max_epochs=2", "vectors=a=b"]) == {"vars.max_epochs": "2", "vars.vectors": "a=b"}
    with pytest.raises(ValueError, match="--var 'oops': expected NAME=VALUE"):
        var_overrides(["oops"])


def test_metrics_record_the_vector_table_by_hash(settings):
    """Two machines' word2vec tables at one path are told apart by hash."""
    from dataclasses import replace

    from spacy_bioner.project.grid import vectors_sha256

    s = replace(settings, vectors=Path("vectors/w2v"))
    table = s.project_dir / "vectors/w2v/vocab"
    table.mkdir(parents=True)
    (table / "vectors").write_bytes(b"\x00" * 64)
    (table / "key2row").write_bytes(b"\x01" * 8)
    first = vectors_sha256(s.project_dir / "vectors/w2v")
    steps = plan_steps(s, "baseline", ["disease"], [0])
    run_grid(s, steps[:1], runner=FakeRunner(), evaluator=fake_evaluator)
    metrics = json.loads((s.project_dir / "results/baseline/A/seed0.json").read_text())
    assert metrics["recipe"]["vectors"] == "vectors/w2v"
    assert metrics["recipe"]["vectors_sha256"] == first and len(first) == 64
    # Wall times depend on the CPU model, not only on the core count.
    assert "cpu_model" in metrics["machine"]
    (table / "vectors").write_bytes(b"\x00" * 63 + b"\x02")
    assert vectors_sha256(s.project_dir / "vectors/w2v") != first
    assert vectors_sha256(s.project_dir / "missing") is None
