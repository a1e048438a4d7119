"""Brat, PubTator and JSONL: character-offset formats."""
import pytest
from spacy.tokens import DocBin

from spacy_bioner.corpora.brat import read_brat, write_brat
from spacy_bioner.corpora.jsonl import read_jsonl, write_jsonl
from spacy_bioner.corpora.labels import load_label_map
from spacy_bioner.corpora.pubtator import read_pubtator, write_pubtator
from spacy_bioner.corpora.util import CorpusFormatError, get_doc_id
from spacy_bioner.scores import get_score


def ents(doc):
    return [(e.start_char, e.end_char, e.label_) for e in doc.ents]


def test_brat_round_trip_through_docbin(fixtures, nlp, tmp_path):
    docs, report = read_brat(fixtures / "brat", nlp.tokenizer)
    assert [get_doc_id(d) for d in docs] == ["doc1", "doc2"]
    assert docs[0].text == (fixtures / "brat" / "doc1.txt").read_text(encoding="utf8")
    assert [e.text for e in docs[0].ents] == ["BRCA1", "breast cancer", "humans", "Aspirin"]
    assert sum(report.counts.values()) == 0
    loaded = list(DocBin(docs=docs, store_user_data=True).from_bytes(
        DocBin(docs=docs, store_user_data=True).to_bytes()).get_docs(nlp.vocab))
    out = write_brat(loaded, tmp_path / "out")
    for name in ["doc1.txt", "doc1.ann", "doc2.txt", "doc2.ann"]:
        assert (out / name).read_bytes() == (fixtures / "brat" / name).read_bytes(), name


def test_brat_policies_are_counted(fixtures, nlp):
    docs, report = read_brat(fixtures / "brat_messy", nlp.tokenizer, label_map=load_label_map())
    (doc,) = docs
    # Discontinuous "breast ... cancer" is joined to its covering span, which
    # then wins over the nested "ovarian cancer" and "cancer".
    assert [(e.text, e.label_) for e in doc.ents] == [
        ("p53", "Gene"), ("breast and ovarian cancer", "Disease"), ("mice", "Species")]
    path = str(fixtures / "brat_messy" / "doc.ann")
    assert report.by_file[path] == {"discontinuous_joined": 1, "overlap_dropped": 2,
                                    "unmapped_label": 1, "ignored_line": 3}
    assert report.dropped_labels == {"GO": 1}


def test_brat_misaligned(nlp, tmp_path):
    (tmp_path / "d.txt").write_text("IL-2 activates T cells.", encoding="utf8")
    (tmp_path / "d.ann").write_text("T1\tGene 0 2\tIL\nT2\tCell 15 22\tT cells\n", encoding="utf8")
    docs, report = read_brat(tmp_path, nlp.tokenizer)
    assert [e.text for e in docs[0].ents] == ["IL", "T cells"]
    assert [t.text for t in docs[0]][:3] == ["IL", "-2", "activates"]
    assert docs[0].text == "IL-2 activates T cells."
    assert report.counts["misaligned_split"] == 1
    docs, report = read_brat(tmp_path, nlp.tokenizer, misaligned="expand")
    assert [e.text for e in docs[0].ents] == ["IL-2", "T cells"]
    assert report.counts["misaligned_expanded"] == 1
    with pytest.raises(CorpusFormatError, match=r"d\.ann:1: .*not on token boundaries"):
        read_brat(tmp_path, nlp.tokenizer, misaligned="error")


@pytest.mark.parametrize("ann,line,message", [
    ("T1\tGene 0 4\tIL-2\nT2\tGene 20 99\tx\n", 2, "past the end of the text"),
    ("T1\tGene 0 4\tIL-2\n\nT2 Gene 0 4 IL-2\n", 3, "malformed T line"),
    ("T1\tGene 0 x\tIL-2\n", 1, "bad offsets"),
    ("T1\tGene 4 4\t\n", 1, "empty or reversed"),
    ("X1\tfoo\n", 1, "unknown annotation line"),
])
def test_brat_bad_input(nlp, tmp_path, ann, line, message):
    (tmp_path / "d.txt").write_text("IL-2 activates T cells.", encoding="utf8")
    (tmp_path / "d.ann").write_text(ann, encoding="utf8")
    with pytest.raises(CorpusFormatError) as err:
        read_brat(tmp_path, nlp.tokenizer)
    assert str(err.value).startswith(f"{tmp_path / 'd.ann'}:{line}: ") and message in str(err.value)


def test_brat_ann_without_txt_and_txt_without_ann(nlp, tmp_path):
    (tmp_path / "a.ann").write_text("T1\tGene 0 4\tIL-2\n", encoding="utf8")
    with pytest.raises(CorpusFormatError, match=r"a\.ann:1: no matching text file"):
        read_brat(tmp_path, nlp.tokenizer)
    (tmp_path / "a.ann").unlink()
    (tmp_path / "b.txt").write_text("No annotations.", encoding="utf8")
    docs, report = read_brat(tmp_path, nlp.tokenizer)
    assert len(docs) == 1 and not docs[0].ents and report.counts["missing_ann"] == 1


