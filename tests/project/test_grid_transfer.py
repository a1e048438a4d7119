"""The transfer-learning steps of the grid: one silver corpus and one
pretrained encoder per target corpus, with the group's other corpora left out
of the tagger pool; the `tl` variant fine-tunes from the target's own encoder.
A fake runner stands in for build-silver and spacy train."""
import json
import os
from pathlib import Path
from typing import List

import pytest

from spacy_bioner.project.grid import GridSettings, StepFailed, load_settings, plan_steps, run_grid, train_command
from spacy_bioner.project.transfer import (
    TransferSettings, left_out, load_transfer_settings, measured_run, prepare, pretrain_steps, silver_command,
)

ROOT = Path(__file__).resolve().parents[2]
POOL = ["Disease:A=taggers/A/model-best", "Disease:B=taggers/B/model-best", "Species:S1=taggers/S1/model-best",
        ":X=taggers/X/model-best"]


@pytest.fixture
def grid(tmp_path):
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "bilstm_crf.cfg").write_text("[training]\n\n[training.batcher]\nsize = 16\n")
    return GridSettings(
        project_dir=tmp_path,
        config=Path("configs/bilstm_crf.cfg"),
        corpora_dir=Path("assets/corpora"),
        training_dir=Path("training"),
        results_dir=Path("results"),
        variants={"baseline": ["--components.bilstm_crf_ner.model.embed_dropout", "0.3"],
                  "tl": ["--paths.pretrained", "ssc/{corpus}/model-last"]},
        groups={"disease": ["A", "B", "C"], "species": ["S1", "S2"]},
        variant_configs={"tl": Path("configs/finetune.cfg")},
    )


@pytest.fixture
def ts():
    return TransferSettings(text=Path("text.jsonl"), pool=POOL, k=2, cap_k=True, agreement="exact",
                            pmid_blacklist=Path("bl/pmid"), entity_blacklist=Path("bl/ent"),
                            silver_dir=Path("silver"), votes_dir=Path("silver/votes"), ssc_dir=Path("ssc"),
                            ssc_max_steps=0)


class FakeRunner:
    """Writes what build-silver / spacy train would: a report, a model."""

    def __init__(self, sentences: int = 100) -> None:
        self.calls: List[List[str]] = []
        self.sentences = sentences

    def __call__(self, cmd, cwd, log_path):
        self.calls.append(cmd)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_path.write_text("ok\n")
        out = Path(cwd) / cmd[cmd.index("--output") + 1]
        out.mkdir(parents=True, exist_ok=True)
        if "build-silver" in cmd:
            (out / "silver-00000.spacy").write_bytes(b"")
            report = {"documents": {"sentences_written": self.sentences}, "taggers": [], "excluded_taggers": [],
                      "mentions": {"Disease": {"kept": 3}}}
            (out / "report.json").write_text(json.dumps(report))
        else:
            (out / "model-last").mkdir(exist_ok=True)
            (out / "model-best").mkdir(exist_ok=True)
            (out / "model-best" / "meta.json").write_text(json.dumps({"performance": {"ents_f": 0.7}}))
        return 0, 123.4


def test_left_out_is_the_rest_of_the_group(grid):
    assert left_out(grid, "A") == ["B", "C"]
    assert left_out(grid, "S2") == ["S1"]
    with pytest.raises(ValueError, match="in no group"):
        left_out(grid, "Z")


def test_silver_command_leaves_the_out_of_corpus_test_corpora_out(grid, ts):
    cmd = silver_command(grid, ts, "A")
    assert cmd[cmd.index("--leave-out") + 1] == "B C"
    assert "--exclude-left-out" in cmd and "--cap-k" in cmd
    assert cmd[cmd.index("--votes-dir") + 1] == "silver/votes"
    assert cmd[cmd.index("--output") + 1] == "silver/A"


def test_prepare_builds_pretrains_and_resumes(grid, ts):
    runner = FakeRunner(sentences=100)
    status = prepare(grid, ts, ["A", "S1"], stage="all", runner=runner)
    assert status == {"tagger/Disease:A": "done", "tagger/Disease:B": "done", "tagger/Species:S1": "done",
                      "tagger/*:X": "done", "silver/A": "done", "silver/S1": "done",
                      "pretrain/A": "done", "pretrain/S1": "done"}
    pretrain = [c for c in runner.calls if "spacy" in c and "--paths.train" in c and "silver/A" in c][0]
    # One pass over 100 silver sentences in batches of 16: 7 batches, streamed, no early stop.
    assert pretrain[pretrain.index("--training.max_steps") + 1] == "7"
    assert pretrain[pretrain.index("--training.max_epochs") + 1] == "-1"
    assert pretrain[pretrain.index("--training.patience") + 1] == "0"
    marker = json.loads((grid.project_dir / "ssc" / "A" / "pretrain.json").read_text())
    assert marker["peak_rss_mib"] == 123.4 and marker["max_steps"] == 7 and marker["silver"]["kept"] == {"Disease": 3}
    # Taggers train on their own corpus, into the folder the pool names.
    tagger = runner.calls[0]
    assert tagger[tagger.index("--paths.train") + 1] == "assets/corpora/A/train.tsv"
    assert tagger[tagger.index("--output") + 1] == "taggers/A"
    # Everything is skipped the second time.
    again = FakeRunner()
    assert set(prepare(grid, ts, ["A", "S1"], runner=again).values()) == {"skipped"}
    assert again.calls == []


