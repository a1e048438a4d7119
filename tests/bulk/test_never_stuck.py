"""Category 2: one bad record is one error record and the run goes on; any
text, however odd, resumes."""
import gzip
import json

import pytest

from spacy_bioner.bulk import annotate, read_records

from .conftest import assert_one_line_per_record, read_output, snapshot

TEXT = "Mutations in BRCA1 cause hereditary breast cancer ."


@pytest.mark.parametrize("fmt,bad_line", [
    ("jsonl", b'{"id": "bad", "text": "caf\xe9 BRCA1"}\n'),
    ("jsonl", b'{"id": "bad", "text": "\xff\xfe"}\n'),
    ("text", b"BRCA1 in \xc3 cancer .\n"),
    ("pubtator", b"bad|t|BRCA1 \x80 title\nbad|a|Abstract .\n\n"),
])
@pytest.mark.parametrize("compress", [False, True])
def test_a_byte_that_is_not_utf8_costs_one_record(trained_nlp, tmp_path, fmt, bad_line, compress):
    good = {"jsonl": lambda i: json.dumps({"id": f"g{i}", "text": TEXT}).encode() + b"\n",
            "text": lambda i: f"{TEXT} {i}\n".encode(),
            "pubtator": lambda i: f"g{i}|t|{TEXT}\ng{i}|a|More .\n\n".encode()}[fmt]
    data = good(1) + bad_line + good(2)
    src = tmp_path / f"in.{fmt}{'.gz' if compress else ''}"
    src.write_bytes(gzip.compress(data) if compress else data)
    before = snapshot(src)
    out = tmp_path / "out.jsonl"
    summary = annotate(trained_nlp, [src], out, fmt=fmt, progress=False)
    assert summary.written == 2 and summary.errors == 1
    records = read_output(out)
    assert len(records) == 3 and "entities" in records[0] and "entities" in records[2]
    assert records[1]["error"].startswith(f"{src}:") and "not valid UTF-8" in records[1]["error"]
    assert records[1]["line"] == (2 if fmt != "pubtator" else 4)
    # The next run resumes past it instead of failing at the same place.
    again = annotate(trained_nlp, [src], out, fmt=fmt, progress=False)
    assert again.skipped == 3 and again.written == again.errors == 0
    assert snapshot(src) == before


ODD = [
    "line\u2028separator", "paragraph\u2029separator", "next\u0085line", "carriage\rreturn",
    "form\x0cfeed", "vertical\x0btab", "file\x1cseparator", "group\x1d\x1erecord", "crlf\r\nin text",
    "lone \ud800 surrogate", "trailing \udfff", "emoji \U0001F9EC BRCA1", "nul\x00byte", "bom\ufeffinside",
]


def test_text_that_splitlines_would_split_resumes(trained_nlp, tmp_path):
    texts = {f"d{i}": f"{TEXT} {odd}" for i, odd in enumerate(ODD)}
    src = tmp_path / "in.jsonl"
    # ensure_ascii escapes make lone surrogates possible in the input at all.
    src.write_text("".join(json.dumps({"id": k, "text": v}) + "\n" for k, v in texts.items()), encoding="utf8")
    before = snapshot(src)
    out = tmp_path / "out.jsonl"
    first = annotate(trained_nlp, [src], out, progress=False)
    # A lone surrogate is not Unicode text: an error record naming the field.
    assert first.written == len(ODD) - 2 and first.errors == 2
    records = assert_one_line_per_record(out, list(texts))
    for record in records:
        if "\ud800" in texts[record["id"]] or "\udfff" in texts[record["id"]]:
            assert 'field "text": lone surrogate' in record["error"] and record["error"].startswith(f"{src}:")
            continue
        for ent in record["entities"]:
            assert texts[record["id"]][ent["start"]:ent["end"]] == ent["text"]
    out.read_bytes().decode("utf8")  # the output is valid UTF-8
    # Crash mid-line, then resume twice: identical to the uninterrupted run.
    full = out.read_bytes()
    out.write_bytes(full[: len(full) // 2])
    annotate(trained_nlp, [src], out, progress=False)
    again = annotate(trained_nlp, [src], out, progress=False)
    assert out.read_bytes() == full
    assert again.skipped == len(ODD) and again.written == 0
    assert snapshot(src) == before


def test_odd_characters_in_text_input_stay_in_their_line(tmp_path):
    src = tmp_path / "in.txt"
    src.write_bytes("a\u2028b\u0085c\rd\n\ne\x1cf\r\n".encode("utf8"))
    records = list(read_records(src))
    assert [(r.id, r.text) for r in records] == [("in.txt:1", "a\u2028b\u0085c\rd"), ("in.txt:3", "e\x1cf")]


def test_a_document_that_fails_in_the_pipeline_is_one_error_record(trained_nlp, tmp_path):
    from spacy.language import Language

    @Language.component("fail_on_poison")
    def fail_on_poison(doc):
        if "POISON" in doc.text:
            raise RuntimeError("poisoned document\nsecond line")
        return doc

    nlp = trained_nlp
    nlp.add_pipe("fail_on_poison", first=True)
    try:
        src = tmp_path / "in.jsonl"
        src.write_text("".join(json.dumps({"id": f"d{i}", "text": TEXT + (" POISON" if i in (1, 3) else "")}) + "\n"
                               for i in range(5)), encoding="utf8")
        out = tmp_path / "out.jsonl"
        summary = annotate(nlp, [src], out, batch_size=2, progress=False)
        records = assert_one_line_per_record(out, [f"d{i}" for i in range(5)])
        assert summary.errors == 2 and summary.written == 3
        assert records[1]["error"] == f"{src}:2: RuntimeError: poisoned document"
        assert records[3]["line"] == 4
    finally:
        nlp.remove_pipe("fail_on_poison")
