from typer.testing import CliRunner

from spacy_bioner.cli import _register_commands, app

_register_commands()
runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_convert_conll_to_spacy_to_conll(fixtures, tmp_path, nlp):
    result = run("convert", fixtures / "iob2.tsv", tmp_path / "o.spacy", "--from", "conll",
                 "--to", "spacy", "--per", "document")
    assert result.exit_code == 0, result.output
    assert "2 docs, 3 sentences, 16 tokens, 6 entities" in " ".join(result.output.split())
    from spacy.tokens import DocBin

    docs = list(DocBin().from_disk(tmp_path / "o.spacy").get_docs(nlp.vocab))
    assert [d.user_data["id"] for d in docs] == ["iob2-0", "iob2-1"]


def test_convert_with_label_map_and_keep(fixtures, tmp_path):
    result = run("convert", fixtures / "brat_messy", tmp_path / "o.jsonl", "--from", "brat",
                 "--to", "jsonl", "--label-map", "default", "--keep-labels", "Gene,Species")
    assert result.exit_code == 0, result.output
    text = (tmp_path / "o.jsonl").read_text(encoding="utf8")
    assert '"label": "Gene"' in text and '"label": "Species"' in text and "Disease" not in text


def test_convert_pubtator_to_conll_has_sentences(fixtures, tmp_path):
    result = run("convert", fixtures / "sample.pubtator", tmp_path / "o.tsv", "--from", "pubtator", "--to", "conll")
    assert result.exit_code == 0, result.output
    sentences = (tmp_path / "o.tsv").read_text(encoding="utf8").strip().split("\n\n")
    assert len(sentences) == 3
    assert sentences[0].startswith("Aspirin\tB-Chemical\ninduced\tO\nasthma\tB-Disease")


def test_convert_bad_input_fails_with_file_and_line_and_writes_nothing(tmp_path):
    bad = tmp_path / "bad.tsv"
    bad.write_text("a\tO\nb\tI-X\tz\n", encoding="utf8")
    result = run("convert", bad, tmp_path / "out.tsv", "--from", "conll", "--to", "conll")
    assert result.exit_code == 1
    assert f"✘ {bad}:2: expected 2 columns, found 3\n" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.tsv"]


def test_convert_repair_flag(tmp_path):
    bad = tmp_path / "bad.tsv"
    bad.write_text("a\tB-X\nb\tO\nc\tI-X\n\n", encoding="utf8")
    result = run("convert", bad, tmp_path / "out.tsv", "--from", "conll", "--to", "conll")
    assert result.exit_code == 1 and "bad.tsv:3:" in result.output
    result = run("convert", bad, tmp_path / "out.tsv", "--from", "conll", "--to", "conll", "--repair")
    assert result.exit_code == 0 and "iob_repaired: 1" in " ".join(result.output.split())
    assert (tmp_path / "out.tsv").read_text(encoding="utf8") == "a\tB-X\nb\tO\nc\tB-X\n\n"


def test_convert_unknown_format(fixtures, tmp_path):
    result = run("convert", fixtures / "iob2.tsv", tmp_path / "o", "--from", "conll", "--to", "xml")
    assert result.exit_code == 1 and "--to must be one of" in result.output
    assert not (tmp_path / "o").exists()