def test_interrupted_silver_build_is_redone_keeping_other_files(grid, ts):
    out = grid.project_dir / "silver" / "A"
    out.mkdir(parents=True)
    (out / "silver-00000.spacy").write_bytes(b"partial")
    (out / "notes.txt").write_text("mine")
    runner = FakeRunner()
    assert prepare(grid, ts, ["A"], stage="silver", runner=runner) == {"silver/A": "done"}
    assert (out / "notes.txt").read_text() == "mine"


def test_pretraining_needs_its_silver_corpus(grid, ts):
    with pytest.raises(StepFailed, match="No silver corpus for A"):
        prepare(grid, ts, ["A"], stage="pretrain", runner=FakeRunner())


def test_tl_variant_starts_from_its_own_corpus_encoder(grid):
    from tests.project.test_grid import FakeRunner as TrainRunner, fake_evaluator

    steps = plan_steps(grid, "tl", ["disease"], [0])
    cmd = train_command(grid, steps[1])
    assert cmd[cmd.index("--paths.pretrained") + 1] == "ssc/B/model-last"
    assert cmd[4] == "configs/finetune.cfg"
    # Without the pretrained encoder the step fails before training, naming it.
    with pytest.raises(StepFailed, match="ssc/A/model-last, which does not exist or is still being trained"):
        run_grid(grid, steps[:1], runner=TrainRunner(), evaluator=fake_evaluator)
    # spaCy writes model-last at every evaluation: while a live process holds
    # the pretraining's claim, its model-last is not ready either.
    (grid.project_dir / "ssc" / "A" / "model-last").mkdir(parents=True)
    claim = grid.project_dir / "ssc" / "A" / ".claim"
    claim.write_text(str(os.getpid()))
    with pytest.raises(StepFailed, match="still being trained"):
        run_grid(grid, steps[:1], runner=TrainRunner(), evaluator=fake_evaluator)
    claim.unlink()
    (grid.project_dir / "ssc" / "A" / "pretrain.json").write_text(json.dumps({"max_steps": 7, "peak_rss_mib": 1.0}))
    run_grid(grid, steps[:1], runner=TrainRunner(), evaluator=fake_evaluator)
    metrics = json.loads((grid.project_dir / "results" / "tl" / "A" / "seed0.json").read_text())
    assert metrics["recipe"]["pretrained"] == {"path": "ssc/A/model-last", "max_steps": 7, "peak_rss_mib": 1.0}
    assert "ssc/A/model-last" in metrics["recipe"]["overrides"]


def test_pretrain_steps_setting():
    ts = TransferSettings(text=Path("t"), pool=[], k=1, cap_k=False, agreement="exact", pmid_blacklist=Path("p"),
                          entity_blacklist=Path("e"), silver_dir=Path("s"), votes_dir=Path("v"), ssc_dir=Path("c"),
                          ssc_max_steps=50)
    assert pretrain_steps(ts, {"documents": {"sentences_written": 10**6}}, 16) == 50


def test_project_yml_transfer_vars():
    grid = load_settings(ROOT)
    ts = load_transfer_settings(grid)
    assert "tl" in grid.variants and grid.config_of("tl") == Path("configs/recipe2/finetune.cfg")
    # Every group corpus has a tagger in the pool, and no target's silver
    # command can use a tagger trained on its out-of-corpus test corpora.
    from spacy_bioner.silver.build import Tagger

    trained_on = {Tagger.parse(spec).trained_on for spec in ts.pool}
    assert {c for corpora in grid.groups.values() for c in corpora} <= trained_on
    for corpora in grid.groups.values():
        for corpus in corpora:
            cmd = silver_command(grid, ts, corpus)
            assert set(cmd[cmd.index("--leave-out") + 1].split()) == set(corpora) - {corpus}


def test_measured_run_reports_the_childs_peak_memory(tmp_path):
    import sys

    code = "import time; b = bytearray(200 * 1024 * 1024); time.sleep(1); print(len(b))"
    rc, rss = measured_run([sys.executable, "-c", code], tmp_path, tmp_path / "log.txt")
    assert rc == 0 and rss > 200
    rc, small = measured_run([sys.executable, "-c", "import time; time.sleep(1)"], tmp_path, tmp_path / "log2.txt")
    assert small < 100  # not the parent's memory
