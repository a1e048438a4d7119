"""Category 1: nothing of the user's is deleted or overwritten, and no record
is skipped silently (duplicate ids, same file names, truncated gzip)."""
import gzip
import json

import pytest

from spacy_bioner.bulk import annotate

from .conftest import assert_one_line_per_record, fail_line, run_cli, snapshot

TEXT = "Mutations in BRCA1 cause hereditary breast cancer ."


def _write_jsonl(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf8")
    return path


@pytest.mark.parametrize("extra", [[], ["--no-resume"]])
def test_output_equal_to_input_is_refused(model_dir, tmp_path, extra):
    src = _write_jsonl(tmp_path / "in.jsonl", [{"id": "a", "text": TEXT}])
    before = snapshot(src)
    code, out = run_cli("annotate", model_dir, src, src, *extra)
    assert code == 1
    assert str(src) in fail_line(out) and "also an input" in out
    assert snapshot(src) == before


@pytest.mark.parametrize("names", [("a.txt", "b.txt"), ("a.jsonl", "b.jsonl"), ("a.pubtator", "b.jsonl")])
def test_forgotten_output_path_is_refused(model_dir, tmp_path, names):
    # The last input would become the output: a wrong suffix, or a .jsonl
    # that annotate did not write.
    first, last = tmp_path / names[0], tmp_path / names[1]
    first.write_text(TEXT + "\n", encoding="utf8")
    _write_jsonl(last, [{"id": "x", "text": TEXT}])
    before = snapshot(tmp_path)
    code, out = run_cli("annotate", model_dir, first, last, "--no-resume")
    assert code == 1 and str(last) in fail_line(out)
    assert snapshot(tmp_path) == before


def test_no_resume_empties_only_annotates_own_output(trained_nlp, tmp_path):
    src = _write_jsonl(tmp_path / "in.jsonl", [{"id": "a", "text": TEXT}, {"id": "b", "text": TEXT}])
    out = tmp_path / "out.jsonl"
    annotate(trained_nlp, [src], out, progress=False)
    annotate(trained_nlp, [src], out, resume=False, progress=False)
    assert_one_line_per_record(out, ["a", "b"])
    foreign = tmp_path / "notes.jsonl"
    foreign.write_text('{"note": "mine"}\n', encoding="utf8")
    with pytest.raises(ValueError, match=r"notes\.jsonl:1: not an annotate record"):
        annotate(trained_nlp, [src], foreign, resume=False, progress=False)
    assert foreign.read_text(encoding="utf8") == '{"note": "mine"}\n'


def test_convert_never_empties_a_foreign_folder(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"id": "d1", "text": TEXT, "entities": [{"start": 13, "end": 18, "label": "Gene"}]}) + "\n", encoding="utf8")
    for kind, setup in (("non-empty folder", lambda p: (p / "keep.txt").write_text("mine")),
                        ("a file where a folder goes", lambda p: None)):
        target = tmp_path / kind.replace(" ", "_")
        if kind == "non-empty folder":
            target.mkdir()
            setup(target)
        else:
            target.write_text("mine")
        before = snapshot(target, src)
        code, out = run_cli("convert", src, target, "--from", "jsonl", "--to", "brat")
        assert code == 1 and str(target) in fail_line(out), kind
        assert snapshot(target, src) == before
    # Our own earlier output, and an empty folder, may be replaced.
    ours = tmp_path / "ours"
    for _ in range(2):
        code, out = run_cli("convert", src, ours, "--from", "jsonl", "--to", "brat")
        assert code == 0, out
    empty = tmp_path / "empty"
    empty.mkdir()
    assert run_cli("convert", src, empty, "--from", "jsonl", "--to", "brat")[0] == 0


def test_convert_output_over_its_input_is_refused(tmp_path):
    src = tmp_path / "in.tsv"
    src.write_text("BRCA1\tB-Gene\nis\tO\n\n", encoding="utf8")
    before = snapshot(src)
    code, out = run_cli("convert", src, src, "--from", "conll", "--to", "conll")
    assert code == 1 and str(src) in fail_line(out)
    assert snapshot(src) == before


@pytest.mark.parametrize("ids", [["7", "7"], [7, "7"], ["7", " 7 "], [7, 7]])
def test_duplicate_and_equivalent_ids_become_error_records(trained_nlp, tmp_path, ids):
    src = _write_jsonl(tmp_path / "in.jsonl", [{"id": ids[0], "text": TEXT}, {"id": "x", "text": TEXT},
                                               {"id": ids[1], "text": TEXT}])
    out = tmp_path / "out.jsonl"
    summary = annotate(trained_nlp, [src], out, progress=False)
    records = assert_one_line_per_record(out, ["7", "x", "7"])
    assert "entities" in records[0] and "error" in records[2]
    assert f"{src}:3: duplicate id '7' (first at {src}:1)" == records[2]["error"]
    assert records[2]["file"] == str(src) and records[2]["line"] == 3
    assert summary.errors == 1
    # A resumed run finds both and writes nothing more.
    again = annotate(trained_nlp, [src], out, progress=False)
    assert again.skipped == 3 and again.written == again.errors == 0


def test_same_file_name_in_two_folders_keeps_both(trained_nlp, tmp_path):
    paths = []
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        path = tmp_path / folder / "abstracts.txt"
        path.write_text(f"{TEXT}\nSecond line of {folder} .\n", encoding="utf8")
        paths.append(path)
    out = tmp_path / "out.jsonl"
    summary = annotate(trained_nlp, paths, out, progress=False)
    assert summary.written == 4 and summary.errors == 0
    assert_one_line_per_record(out, [f"{paths[0]}:1", f"{paths[0]}:2", f"{paths[1]}:1", f"{paths[1]}:2"])
    # The same file given twice: the second copy is reported, not skipped.
    out2 = tmp_path / "out2.jsonl"
    summary = annotate(trained_nlp, [paths[0], paths[0]], out2, progress=False)
    assert summary.written == 2 and summary.errors == 2


@pytest.mark.parametrize("fmt", ["jsonl", "text", "pubtator"])
def test_truncated_gzip_keeps_what_is_readable(trained_nlp, tmp_path, fmt):
    n = 200
    if fmt == "jsonl":
        body = "".join(json.dumps({"id": f"d{i}", "text": f"{TEXT} {i}"}) + "\n" for i in range(n))
    elif fmt == "text":
        body = "".join(f"{TEXT} {i}\n" for i in range(n))
    else:
        body = "".join(f"{i}|t|{TEXT}\n{i}|a|Abstract {i} .\n\n" for i in range(n))
    data = gzip.compress(body.encode("utf8"))
    src = tmp_path / f"in.{fmt}.gz"
    src.write_bytes(data[: len(data) * 2 // 3])
    before = snapshot(src)
    out = tmp_path / "out.jsonl"
    summary = annotate(trained_nlp, [src], out, fmt=fmt, progress=False)
    records = [json.loads(line) for line in out.read_text(encoding="utf8").splitlines()]
    assert summary.written > 10 and summary.errors >= 1
    assert "breaks off" in records[-1]["error"] and records[-1]["error"].startswith(f"{src}:")
    ids = [r["id"] for r in records]
    assert len(ids) == len(set(ids))
    assert snapshot(src) == before
