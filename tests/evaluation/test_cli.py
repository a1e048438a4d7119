import srsly
from spacy.tokens import DocBin
from typer.testing import CliRunner

from spacy_bioner.cli import _register_commands, app

_register_commands()
runner = CliRunner()


def write_data(tmp_path, make_doc, make_ruler):
    docs = [make_doc(["familial", "gastric", "cancer"], ["B-Disease", "I-Disease", "I-Disease"])]
    DocBin(docs=docs).to_disk(tmp_path / "test.spacy")
    make_ruler([{"label": "Disease", "pattern": "gastric cancer"}]).to_disk(tmp_path / "model")


def test_evaluate_command(tmp_path, make_doc, make_ruler):
    write_data(tmp_path, make_doc, make_ruler)
    args = ["evaluate", str(tmp_path / "model"), str(tmp_path / "test.spacy"), "--match", "right"]
    result = runner.invoke(app, args + ["--output", str(tmp_path / "m.json"), "--report-dir", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    metrics = srsly.read_json(tmp_path / "m.json")
    assert metrics["match"] == "right" and metrics["ents_f"] == 1.0
    assert metrics["criteria"]["exact"]["f"] == 0.0
    assert (tmp_path / "r" / "errors.jsonl").exists() and (tmp_path / "r" / "examples.html").exists()
    bad = runner.invoke(app, args[:3] + ["--match", "fuzzy"])
    assert bad.exit_code == 1


def test_evaluate_command_reports_disjoint_labels(tmp_path, make_doc, make_ruler):
    DocBin(docs=[make_doc(["BRCA1"], ["B-Gene"])]).to_disk(tmp_path / "genes.spacy")
    make_ruler([{"label": "Disease", "pattern": "cancer"}]).to_disk(tmp_path / "model")
    result = runner.invoke(app, ["evaluate", str(tmp_path / "model"), str(tmp_path / "genes.spacy")])
    assert result.exit_code == 1
    assert "['Disease']" in result.output and "['Gene']" in result.output


def test_compare_command(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    for i, (a, b) in enumerate(((1.0, 2.0), (2.0, 4.0), (3.0, 7.0))):
        srsly.write_json(tmp_path / "a" / f"{i}.json", {"ents_f": a, "seed": i})
        srsly.write_json(tmp_path / "b" / f"{i}.json", {"ents_f": b, "seed": i})
    result = runner.invoke(app, ["compare", str(tmp_path / "a" / "*.json"), "--vs", str(tmp_path / "b" / "*.json")])
    assert result.exit_code == 0, result.output
    assert "mean diff (A - B) = -2.3333" in result.output
    assert "p = 0.1181" in result.output and "paired" in result.output


def test_cross_corpus_command(tmp_path, make_doc, make_ruler):
    write_data(tmp_path, make_doc, make_ruler)
    spec = {"models": {"X": str(tmp_path / "model")}, "corpora": {"X": str(tmp_path / "test.spacy")}, "label_map": None}
    srsly.write_yaml(tmp_path / "spec.yml", spec)
    out = tmp_path / "out"
    result = runner.invoke(app, ["cross-corpus", "--spec", str(tmp_path / "spec.yml"), "--output-dir", str(out)])
    assert result.exit_code == 0, result.output
    cells = srsly.read_json(out / "cross_corpus.json")["cells"]
    assert [(c["model"], c["test_corpus"], c["match"], c["f"]) for c in cells] == [("X", "X", "exact", 0.0)]
    options = ["cross-corpus", "--model", f"X={tmp_path / 'model'}", "--corpus", f"X={tmp_path / 'test.spacy'}"]
    result = runner.invoke(app, options + ["--group", "Disease=X", "--output-dir", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "cross_corpus.png").exists()
    assert runner.invoke(app, ["cross-corpus", "--model", "oops", "--output-dir", str(out)]).exit_code == 1
