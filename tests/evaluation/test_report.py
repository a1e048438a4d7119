import tempfile
from pathlib import Path

import pytest
import spacy
import srsly
from spacy.language import Language
from spacy.tokens import Doc

from spacy_bioner.evaluation.evaluate import evaluate_pipeline
from spacy_bioner.evaluation.report import COLOURS, MISSED, SPURIOUS, error_records, render_html, type_confusion, write_report
from spacy_bioner.scores import set_score


@Language.component("test_report_scored_ner")
def scored_ner(doc: Doc) -> Doc:
    """Predicts "gastric cancer" as Disease and "aspirin" as Gene, with scores."""
    spans = []
    for i, token in enumerate(doc):
        if token.text == "gastric" and i + 1 < len(doc) and doc[i + 1].text == "cancer":
            spans.append(doc[i : i + 2])
        if token.text == "aspirin":
            spans.append(doc[i : i + 1])
    doc.ents = [doc.char_span(s.start_char, s.end_char, "Gene" if s.text == "aspirin" else "Disease") for s in spans]
    for ent in doc.ents:
        set_score(ent, 0.75)
    return doc


@pytest.fixture
def result(make_doc):
    nlp = spacy.blank("en")
    nlp.add_pipe("test_report_scored_ner")
    docs = [
        make_doc(["familial", "gastric", "cancer", "."], ["B-Disease", "I-Disease", "I-Disease", "O"]),
        make_doc(["aspirin", "and", "BRCA1"], ["B-Chemical", "O", "B-Gene"]),
    ]
    docs[0].user_data["id"] = "pmid-1"
    return evaluate_pipeline(nlp, docs)


def test_error_records(result):
    records = list(error_records(result.examples, match="exact"))
    by_kind = {(r["kind"], r["span"]): r for r in records}
    assert set(by_kind) == {("fn", "familial gastric cancer"), ("fp", "gastric cancer"), ("fn", "aspirin"), ("fn", "BRCA1"), ("fp", "aspirin")}
    fp = by_kind[("fp", "gastric cancer")]
    assert (fp["doc_id"], fp["start_char"], fp["end_char"], fp["label"], fp["score"]) == ("pmid-1", 9, 23, "Disease", 0.75)
    assert fp["text"] == "familial gastric cancer . "  # Doc(words=...) spaces every token
    assert by_kind[("fn", "familial gastric cancer")]["score"] is None
    assert by_kind[("fp", "aspirin")]["other_type"] == "Chemical"  # a type confusion
    assert by_kind[("fn", "aspirin")]["doc_id"] == 1  # no id stored: the index
    right = list(error_records(result.examples, match="right"))
    assert all(r["span"] != "gastric cancer" for r in right)


def test_type_confusion(result):
    confusion = type_confusion(result.examples)
    assert confusion["Chemical"] == {"Gene": 1}
    assert confusion["Gene"] == {MISSED: 1}
    assert confusion["Disease"] == {MISSED: 1}
    assert confusion[SPURIOUS] == {"Disease": 1}


def test_write_report(result, tmp_path):
    paths = write_report(result, tmp_path / "report", n_html=5)
    assert srsly.read_json(paths["metrics.json"])["ents_f"] == 0.0
    assert srsly.read_json(paths["confusion.json"])["Chemical"] == {"Gene": 1}
    assert len(list(srsly.read_jsonl(paths["errors.jsonl"]))) == 5
    markdown = paths["report.md"].read_text()
    assert "## right match" in markdown and "| Disease | 100.00 | 50.00 | 66.67 | 1 | 0 | 1 | 1 |" not in markdown
    assert "| Disease | 100.00 | 100.00 | 100.00 | 1 | 0 | 0 | 1 |" in markdown  # right match: hit
    html = paths["examples.html"].read_text()
    assert html.startswith("<!DOCTYPE html>")
    assert "pmid-1 · 0 tp, 1 fp, 1 fn (exact)" in html
    assert "BRCA1" in html


def test_html_report_reads_errors_first(result, make_doc):
    nlp = spacy.blank("en")
    nlp.add_pipe("test_report_scored_ner")
    docs = [
        make_doc(["no", "entity", "here"], ["O", "O", "O"]),  # correct: nothing to find
        make_doc(["gastric", "cancer", "."], ["B-Disease", "I-Disease", "O"]),  # correct
        make_doc(["familial", "gastric", "cancer", "."], ["B-Disease", "I-Disease", "I-Disease", "O"]),  # 2 errors
        make_doc(["aspirin", "and", "BRCA1"], ["B-Chemical", "O", "B-Gene"]),  # 3 errors
    ]
    res = evaluate_pipeline(nlp, docs, meta={"model": "models/ncbi", "data": "NCBI-disease/test.tsv"})
    paths = write_report(res, Path(tempfile.mkdtemp()) / "r")
    page = paths["examples.html"].read_text()
    assert "<title>Errors of models/ncbi on NCBI-disease/test.tsv</title>" in page
    # Per-type scores come before any sentence, and the legend names each colour.
    assert page.index("<td>Disease</td>") < page.index('class="sent"')
    assert all(word in page for word in ("false positive", "missed", "correct"))
    assert f'<mark class="fp" style="background:{COLOURS["fp"]}"' in page
    assert f'<mark class="fn" style="background:{COLOURS["fn"]}"' in page
    assert COLOURS["fp"] != COLOURS["fn"] != COLOURS["tp"]
    # The sentence with most errors first; correct sentences only on request.
    assert page.count('class="sent"') == 2
    assert page.index("3 · 0 tp, 1 fp, 2 fn") < page.index("2 · 0 tp, 1 fp, 1 fn")
    assert "2 of 4 sentences have errors" in page
    full = render_html(res.examples, show_correct=True)
    assert full.count('class="sent"') == 4 and "Sentences without errors" in full
    assert render_html(res.examples, n=1).count('class="sent"') == 1


def test_report_needs_examples(result, tmp_path):
    result.examples = []
    with pytest.raises(ValueError, match="no examples"):
        write_report(result, tmp_path)
