"""k-fold cross-validation: fold corpora and resumable fold steps."""
from pathlib import Path

import pytest

from spacy_bioner.evaluation.stats import compare, get_f1
from spacy_bioner.corpora.util import CorpusFormatError
from spacy_bioner.project.cv import FOLDS_DIR, cv_settings, cv_steps, prepare_cv, read_documents, summarize, write_folds
from spacy_bioner.project.grid import run_grid

from .test_grid import FakeRunner, fake_evaluator, settings  # noqa: F401  (fixture)


def _corpus(tmp_path: Path, docstart: bool) -> Path:
    folder = tmp_path / "corpora" / "Tiny"
    folder.mkdir(parents=True)
    for split, n in (("train", 12), ("dev", 4)):
        lines = []
        for i in range(n):
            if docstart and i % 2 == 0:
                lines += ["-DOCSTART-\tO", ""]
            lines += [f"{split}{i}\tB-Disease", "word\tO", ""]
        (folder / f"{split}.tsv").write_text("\n".join(lines), encoding="utf8")
    return folder


def _sentences(path: Path):
    return [tuple(f"{token}\t{tag}" for token, tag, _ in s) for doc in read_documents(path)[0] for s in doc]


@pytest.mark.parametrize("docstart", [False, True])
def test_folds_partition_train_and_dev(tmp_path, docstart):
    corpus = _corpus(tmp_path, docstart)
    names = write_folds(corpus, tmp_path / "folds", k=4, seed=1)
    assert names == [f"Tiny-fold{i}" for i in range(4)]
    everything = set(_sentences(corpus / "train.tsv")) | set(_sentences(corpus / "dev.tsv"))
    tests = []
    for name in names:
        parts = {s: _sentences(tmp_path / "folds" / name / f"{s}.tsv") for s in ("train", "dev", "test")}
        assert set(parts["train"]) | set(parts["dev"]) | set(parts["test"]) == everything
        assert not set(parts["train"]) & set(parts["test"]) and not set(parts["dev"]) & set(parts["test"])
        tests.extend(parts["test"])
    # Every sentence is tested exactly once.
    assert sorted(tests) == sorted(everything)
    if docstart:
        # Sentences of one document stay in one fold: "train0" and "train1" share a document.
        for name in names:
            test = {s[0].split("\t")[0] for s in _sentences(tmp_path / "folds" / name / "test.tsv")}
            assert ("train0" in test) == ("train1" in test)


def test_too_few_folds(tmp_path):
    with pytest.raises(ValueError, match="k >= 3"):
        write_folds(_corpus(tmp_path, False), tmp_path / "folds", k=2)


def test_fold_steps_are_resumable_and_summarized(tmp_path, settings):  # noqa: F811
    corpus = _corpus(tmp_path, False)
    names = write_folds(corpus, tmp_path / "folds", k=3)
    cv = cv_settings(settings, tmp_path / "folds", "Tiny", names)
    steps = cv_steps("vd", names, [0])
    runner = FakeRunner()
    status = run_grid(cv, steps, runner=runner, evaluator=fake_evaluator)
    assert set(status.values()) == {"done"} and len(runner.calls) == 3
    assert "--paths.train" in runner.calls[0]
    assert str(tmp_path / "folds" / "Tiny-fold0" / "train.tsv") in runner.calls[0]
    again = run_grid(cv, steps, runner=runner, evaluator=fake_evaluator)
    assert set(again.values()) == {"skipped"} and len(runner.calls) == 3
    summary = summarize(cv, "vd", names, [0])
    assert summary["runs"] == 3 and summary["mean_f1"] == pytest.approx(0.9)
    metrics = cv.path(cv.metrics_path(steps[0]))
    assert "cv" in metrics.parts and metrics.exists()
    # Fold metrics carry no out-of-corpus scores: each fold is its own group.
    import json

    assert json.loads(metrics.read_text())["out_of_corpus"] == {}


def test_compare_reads_grid_metrics():
    a = [{"seed": s, "in_corpus": {"f1": f}} for s, f in ((0, 0.80), (1, 0.82), (2, 0.81))]
    b = [{"seed": s, "in_corpus": {"f1": f}} for s, f in ((0, 0.78), (1, 0.79), (2, 0.80))]
    assert get_f1(a[0]) == 0.80
    assert get_f1({"out_of_corpus": {"S800": {"f1": 0.5}}}, "out_of_corpus.S800.f1") == 0.5
    result = compare(a, b)
    assert result.to_dict()["mean_diff"] == pytest.approx(0.02)


def test_prepare_cv_writes_fold_folders_under_the_project(tmp_path, settings):  # noqa: F811
    from dataclasses import replace

    _corpus(tmp_path, False)
    project = replace(settings, project_dir=tmp_path, corpora_dir=Path("corpora"))
    cv, names = prepare_cv(project, "Tiny", k=3)
    assert cv.corpora_dir == FOLDS_DIR and (tmp_path / FOLDS_DIR / names[0] / "test.tsv").is_file()
    assert cv.groups == {name: [name] for name in names}
    with pytest.raises(FileNotFoundError, match="no such corpus folder"):
        prepare_cv(project, "Nope")


def test_bad_corpus_line_names_file_and_line(tmp_path):
    corpus = _corpus(tmp_path, False)
    (corpus / "dev.tsv").write_text("word\tB-Disease\nbad\tX-Y\n", encoding="utf8")
    with pytest.raises(CorpusFormatError, match="dev.tsv:2"):
        write_folds(corpus, tmp_path / "folds", k=3)
