"""PubMed/MEDLINE XML: streamed records, deletions, and error items for
malformed, empty and truncated records."""
import gzip
import random
from pathlib import Path

from spacy_bioner.corpora.medline import read_medline

SAMPLE = Path(__file__).parents[1] / "fixtures" / "medline" / "pubmed_sample.xml"


def test_articles_deletions_and_errors():
    items = list(read_medline(SAMPLE))
    assert [(i.pmid, i.error is None) for i in items] == [
        ("100001", True), ("100002", True), ("100003", False), ("100004", True), ("100005", False), (None, True)]
    first = items[0]
    assert first.line == 4
    assert first.text.split("\n") == [
        "Germline BRCA1 mutations and breast cancer.",
        "Mutations in BRCA1 predispose to hereditary breast cancer.",
        "Carriers of E. coli K-12 & CO2 were tested.",
    ]
    assert items[2].error.startswith(f"{SAMPLE}:21: malformed <PubmedArticle>")
    assert items[3].text == "Read after the broken record."
    assert "PMID 100005 has no title or abstract" in items[4].error
    assert items[5].deleted == ["99991", "99992"]


def test_truncated_file_and_gzip(tmp_path):
    data = SAMPLE.read_bytes()
    cut = data[: data.index(b"<PMID Version=\"1\">100004")]
    plain = tmp_path / "cut.xml"
    plain.write_bytes(cut)
    items = list(read_medline(plain))
    assert [i.pmid for i in items[:3]] == ["100001", "100002", "100003"]
    assert "never closed (truncated file)" in items[-1].error and items[-1].line == 24
    # A gzip cut in half: every record decompressed before the cut is read.
    rng = random.Random(0)
    words = ["cancer", "gene", "mice", "BRCA1", "cells", "protein", "E. coli", "patients"]
    record = "<PubmedArticle><MedlineCitation><PMID>{}</PMID><Article><ArticleTitle>{}</ArticleTitle></Article></MedlineCitation></PubmedArticle>\n"
    body = "".join(record.format(i, " ".join(rng.choice(words) for _ in range(30))) for i in range(300))
    packed = gzip.compress(("<PubmedArticleSet>\n" + body + "</PubmedArticleSet>\n").encode())
    broken = tmp_path / "broken.xml.gz"
    broken.write_bytes(packed[: len(packed) // 2])
    items = list(read_medline(broken))
    assert [i.pmid for i in items[:-1]] == [str(i) for i in range(len(items) - 1)]
    assert 50 < len(items) < 300
    assert "breaks off" in items[-1].error and items[-1].pmid is None

def test_records_are_read_one_at_a_time(tmp_path):
    """Many records, several per line: all read, none held back."""
    record = b"<PubmedArticle><MedlineCitation><PMID>%d</PMID><Article><ArticleTitle>T %d.</ArticleTitle></Article></MedlineCitation></PubmedArticle>"
    body = b"".join(record % (i, i) for i in range(500))
    path = tmp_path / "many.xml"
    path.write_bytes(b"<PubmedArticleSet>" + body + b"</PubmedArticleSet>\n")
    items = read_medline(path)
    assert next(items).pmid == "0"
    assert [i.pmid for i in items][-1] == "499"
