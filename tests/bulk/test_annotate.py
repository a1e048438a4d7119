"""Bulk annotation: every record in, one line out; errors recorded; resumable."""
import gzip
import json

import pytest

from spacy_bioner.bulk import annotate, detect_format, read_records

TEXTS = {
    "d1": "Mutations in BRCA1 cause hereditary breast cancer .",
    "d2": "Loss of PTEN promotes prostate cancer progression .",
    "d3": "The study enrolled 40 healthy volunteers .",
    "d4": "Marfan syndrome is linked to FBN1 .",
}


def _jsonl(path, with_bad=True):
    lines = [json.dumps({"id": k, "text": v}) for k, v in TEXTS.items()]
    if with_bad:
        lines.insert(2, "{not json")
        lines.insert(4, json.dumps({"id": "no-text", "title": 3}))
    path.write_text("\n".join(lines) + "\n", encoding="utf8")
    return path


def _read(path):
    return [json.loads(line) for line in path.read_text(encoding="utf8").splitlines()]


def test_every_record_gets_a_line(trained_nlp, tmp_path):
    src = _jsonl(tmp_path / "in.jsonl")
    out = tmp_path / "out.jsonl"
    summary = annotate(trained_nlp, [src], out, progress=False)
    records = _read(out)
    assert [r["id"] for r in records] == ["d1", "d2", "in.jsonl:3", "d3", "no-text", "d4"]
    assert summary.written == 4 and summary.errors == 2
    bad = {r["id"]: r for r in records if "error" in r}
    assert bad["in.jsonl:3"]["line"] == 3 and "invalid JSON" in bad["in.jsonl:3"]["error"]
    assert str(src) in bad["no-text"]["error"]
    d1 = next(r for r in records if r["id"] == "d1")
    for ent in d1["entities"]:
        assert TEXTS["d1"][ent["start"] : ent["end"]] == ent["text"]
        assert 0.0 <= ent["score"] <= 1.0
    assert ("BRCA1", "Gene") in [(e["text"], e["label"]) for e in d1["entities"]]


def test_resume_after_a_crash_mid_line(trained_nlp, tmp_path):
    src = _jsonl(tmp_path / "in.jsonl", with_bad=False)
    out = tmp_path / "out.jsonl"
    annotate(trained_nlp, [src], out, progress=False)
    full = out.read_text(encoding="utf8")
    lines = full.splitlines(keepends=True)
    # Two complete records and half of the third survived the "crash".
    out.write_text("".join(lines[:2]) + lines[2][:10], encoding="utf8")
    summary = annotate(trained_nlp, [src], out, progress=False)
    assert summary.skipped == 2 and summary.written == 2
    assert out.read_text(encoding="utf8") == full


def test_pubtator_text_and_gzip_inputs(trained_nlp, tmp_path):
    pubtator = tmp_path / "docs.pubtator"
    pubtator.write_text("123|t|BRCA1 and cancer\n123|a|Loss of PTEN .\n123\t0\t5\tBRCA1\tGene\t672\n\n"
                        "456|t|Marfan syndrome\n456|a|FBN1 .\n", encoding="utf8")
    text = tmp_path / "docs.txt.gz"
    with gzip.open(text, "wt", encoding="utf8") as f:
        f.write(TEXTS["d1"] + "\n\n" + TEXTS["d2"] + "\n")
    # Blank lines between the texts: paragraphs (here one line each).
    assert detect_format(pubtator) == "pubtator" and detect_format(text) == "paragraphs"
    records = list(read_records(pubtator))
    assert [(r.id, r.text) for r in records] == [("123", "BRCA1 and cancer Loss of PTEN ."), ("456", "Marfan syndrome FBN1 .")]
    out = tmp_path / "out.jsonl"
    summary = annotate(trained_nlp, [pubtator, text], out, progress=False)
    assert summary.written == 4 and [r["id"] for r in _read(out)] == ["123", "456", "docs.txt.gz:1", "docs.txt.gz:3"]


def test_unknown_format_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="--format must be one of"):
        list(read_records(_jsonl(tmp_path / "x.jsonl"), "xml"))


def test_cli(model_dir, tmp_path):
    from typer.testing import CliRunner

    from spacy_bioner.cli import _register_commands, app

    _register_commands()
    src = _jsonl(tmp_path / "in.jsonl")
    result = CliRunner().invoke(app, ["annotate", str(model_dir), str(src), str(tmp_path / "o.jsonl"), "--no-progress"])
    # Everything is written; the exit status says that some records failed.
    assert result.exit_code == 1, result.output
    assert "4 documents annotated" in result.output and "2 error records" in result.output
    assert len(_read(tmp_path / "o.jsonl")) == 6


def test_cli_threads_give_the_one_thread_output(model_dir, tmp_path):
    import torch

    from .conftest import run_cli

    src = tmp_path / "in.jsonl"
    text = "Mutations in BRCA1 cause hereditary breast cancer . Loss of PTEN causes Cowden syndrome ."
    # About 110 windows in the batch of 64 documents: several groups (of at
    # most 2,048 padded tokens in the test model), for two threads to share.
    src.write_text("".join(json.dumps({"id": str(i), "text": " ".join([text] * (1 + i % 12))}) + "\n"
                           for i in range(64)))
    before = torch.get_num_threads()
    outputs = []
    try:
        for threads in (1, 2):
            out = tmp_path / f"o{threads}.jsonl"
            code, output = run_cli("annotate", model_dir, src, out, "--threads", threads, "--batch-size", 64,
                                   "--no-progress")
            assert code == 0, output
            assert torch.get_num_threads() == threads
            outputs.append(out.read_text())
    finally:
        torch.set_num_threads(before)
    assert outputs[0] == outputs[1]
    assert len(outputs[0].splitlines()) == 64 and '"entities": [{' in outputs[0]
