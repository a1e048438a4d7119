"""Category 4: every way a command can be misused ends in one line naming
the file (and line or field), exit 1, no traceback, nothing written."""
import json
import shutil

import pytest

from .conftest import fail_line, run_cli, snapshot

TEXT = "Mutations in BRCA1 cause hereditary breast cancer ."


@pytest.fixture()
def src(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps({"id": "a", "text": TEXT}) + "\n", encoding="utf8")
    return path


@pytest.mark.parametrize("case", [
    "missing model folder", "model name that is not installed", "model is a file", "output is a folder",
    "batch size 0", "batch size -3", "n-process 0", "unknown format", "missing input", "input is a folder",
    "gz that is not gzip", "empty gz", "no output given",
])
def test_annotate_misuse(model_dir, tmp_path, src, case):
    out = tmp_path / "out.jsonl"
    args = [model_dir, src, out]
    named = None
    if case == "missing model folder":
        args[0] = named = tmp_path / "no" / "model"
    elif case == "model name that is not installed":
        args[0] = named = "en_no_such_model_xyz"
    elif case == "model is a file":
        args[0] = named = src
    elif case == "output is a folder":
        out = named = tmp_path / "folder.jsonl"
        out.mkdir()
        args[2] = out
    elif case.startswith("batch size"):
        args += ["--batch-size", case.split()[-1]]
        named = "--batch-size"
    elif case == "n-process 0":
        args += ["--n-process", "0"]
        named = "--n-process"
    elif case == "unknown format":
        args += ["--format", "xml"]
        named = "--format"
    elif case == "missing input":
        args[1] = named = tmp_path / "missing.jsonl"
    elif case == "input is a folder":
        args[1] = named = tmp_path
    elif case == "gz that is not gzip":
        args[1] = named = tmp_path / "in.jsonl.gz"
        named.write_text("plain text\n")
    elif case == "empty gz":
        args[1] = named = tmp_path / "empty.txt.gz"
        named.write_bytes(b"")
    elif case == "no output given":
        args = [model_dir, src]
        named = "output"
    before = snapshot(tmp_path)
    code, output = run_cli("annotate", *args)
    assert code == 1, output
    assert str(named) in fail_line(output), output
    if case != "output is a folder":
        assert not out.exists()
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("case", ["widths", "truncated", "vectors", "cfg not json"])
def test_model_that_does_not_fit_its_weights(model_dir, tmp_path, src, case):
    model = tmp_path / "model"
    shutil.copytree(model_dir, model)
    component = model / "bilstm_crf_ner"
    if case == "widths":
        # A config whose widths do not match the weights (no checksum covers config.cfg).
        config = model / "config.cfg"
        config.write_text(config.read_text().replace("hidden_size = 32", "hidden_size = 48"))
    else:
        (component / "checksums.json").unlink()  # a model saved before checksums
        target = component / ("cfg" if case in ("vectors", "cfg not json") else "model")
        data = target.read_bytes()
        if case == "truncated":
            data = data[: len(data) // 3]
        elif case == "vectors":
            data = data.replace(b'"vectors_size":0', b'"vectors_size":50')
        else:
            data = b"{not json"
        target.write_bytes(data)
    code, output = run_cli("annotate", model, src, tmp_path / "out.jsonl")
    assert code == 1
    assert f"{component / 'model'}: cannot load the weights" in fail_line(output), output
    code, output = run_cli("evaluate", model, tmp_path / "gold.tsv")
    assert code != 0 and "Traceback" not in output


def test_evaluate_misuse(model_dir, tmp_path):
    gold = tmp_path / "gold.tsv"
    gold.write_text("BRCA1\tB-Gene\nis\tO\n\n", encoding="utf8")
    code, output = run_cli("evaluate", tmp_path / "nope", gold)
    assert code == 1 and str(tmp_path / "nope") in fail_line(output)
    (tmp_path / "out").mkdir()
    code, output = run_cli("evaluate", model_dir, gold, "--output", tmp_path / "out")
    assert code == 1 and str(tmp_path / "out") in fail_line(output)
    bad = tmp_path / "bad.tsv"
    bad.write_bytes(b"BRCA1\tB-Gene\n\xff\tO\n\n")
    code, output = run_cli("evaluate", model_dir, bad)
    assert code == 1 and f"{bad}:2" in fail_line(output)


@pytest.mark.parametrize("case", ["gz not gzip", "unknown from", "unknown to", "missing input", "output is a folder"])
def test_convert_misuse(tmp_path, case):
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"id": "a", "text": TEXT}) + "\n", encoding="utf8")
    args = [src, tmp_path / "out.tsv", "--from", "jsonl", "--to", "conll"]
    named = None
    if case == "gz not gzip":
        args[0] = named = tmp_path / "in.jsonl.gz"
        named.write_text("x")
        args[2:4] = ["--from", "jsonl"]
    elif case == "unknown from":
        args[3] = "xml"
        named = "--from"
    elif case == "unknown to":
        args[5] = "xml"
        named = "--to"
    elif case == "missing input":
        args[0] = named = tmp_path / "missing.jsonl"
    else:
        args[1] = named = tmp_path / "folder"
        named.mkdir()
        (named / "keep").write_text("mine")
    before = snapshot(tmp_path)
    code, output = run_cli("convert", *args)
    assert code == 1 and str(named) in fail_line(output), output
    assert snapshot(tmp_path) == before