def test_brat_writes_fragments_around_line_breaks(nlp, tmp_path):
    doc = nlp("breast\ncancer here")
    doc.ents = [doc.char_span(0, 13, label="Disease")]
    out = write_brat([doc], tmp_path / "o")
    assert (out / "doc-0.ann").read_text(encoding="utf8") == "T1\tDisease 0 6;7 13\tbreast cancer\n"
    docs, report = read_brat(out, nlp.tokenizer)
    assert ents(docs[0]) == [(0, 13, "Disease")] and report.counts["discontinuous_joined"] == 1


def test_pubtator_read(fixtures, nlp):
    docs, report = read_pubtator(fixtures / "sample.pubtator", nlp.tokenizer)
    assert [get_doc_id(d) for d in docs] == ["12345", "678"]
    assert docs[0].text == "Aspirin induced asthma. We studied NSAID-exacerbated disease in humans."
    assert [(e.text, e.label_, e.kb_id_) for e in docs[0].ents] == [
        ("Aspirin", "Chemical", "MESH:D001241"), ("asthma", "Disease", "MESH:D001249"),
        ("NSAID", "Chemical", ""), ("humans", "Species", "9606")]
    assert docs[1].text == "TP53 in tumours"
    assert report.counts == {"ignored_line": 1}


def test_pubtator_round_trip(fixtures, nlp, tmp_path):
    docs, _ = read_pubtator(fixtures / "sample.pubtator", nlp.tokenizer)
    out = write_pubtator(docs, tmp_path / "o.pubtator")
    expected = [line for line in (fixtures / "sample.pubtator").read_text(encoding="utf8").split("\n")
                if "\tCID\t" not in line]
    assert out.read_text(encoding="utf8").split("\n") == expected


@pytest.mark.parametrize("content,line,message", [
    ("1|t|Title\n1\t0\t5\tTitle\n", 2, "expected 'PMID|t|title'"),
    ("1|t|Title\n1\t0\t50\tTitle\tGene\t\n", 2, "outside the text"),
    ("1\t0\t5\tTitle\tGene\t\n", 1, "before its title line"),
    ("1|t|Title\n1|t|Again\n", 2, "second 't' line"),
    ("\n\n", 1, "no 'PMID|t|title' line"),
])
def test_pubtator_bad_input(nlp, tmp_path, content, line, message):
    path = tmp_path / "bad.pubtator"
    path.write_text(content, encoding="utf8")
    with pytest.raises(CorpusFormatError) as err:
        read_pubtator(path, nlp.tokenizer)
    assert str(err.value).startswith(f"{path}:{line}: ") and message in str(err.value)


def test_pubtator_mention_text_mismatch_is_counted(nlp, tmp_path):
    path = tmp_path / "m.pubtator"
    path.write_text("1|t|TP53 and MDM2\n1|a|\n1\t0\t4\ttp53\tGene\t\n1\t9\t13\tXXXX\tGene\t\n\n", encoding="utf8")
    docs, report = read_pubtator(path, nlp.tokenizer)
    assert [e.text for e in docs[0].ents] == ["TP53", "MDM2"]
    assert report.counts["text_mismatch"] == 1  # case differences are not mismatches


def test_jsonl_round_trip_with_scores(fixtures, nlp, tmp_path):
    docs, _ = read_jsonl(fixtures / "sample.jsonl", nlp.tokenizer)
    assert [get_doc_id(d) for d in docs] == ["a1", "a2"]
    assert [get_score(e) for e in docs[0].ents] == [0.93, None]
    loaded = list(DocBin(store_user_data=True, docs=docs).from_bytes(
        DocBin(store_user_data=True, docs=docs).to_bytes()).get_docs(nlp.vocab))
    out = write_jsonl(loaded, tmp_path / "o.jsonl")
    assert out.read_text(encoding="utf8") == (fixtures / "sample.jsonl").read_text(encoding="utf8")


@pytest.mark.parametrize("content,line,message", [
    ('{"text": "a"}\n{"text": \n', 2, "invalid JSON"),
    ('{"id": 1}\n', 1, '"text" string'),
    ('\n{"text": "abc", "entities": [{"start": 0, "end": 9, "label": "X"}]}\n', 2, "outside the text"),
    ('{"text": "abc", "entities": [{"start": "0", "end": 1, "label": "X"}]}\n', 1, "integer"),
    ("", 1, "empty file"),
])
def test_jsonl_bad_input(nlp, tmp_path, content, line, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(content, encoding="utf8")
    with pytest.raises(CorpusFormatError) as err:
        read_jsonl(path, nlp.tokenizer)
    assert str(err.value).startswith(f"{path}:{line}: ") and message in str(err.value)
