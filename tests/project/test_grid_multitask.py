"""Multi-task variants in the grid: a step per (corpus, partner, seed), the
multi-task config and partner paths, out-of-corpus on the third corpus, the
recipe in the metrics file, and MTL columns in docs/results.md."""
import json
from dataclasses import replace
from pathlib import Path

from spacy_bioner.project.grid import load_settings, plan_steps, run_grid, train_command
from spacy_bioner.project.results import NOT_MEASURED, load_metrics, render_results

from .test_grid import FakeRunner, fake_evaluator, settings  # noqa: F401  (fixture)

ROOT = Path(__file__).resolve().parents[2]


def mtl_settings(settings):  # noqa: F811
    (settings.project_dir / "configs").mkdir()
    (settings.project_dir / "configs" / "multitask.cfg").write_text("[paths]\n")
    return replace(
        settings,
        variants={**settings.variants, "multitask": ["--components.bilstm_crf_ner.model.embed_dropout", "0.3"]},
        variant_configs={"multitask": Path("configs/multitask.cfg")},
        multitask_variants=["multitask"],
    )


def test_multitask_steps_pair_each_corpus_with_each_partner(settings):  # noqa: F811
    s = mtl_settings(settings)
    steps = plan_steps(s, "multitask", ["disease"], [0])
    assert [(st.corpus, st.partner) for st in steps] == [
        ("A", "B"), ("A", "C"), ("B", "A"), ("B", "C"), ("C", "A"), ("C", "B")]
    cmd = train_command(s, steps[0])
    assert cmd[4] == "configs/multitask.cfg"
    assert cmd[cmd.index("--paths.partner_train") + 1] == "assets/corpora/B/train.tsv"
    assert cmd[cmd.index("--paths.partner_dev") + 1] == "assets/corpora/B/dev.tsv"
    assert s.metrics_path(steps[0]) == Path("results/multitask/A+B/seed0.json")
    # Single-task variants are unchanged.
    assert [st.partner for st in plan_steps(s, "vd", ["disease"], [0])] == [None] * 3


def test_multitask_step_writes_metrics_with_recipe(settings):  # noqa: F811
    s = mtl_settings(settings)
    steps = plan_steps(s, "multitask", ["disease"], [0])
    status = run_grid(s, steps[:1], runner=FakeRunner(), evaluator=fake_evaluator)
    assert status == {"multitask/A+B/seed0": "done"}
    metrics = json.loads((s.project_dir / "results/multitask/A+B/seed0.json").read_text())
    assert metrics["partner"] == "B"
    # Out-of-corpus only on the corpus that is neither train nor partner.
    assert list(metrics["out_of_corpus"]) == ["C"]
    assert metrics["recipe"]["config"] == "configs/multitask.cfg"
    assert len(metrics["recipe"]["config_sha256"]) == 64
    assert metrics["recipe"]["overrides"][:2] == ["--components.bilstm_crf_ner.model.embed_dropout", "0.3"]
    # Resumable: the step is skipped once its metrics file exists.
    assert run_grid(s, steps[:1], runner=FakeRunner(), evaluator=fake_evaluator) == {"multitask/A+B/seed0": "skipped"}
    text = render_results(load_metrics(s.project_dir / "results"), groups={"disease": ["A", "B", "C"]},
                          variants=["baseline", "multitask", "multitask_vd"], today="2026-11-23")
    assert "MTL (ours)" in text and "MTL+VD (ours)" in text
    # In-corpus 90, out-of-corpus on the third corpus C 50; no BL to compare with.
    assert "| MTL | A + B | 90.00 (n=1) | not yet measured | C | 50.00 (n=1) | not yet measured |" in text
    assert f"| MTL+VD | A + B | {NOT_MEASURED} | {NOT_MEASURED} |" in text


def test_project_declares_the_mtl_variants():
    s = load_settings(ROOT)
    assert {"multitask", "multitask_vd"} <= set(s.multitask_variants)
    assert s.config_of("multitask_vd") == Path("configs/recipe2/multitask.cfg")
    # 3 corpora × 2 partners × 2 groups × 3 seeds.
    assert len(plan_steps(s, "multitask_vd", ["disease", "species"], [0, 1, 2])) == 36
