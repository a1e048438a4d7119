"""PubMed scale: MEDLINE XML and plain-text units in, sharded resumable
output, and the Ray backend equal to the local runner record for record."""
import json
import shutil
from pathlib import Path

import pytest

from spacy_bioner.bulk.readers import detect_format, read_records
from spacy_bioner.bulk.shards import annotate_sharded, marker_path

from .conftest import run_cli

MEDLINE = Path(__file__).parents[1] / "fixtures" / "medline" / "pubmed_sample.xml"


def lines(path):
    return [json.loads(line) for line in Path(path).read_text(encoding="utf8").splitlines()]


def check_offsets(records, texts):
    for record in records:
        for ent in record.get("entities", []):
            assert texts[record["id"]][ent["start"]:ent["end"]] == ent["text"]


def test_medline_records_deletions_and_errors(tmp_path):
    assert detect_format(MEDLINE) == "medline"
    records = list(read_records(MEDLINE))
    assert [r.id for r in records][:2] == ["100001", "100002"]
    assert [r.error is not None for r in records] == [False, False, True, False, True, False]
    assert records[-1].deleted == ["99991", "99992"] and records[-1].text is None


def test_plain_text_units(tmp_path):
    wrapped = tmp_path / "abstracts.txt"
    wrapped.write_text("Mutations in BRCA1\ncause breast cancer .\n\nCystic fibrosis is caused\nby CFTR .\n")
    listed = tmp_path / "list.txt"
    listed.write_text("Mutations in BRCA1 cause breast cancer .\nCystic fibrosis is caused by CFTR .\n")
    assert detect_format(wrapped) == "paragraphs" and detect_format(listed) == "text"
    paragraphs = list(read_records(wrapped))
    assert [r.text for r in paragraphs] == ["Mutations in BRCA1\ncause breast cancer .", "Cystic fibrosis is caused\nby CFTR ."]
    assert [r.line for r in paragraphs] == [1, 4]
    whole = list(read_records(wrapped, "document"))
    assert len(whole) == 1 and whole[0].text.startswith("Mutations") and whole[0].id == "abstracts.txt"


@pytest.fixture
def inputs(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(MEDLINE, folder / "pubmed26n0001.xml")
    texts = {}
    rows = []
    for i in range(40):
        text = ["Mutations in BRCA1 cause hereditary breast cancer .", "Loss of PTEN promotes prostate cancer ."][i % 2]
        texts[f"d{i}"] = text
        rows.append(json.dumps({"id": f"d{i}", "text": text}))
    (folder / "a.jsonl").write_text("\n".join(rows[:25]) + "\n")
    (folder / "b.jsonl").write_text("\n".join(rows[25:]) + "\n")
    return [folder / "pubmed26n0001.xml", folder / "a.jsonl", folder / "b.jsonl"], texts


def test_sharded_run_resumes_without_loss_or_duplicates(trained_nlp, inputs, tmp_path):
    paths, texts = inputs
    reference = tmp_path / "reference"
    summary = annotate_sharded(trained_nlp, paths, reference, progress=False)
    assert summary.finished == ["pubmed26n0001.xml.jsonl", "a.jsonl.jsonl", "b.jsonl.jsonl"]
    assert all(marker_path(reference / name).exists() for name in summary.finished)
    a = lines(reference / "a.jsonl.jsonl")
    assert [r["id"] for r in a] == [f"d{i}" for i in range(25)]
    check_offsets(a, texts)
    assert a[0]["text"] == texts["d0"]  # the input text is kept: convert --from jsonl reads it back
    medline = lines(reference / "pubmed26n0001.xml.jsonl")
    assert len(medline) == 6 and medline[-1]["deleted"] == ["99991", "99992"]
    assert sum("error" in r for r in medline) == 2

    # Stop part-way: shard a finished, shard b cut after 7 records and a
    # half-written line, no marker. A restart skips a unopened and completes b.
    run = tmp_path / "run"
    run.mkdir()
    for name in ("pubmed26n0001.xml.jsonl", "a.jsonl.jsonl"):
        shutil.copy(reference / name, run / name)
        shutil.copy(marker_path(reference / name), marker_path(run / name))
    partial = (reference / "b.jsonl.jsonl").read_bytes().splitlines(keepends=True)
    (run / "b.jsonl.jsonl").write_bytes(b"".join(partial[:7]) + partial[7][:20])
    again = annotate_sharded(trained_nlp, paths, run, progress=False)
    assert again.skipped == ["pubmed26n0001.xml.jsonl", "a.jsonl.jsonl"] and again.finished == ["b.jsonl.jsonl"]
    for name in summary.finished:
        assert (run / name).read_bytes() == (reference / name).read_bytes(), name


def test_cli_sharded_and_input_protection(model_dir, inputs, tmp_path):
    paths, _ = inputs
    before = {p: p.read_bytes() for p in paths}
    code, output = run_cli("annotate", model_dir, *paths, "--output-dir", tmp_path / "out", "--no-progress")
    # Two MEDLINE records are unusable: written as error records, exit 1.
    assert code == 1 and "3 shard(s) finished" in output
    assert {p: p.read_bytes() for p in paths} == before
    code, output = run_cli("annotate", model_dir, *paths, "--output-dir", paths[1])
    assert code == 1 and "must be a folder" in output
    code, output = run_cli("annotate", model_dir, paths[1], tmp_path / "x.jsonl", "--backend", "ray")
    assert code == 1 and "--output-dir" in output


def test_ray_backend_equals_local(model_dir, trained_nlp, inputs, tmp_path):
    pytest.importorskip("ray", reason="the [ray] extra is not installed")
    from spacy_bioner.bulk.ray_backend import annotate_ray

    paths, _ = inputs
    local = tmp_path / "local"
    annotate_sharded(trained_nlp, paths, local, progress=False)
    distributed = tmp_path / "ray"
    summary = annotate_ray(str(model_dir), paths, distributed, batch_size=8, actors=2, num_cpus=2)
    assert sorted(summary.finished) == sorted(p.name for p in local.glob("*.jsonl"))
    for shard in local.glob("*.jsonl"):
        assert lines(distributed / shard.name) == lines(shard), shard.name
        assert marker_path(distributed / shard.name).exists()
