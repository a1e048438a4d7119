"""Category 3: what would give wrong results without a word now fails, or
becomes an error record, naming the file and line or field."""
import json
import shutil

import pytest

from spacy_bioner.bulk import annotate
from spacy_bioner.corpora.convert import read_corpus

from .conftest import assert_one_line_per_record, fail_line, run_cli, snapshot

TEXT = "Mutations in BRCA1 cause hereditary breast cancer ."


def _inputs(tmp_path):
    jsonl = tmp_path / "docs.dat"
    jsonl.write_text(json.dumps({"id": "a", "text": TEXT}) + "\n", encoding="utf8")
    pubtator = tmp_path / "docs.pt"
    pubtator.write_text(f"1|t|{TEXT}\n1|a|More .\n1\t13\t18\tBRCA1\tGene\n\n", encoding="utf8")
    return {"jsonl": jsonl, "pubtator": pubtator}


@pytest.mark.parametrize("actual,given", [("jsonl", "pubtator"), ("jsonl", "text"),
                                          ("pubtator", "jsonl"), ("pubtator", "text")])
def test_a_format_that_contradicts_the_content_fails(model_dir, tmp_path, actual, given):
    src = _inputs(tmp_path)[actual]
    before = snapshot(tmp_path)
    out = tmp_path / "out.jsonl"
    code, output = run_cli("annotate", model_dir, src, out, "--format", given)
    line = fail_line(output)
    assert code == 1 and f"{src}:1: looks like {actual}, not {given}" in line
    assert not out.exists() and snapshot(tmp_path) == before


@pytest.mark.parametrize("record,field", [
    ({"id": 1.5, "text": TEXT}, '"id"'),
    ({"id": True, "text": TEXT}, '"id"'),
    ({"id": None, "text": TEXT}, '"id"'),
    ({"id": ["x"], "text": TEXT}, '"id"'),
    ({"id": "", "text": TEXT}, '"id"'),
    ({"id": "t", "text": 42}, '"text"'),
    ({"id": "t", "text": None}, '"text"'),
    ({"id": "t", "text": ["a", "b"]}, '"text"'),
    ({"id": "t", "title": {"x": 1}}, '"title"'),
    ({"id": "t", "title": "ok", "abstract": 7}, '"abstract"'),
    ({"pmid": 3.0, "title": "x"}, '"pmid"'),
])
def test_json_values_of_the_wrong_type_are_error_records(trained_nlp, tmp_path, record, field):
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"id": "ok", "text": TEXT}) + "\n" + json.dumps(record) + "\n", encoding="utf8")
    out = tmp_path / "out.jsonl"
    summary = annotate(trained_nlp, [src], out, progress=False)
    assert summary.written == 1 and summary.errors == 1
    bad = json.loads(out.read_text(encoding="utf8").splitlines()[1])
    assert bad["error"].startswith(f"{src}:2: field {field}"), bad
    assert bad["line"] == 2


@pytest.mark.parametrize("mention,field", [
    ("1\t-3\t5\tBRCA1\tGene", "start"), ("1\t13\t18.0\tBRCA1\tGene", "end"), ("1\t1O\t18\tBRCA1\tGene", "start"),
    ("1\t13\t\tBRCA1\tGene", "end"), ("1\t+13\t18\tBRCA1\tGene", "start"),
])
def test_pubtator_mentions_with_malformed_offsets_fail(tmp_path, mention, field):
    src = tmp_path / "in.pubtator"
    src.write_text(f"1|t|{TEXT}\n1|a|More .\n{mention}\n1\tCID\tD1\tD2\n\n", encoding="utf8")
    with pytest.raises(ValueError, match=rf"in\.pubtator:3: mention {field} offset"):
        read_corpus(src, "pubtator")
    code, output = run_cli("convert", src, tmp_path / "out.jsonl", "--from", "pubtator", "--to", "jsonl")
    assert code == 1 and f"{src}:3:" in fail_line(output)
    assert not (tmp_path / "out.jsonl").exists()


