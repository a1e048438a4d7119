import pytest
import srsly
from spacy.tokens import DocBin

from spacy_bioner.evaluation.cross_corpus import cross_corpus

# Two "disease corpora" with different conventions: A annotates the modifier
# ("familial gastric cancer"), B does not ("gastric cancer").
A_DOCS = [
    (["familial", "gastric", "cancer", "runs"], ["B-Disease", "I-Disease", "I-Disease", "O"]),
    (["lung", "cancer", "and", "aspirin"], ["B-Disease", "I-Disease", "O", "B-Chemical"]),
]
B_DOCS = [
    (["familial", "gastric", "cancer"], ["O", "B-Disease", "I-Disease"]),
    (["tumor", "growth"], ["B-Disease", "O"]),
]


@pytest.fixture
def setup(tmp_path, make_doc, make_ruler):
    corpora = {}
    for name, docs in (("A", A_DOCS), ("B", B_DOCS)):
        DocBin(docs=[make_doc(w, t) for w, t in docs]).to_disk(tmp_path / f"{name}.spacy")
        corpora[name] = tmp_path / f"{name}.spacy"
    model_a = make_ruler(
        [
            {"label": "Disease", "pattern": "familial gastric cancer"},
            {"label": "Disease", "pattern": "lung cancer"},
            {"label": "Chemical", "pattern": "aspirin"},
        ]
    )
    model_b = make_ruler([{"label": "Disease", "pattern": "gastric cancer"}, {"label": "Disease", "pattern": "tumor"}])
    model_a.to_disk(tmp_path / "model_a")
    model_b.to_disk(tmp_path / "model_b")
    return {"A": tmp_path / "model_a", "B": tmp_path / "model_b"}, corpora


def test_cross_corpus_matrix_and_files(setup, tmp_path):
    models, corpora = setup
    out = tmp_path / "out"
    result = cross_corpus(models, corpora, out)
    assert result.groups == {"Chemical": ["A"], "Disease": ["A", "B"]}  # inferred from gold labels
    cell = {(c.group, c.model, c.test_corpus): c for c in result.cells}
    assert set(cell) == {("Chemical", "A", "A"), ("Disease", "A", "A"), ("Disease", "A", "B"), ("Disease", "B", "A"), ("Disease", "B", "B")}
    # In-corpus: exact.
    assert cell[("Disease", "A", "A")].match == "exact" and cell[("Disease", "A", "A")].f == 1.0
    assert cell[("Disease", "B", "B")].f == 1.0
    # Out of corpus: right boundary. B's "gastric cancer" hits A's
    # "familial gastric cancer"; "lung cancer" is missed: P 1, R 1/2.
    ba = cell[("Disease", "B", "A")]
    assert ba.match == "right" and ba.prf() == pytest.approx((1.0, 0.5, 2 / 3))
    assert ba.prf("exact")[2] == 0.0
    # A on B: "familial gastric cancer" right-matches B's "gastric cancer";
    # "tumor" missed. A's chemical prediction is not scored in the Disease group.
    ab = cell[("Disease", "A", "B")]
    assert ab.prf() == pytest.approx((1.0, 0.5, 2 / 3))
    assert cell[("Chemical", "A", "A")].f == 1.0

    data = srsly.read_json(out / "cross_corpus.json")
    assert data["in_corpus_match"] == "exact" and data["out_of_corpus_match"] == "right"
    by_key = {(c["group"], c["model"], c["test_corpus"]): c for c in data["cells"]}
    assert by_key[("Disease", "B", "A")]["f"] == pytest.approx(2 / 3)
    assert by_key[("Disease", "B", "A")]["criteria"]["exact"]["tp"] == 0
    markdown = (out / "cross_corpus.md").read_text()
    assert "## Disease" in markdown and "| model (train) | A | B |" in markdown
    assert "| B (B) | 66.67 | **100.00** |" in markdown
    assert "| Disease | A | B | 100.00 | 66.67 | 33.33 |" in markdown  # IC − OOC
    assert (out / "cross_corpus.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_explicit_groups_and_train_corpus(setup):
    models, corpora = setup
    result = cross_corpus(
        {"ruler-b": models["B"]}, corpora, groups={"Disease": ["A", "B", "C"]}, train_corpus={"ruler-b": "B"}
    )
    assert [(c.test_corpus, c.match) for c in result.cells] == [("A", "right"), ("B", "exact")]
    with pytest.raises(ValueError, match="in no group"):
        cross_corpus({"X": models["A"]}, corpora, groups={"Disease": ["A", "B"]})
