"""CALBC IeXML import, on a hand-written sample."""
from pathlib import Path

import pytest
import spacy

from spacy_bioner.silver.calbc import read_calbc, read_calbc_docs

SAMPLE = Path(__file__).parents[1] / "fixtures" / "silver" / "calbc_sample.xml"


def test_read_calbc_offsets_and_groups():
    docs = list(read_calbc(SAMPLE))
    assert [d.id for d in docs] == ["10001", "10002"]
    first = docs[0]
    assert first.text.startswith("Ulcerative colitis in mice\nTreatment with aspirin")
    found = [(first.text[s:e], g) for s, e, g in first.entities]
    assert ("Ulcerative colitis", "DISO") in found and ("mice", "LIVB") in found
    assert ("aspirin", "CHED") in found and ("IL-10", "PRGE") in found
    assert ("inflammation of the IL-10 knockout", "DISO") in found
    assert docs[1].entities == []  # ANAT is not one of the four groups


def test_read_calbc_docs_harmonizes_and_keeps_the_longest_of_nested():
    nlp = spacy.blank("en")
    doc = next(read_calbc_docs(SAMPLE, nlp))
    assert doc.user_data["id"] == "10001"
    ents = [(e.text, e.label_) for e in doc.ents]
    assert ents == [("Ulcerative colitis", "Disease"), ("mice", "Species"), ("aspirin", "Chemical"),
                    ("inflammation of the IL-10 knockout", "Disease")]


def test_malformed_xml_names_file_and_line(tmp_path):
    bad = tmp_path / "bad.xml"
    bad.write_text("<Corpus>\n<document><PMID>1</PMID>\n<ArticleTitle>x <e id='a:DISO'>y</ArticleTitle>\n</document></Corpus>\n")
    with pytest.raises(ValueError, match=r"bad\.xml:3: malformed XML"):
        list(read_calbc(bad))