def test_relation_lines_are_still_counted_not_failed(tmp_path):
    src = tmp_path / "in.pubtator"
    src.write_text(f"1|t|{TEXT}\n1|a|More .\n1\t13\t18\tBRCA1\tGene\n1\tCID\tD1\tD2\n\n", encoding="utf8")
    assert len(read_corpus(src, "pubtator")) == 1


@pytest.mark.parametrize("label", ["Gene Product", "Gene\tX", "Disease\n", " lead"])
@pytest.mark.parametrize("to", ["conll", "brat", "pubtator"])
def test_labels_the_output_format_cannot_hold_fail(tmp_path, label, to):
    if to == "pubtator" and "\t" not in label and "\n" not in label:
        pytest.skip("PubTator holds spaces in a type column")
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"id": "d", "text": TEXT, "entities": [{"start": 13, "end": 18, "label": label}]}) + "\n",
                   encoding="utf8")
    out = tmp_path / ("out" if to == "brat" else f"out.{to}")
    code, output = run_cli("convert", src, out, "--from", "jsonl", "--to", to)
    line = fail_line(output)
    assert code == 1 and str(out) in line and "label" in line and "document d" in line
    assert not out.exists()
    # JSON can hold it, and reads back the same label.
    ok = tmp_path / "back.jsonl"
    assert run_cli("convert", src, ok, "--from", "jsonl", "--to", "jsonl")[0] == 0
    assert read_corpus(ok, "jsonl")[0].ents[0].label_ == label


@pytest.mark.parametrize("damage", ["random", "flip", "truncate", "empty", "cfg"])
def test_damaged_weights_fail_loudly_naming_the_file(model_dir, tmp_path, damage):
    import random

    import spacy

    copy = tmp_path / "model"
    shutil.copytree(model_dir, copy)
    target = copy / "bilstm_crf_ner" / ("cfg" if damage == "cfg" else "model")
    data = target.read_bytes()
    if damage == "random":
        data = bytes(random.Random(0).randrange(256) for _ in range(len(data)))
    elif damage == "flip":
        data = data[:-100] + bytes([data[-100] ^ 1]) + data[-99:]
    elif damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "empty":
        data = b""
    else:
        data = data.replace(b'"vectors_size":0', b'"vectors_size":0 ')
    target.write_bytes(data)
    with pytest.raises(ValueError, match=rf"{target}: checksum mismatch"):
        spacy.load(copy)
    src = tmp_path / "in.txt"
    src.write_text(TEXT + "\n", encoding="utf8")
    code, output = run_cli("annotate", copy, src, tmp_path / "out.jsonl")
    assert code == 1 and f"{target}: checksum mismatch" in fail_line(output)
    assert not (tmp_path / "out.jsonl").exists()


def test_a_saved_model_carries_checksums_and_loads_equal(model_dir, trained_nlp):
    import spacy

    listing = json.loads((model_dir / "bilstm_crf_ner" / "checksums.json").read_text())
    assert set(listing) == {"cfg", "model"} and all(v.startswith("sha256:") for v in listing.values())
    doc = spacy.load(model_dir)(TEXT)
    assert [(e.text, e.label_) for e in doc.ents] == [(e.text, e.label_) for e in trained_nlp(TEXT).ents]


def test_every_record_accounted_for_with_mixed_bad_input(trained_nlp, tmp_path):
    src = tmp_path / "in.jsonl"
    lines = [json.dumps({"id": "a", "text": TEXT}), "[1, 2]", json.dumps({"id": "b", "text": 3}), "{oops",
             json.dumps({"id": "c", "title": "T", "abstract": TEXT}), '"just a string"']
    src.write_text("\n".join(lines) + "\n", encoding="utf8")
    out = tmp_path / "out.jsonl"
    annotate(trained_nlp, [src], out, progress=False)
    assert_one_line_per_record(out, ["a", "in.jsonl:2", "b", "in.jsonl:4", "c", "in.jsonl:6"])
