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
    assert "Evaluating" in result.output and "Scored 1 docs" in result.output
    bad = runner.invoke(app, args[:3] + ["--match", "fuzzy"])
    assert bad.exit_code == 2 and "'fuzzy' is not one of" in bad.output  # typer's check of the Enum
    help_text = runner.invoke(app, ["evaluate", "--help"]).output
    assert "exact" in help_text and "left" in help_text and "right" in help_text


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
    assert "same corpus, seed and fold" in result.output
    assert "do not say which corpus" in result.output
    welch = runner.invoke(app, ["compare", str(tmp_path / "a" / "*.json"), "--vs", str(tmp_path / "b" / "*.json"),
                                "--test", "welch"])
    assert "welch t-test" in welch.output and "forced" in welch.output


def test_compare_says_when_it_pools_corpora(tmp_path):
    for side, shift in (("a", 0.0), ("b", 0.01)):
        for corpus in ("NCBI", "S800"):
            for seed in (0, 1):
                srsly.write_json(tmp_path / f"{side}-{corpus}-{seed}.json",
                                 {"in_corpus": {"f1": 0.8 + seed / 10 - shift * (seed + len(corpus))},
                                  "corpus": corpus, "seed": seed})
    result = runner.invoke(app, ["compare", str(tmp_path / "a-*.json"), "--vs", str(tmp_path / "b-*.json")])
    assert result.exit_code == 0, result.output
    assert "Pooled runs across 2 corpora: NCBI, S800" in result.output
    assert "paired t-test" in result.output


def test_version():
    from spacy_bioner import __version__

    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"spacy-bioner {__version__}"


def test_cross_corpus_command(tmp_path, make_doc, make_ruler):
    write_data(tmp_path, make_doc, make_ruler)
    spec = {"models": {"X": str(tmp_path / "model")}, "corpora": {"X": str(tmp_path / "test.spacy")}, "label_map": None}
    srsly.write_yaml(tmp_path / "spec.yml", spec)
    out = tmp_path / "out"
    result = runner.invoke(app, ["cross-corpus", "--spec", str(tmp_path / "spec.yml"), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "Reading corpus X" in result.output and "Scoring X on X (1 docs)" in result.output
    cells = srsly.read_json(out / "cross_corpus.json")["cells"]
    assert [(c["model"], c["test_corpus"], c["match"], c["f"]) for c in cells] == [("X", "X", "exact", 0.0)]
    options = ["cross-corpus", "--model", f"X={tmp_path / 'model'}", "--corpus", f"X={tmp_path / 'test.spacy'}"]
    result = runner.invoke(app, options + ["--group", "Disease=X", "--output-dir", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "cross_corpus.png").exists()
    bad = runner.invoke(app, ["cross-corpus", "--model", "oops", "--output", str(out)])
    assert bad.exit_code == 1 and "Bad --model 'oops': expected NAME=VALUE" in bad.output
    srsly.write_yaml(tmp_path / "typo.yml", {**spec, "modles": {}})
    bad = runner.invoke(app, ["cross-corpus", "--spec", str(tmp_path / "typo.yml"), "-o", str(out)])
    # wasabi wraps long lines; the message is one line before that.
    assert bad.exit_code == 1 and "typo.yml: unknown key(s) ['modles']" in " ".join(bad.output.split())
