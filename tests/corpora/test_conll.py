import pytest
from spacy.tokens import DocBin
from spacy.vocab import Vocab

from spacy_bioner.corpora.conll import detect_scheme, parse_conll, read_conll, write_conll
from spacy_bioner.corpora.labels import load_label_map
from spacy_bioner.corpora.util import CorpusFormatError, get_doc_id


def ents(doc):
    return [(e.text, e.label_) for e in doc.ents]


def test_read_iob2_per_sentence(fixtures):
    docs, report = read_conll(fixtures / "iob2.tsv", Vocab())
    assert len(docs) == 3
    assert [t.text for t in docs[0]] == ["IL-2", "gene", "expression", "in", "T", "cells", "."]
    assert ents(docs[0]) == [("IL-2 gene", "protein"), ("T cells", "cell_type")]
    assert ents(docs[1]) == [("NF-kappa B", "protein"), ("DNA", "DNA")]
    assert docs[0].text == "IL-2 gene expression in T cells ."
    assert docs[0][0].is_sent_start and not docs[0][1].is_sent_start
    assert [get_doc_id(d) for d in docs] == ["iob2-0", "iob2-1", "iob2-2"]
    assert (report.docs, report.sentences, report.tokens, report.entities) == (3, 3, 16, 6)
    assert report.schemes[str(fixtures / "iob2.tsv")] == "iob2"


def test_read_per_document(fixtures):
    docs, report = read_conll(fixtures / "iob2.tsv", Vocab(), per="document")
    assert len(docs) == 2
    assert [len(list(d.sents)) for d in docs] == [2, 1]
    assert [s.text for s in docs[0].sents][1] == "NF-kappa B binds DNA ."
    assert report.sentences == 3


def test_label_map_and_keep_labels(fixtures):
    docs, report = read_conll(fixtures / "iob2.tsv", Vocab(), label_map=load_label_map())
    assert ents(docs[0]) == [("IL-2 gene", "Gene")]
    assert ents(docs[2]) == [("Aspirin", "Chemical"), ("ulcers", "Disease")]
    assert report.counts["unmapped_label"] == 2
    assert report.dropped_labels == {"cell_type": 1, "DNA": 1}
    docs, report = read_conll(fixtures / "iob2.tsv", Vocab(), label_map=load_label_map(),
                              keep_labels=["Disease"])
    assert [ents(d) for d in docs] == [[], [], [("ulcers", "Disease")]]
    assert report.counts["label_not_kept"] == 3


def test_iob1(fixtures):
    sentences = [s for d in parse_conll(fixtures / "iob1.tsv")[0] for s in d]
    assert detect_scheme(sentences) == "iob1"
    docs, report = read_conll(fixtures / "iob1.tsv", Vocab())
    assert ents(docs[0]) == [("Aspirin", "Chemical"), ("ibuprofen", "Chemical"),
                             ("gastric ulcers", "Disease")]
    # IOB1: B- separates two adjacent entities of the same type.
    assert ents(docs[1]) == [("Human", "Species"), ("mouse", "Species")]
    assert report.counts["iob_repaired"] == 0


def test_iobes(fixtures):
    docs, _ = read_conll(fixtures / "iobes.tsv", Vocab())
    assert ents(docs[0]) == [("BRCA1", "Gene"), ("tumor suppressor gene", "Gene")]
    assert ents(docs[1]) == [("breast cancer", "Disease")]


def test_iob1_file_read_as_strict_iob2_raises_with_line(fixtures):
    with pytest.raises(CorpusFormatError, match=r"iob1\.tsv:1: .*I-Chemical after O"):
        read_conll(fixtures / "iob1.tsv", Vocab(), scheme="iob2")


def test_repair_counts(tmp_path):
    path = tmp_path / "broken.tsv"
    # B- used elsewhere, so auto-detection says IOB2 and the lone I- is an error.
    path.write_text("a\tB-X\nb\tO\nc\tI-X\nd\tI-X\n\ne\tB-Y\nf\tI-X\n\n", encoding="utf8")
    with pytest.raises(CorpusFormatError, match=r"broken\.tsv:3:"):
        read_conll(path, Vocab())
    docs, report = read_conll(path, Vocab(), repair=True)
    assert ents(docs[0]) == [("a", "X"), ("c d", "X")]
    assert ents(docs[1]) == [("e", "Y"), ("f", "X")]
    assert report.counts["iob_repaired"] == 2
    assert report.by_file[str(path)]["iob_repaired"] == 2


def test_iobes_unclosed_entity(tmp_path):
    path = tmp_path / "bad.tsv"
    path.write_text("a\tB-X\nb\tO\n\n", encoding="utf8")
    with pytest.raises(CorpusFormatError, match=r"bad\.tsv:2: .*not closed"):
        read_conll(path, Vocab(), scheme="iobes")
    docs, report = read_conll(path, Vocab(), scheme="iobes", repair=True)
    assert ents(docs[0]) == [("a", "X")]
    assert report.counts["iob_repaired"] == 1


@pytest.mark.parametrize("content,line,message", [
    (b"a\tO\nb\tO\textra\n", 2, "expected 2 columns, found 3"),
    (b"a\tO\n\nb\n", 3, "expected 2 columns, found 1"),
    (b"a\n", 1, "found 1 column(s)"),
    (b"a\tO\nb\tX-Gene\n", 2, "bad tag 'X-Gene'"),
    (b"a\tO\nb\tB-\n", 2, "bad tag 'B-'"),
    (b"", 1, "empty file"),
    (b"\n\n-DOCSTART-\tO\n\n", 1, "empty file"),
    (b"a\tO\n\nb\xff\tO\n", 3, "not valid UTF-8"),
    (b"a\tO\n\tO\n", 2, "empty token"),
])
def test_bad_input(tmp_path, content, line, message):
    path = tmp_path / "bad.tsv"
    path.write_bytes(content)
    with pytest.raises(CorpusFormatError) as err:
        read_conll(path, Vocab())
    assert str(err.value).startswith(f"{path}:{line}: ")
    assert message in str(err.value)
    assert err.value.line == line and isinstance(err.value, ValueError)


@pytest.mark.parametrize("name,per", [("iob2.tsv", "document"), ("iobes.tsv", "sentence")])
def test_round_trip_through_docbin(fixtures, tmp_path, name, per):
    """CoNLL → Doc → DocBin → Doc → CoNLL reproduces the file byte for byte."""
    vocab = Vocab()
    docs, _ = read_conll(fixtures / name, vocab, per=per)
    data = DocBin(docs=docs, store_user_data=True).to_bytes()
    loaded = list(DocBin().from_bytes(data).get_docs(vocab))
    out = write_conll(loaded, tmp_path / "out.tsv", scheme="iobes" if "iobes" in name else "iob2")
    assert out.read_bytes() == (fixtures / name).read_bytes()


def test_write_iobes_from_iob2(fixtures, tmp_path):
    docs, _ = read_conll(fixtures / "iob2.tsv", Vocab())
    text = write_conll(docs[:1], tmp_path / "o.tsv", scheme="iobes").read_text(encoding="utf8")
    assert text == "IL-2\tB-protein\ngene\tE-protein\nexpression\tO\nin\tO\nT\tB-cell_type\ncells\tE-cell_type\n.\tO\n\n"


def test_write_skips_whitespace_tokens_keeping_valid_tags(nlp, tmp_path):
    doc = nlp("lung \n\n cancer risk")
    doc.ents = [doc.char_span(0, 14, label="Disease")]
    assert any(t.is_space for t in doc.ents[0])
    text = write_conll([doc], tmp_path / "o.tsv").read_text(encoding="utf8")
    assert text == "lung\tB-Disease\ncancer\tI-Disease\nrisk\tO\n\n"
    assert not list(tmp_path.glob(".*tmp"))


def test_delimiter_and_columns(tmp_path):
    path = tmp_path / "c.conll"
    path.write_text("EU NNP B-ORG\nrejects VBZ O\n\n", encoding="utf8")
    docs, _ = read_conll(path, Vocab(), delimiter=None)
    assert ents(docs[0]) == [("EU", "ORG")]
    with pytest.raises(CorpusFormatError, match=r"c\.conll:1: bad tag 'NNP'"):
        read_conll(path, Vocab(), delimiter=None, tag_col=1)
