import pytest
import spacy
from spacy.language import Language
from spacy.tokens import DocBin, Span

from spacy_bioner.evaluation.evaluate import EvalResult, evaluate_pipeline, model_labels

PATTERNS = [{"label": "Disease", "pattern": "gastric cancer"}, {"label": "Chemical", "pattern": "aspirin"}]


@pytest.fixture
def gold_docs(make_doc):
    return [
        make_doc(["He", "had", "familial", "gastric", "cancer", "."], ["O", "O", "B-Disease", "I-Disease", "I-Disease", "O"]),
        make_doc(["aspirin", "and", "gastric", "cancer"], ["B-Chemical", "O", "B-Disease", "I-Disease"]),
        make_doc(["no", "entities"], ["O", "O"]),
    ]


def test_evaluate_docs_all_criteria(make_ruler, gold_docs):
    result = evaluate_pipeline(make_ruler(PATTERNS), gold_docs, match="right", meta={"seed": 1})
    assert result.n_docs == 3
    assert result.f == 1.0  # right match: every prediction hits
    exact = result.scores["exact"].micro
    assert (exact.tp, exact.fp, exact.fn) == (2, 1, 1)
    assert result.model_labels == ["Chemical", "Disease"] == result.data_labels
    data = result.to_dict()
    assert data["match"] == "right" and data["ents_f"] == 1.0
    assert data["criteria"]["exact"]["per_type"]["Disease"]["support"] == 2
    assert data["meta"] == {"seed": 1}
    # Gold is untouched, predictions were written to the examples.
    assert len(result.examples[1].predicted.ents) == 2
    assert [e.text for e in result.examples[0].reference.ents] == ["familial gastric cancer"]


def test_metrics_json_round_trip(make_ruler, gold_docs, tmp_path):
    result = evaluate_pipeline(make_ruler(PATTERNS), gold_docs)
    result.to_disk(tmp_path / "m" / "metrics.json")
    loaded = EvalResult.from_disk(tmp_path / "m" / "metrics.json")
    assert loaded.to_dict() == result.to_dict()


def test_spacy_file_and_saved_pipeline(make_ruler, gold_docs, tmp_path):
    DocBin(docs=gold_docs).to_disk(tmp_path / "test.spacy")
    make_ruler(PATTERNS).to_disk(tmp_path / "model")
    from_path = evaluate_pipeline(tmp_path / "model", tmp_path / "test.spacy")
    from_folder = evaluate_pipeline(str(tmp_path / "model"), tmp_path)  # folder → test.spacy
    assert from_path.to_dict() == from_folder.to_dict()
    assert from_path.scores["exact"].micro.tp == 2


def test_retokenize_uses_the_pipeline_tokenizer(make_ruler, make_doc):
    gold = make_doc(["aspirin", "-induced", "ulcer"], ["B-Chemical", "O", "O"], spaces=[False, True, False])
    nlp = make_ruler(PATTERNS)
    kept = evaluate_pipeline(nlp, [gold])
    retok = evaluate_pipeline(nlp, [gold], retokenize=True)
    assert [t.text for t in kept.examples[0].predicted] == ["aspirin", "-induced", "ulcer"]
    assert len(retok.examples[0].predicted) != 3 or [t.text for t in retok.examples[0].predicted] != ["aspirin", "-induced", "ulcer"]
    assert kept.scores["exact"].micro.tp == retok.scores["exact"].micro.tp == 1


def test_empty_test_set_is_an_error(make_ruler, tmp_path):
    with pytest.raises(ValueError, match="contains no documents"):
        evaluate_pipeline(make_ruler(PATTERNS), [])
    DocBin().to_disk(tmp_path / "empty.spacy")
    with pytest.raises(ValueError, match="empty.spacy contains no documents"):
        evaluate_pipeline(make_ruler(PATTERNS), tmp_path / "empty.spacy")


def test_disjoint_labels_name_both_sets(make_ruler, make_doc):
    docs = [make_doc(["BRCA1", "mutations"], ["B-GENE", "O"])]
    with pytest.raises(ValueError) as err:
        evaluate_pipeline(make_ruler(PATTERNS), docs)
    assert "['Chemical', 'Disease']" in str(err.value) and "['GENE']" in str(err.value)
    # After harmonization they still share nothing; the message says so.
    with pytest.raises(ValueError, match="after harmonization"):
        evaluate_pipeline(make_ruler(PATTERNS), docs, label_map={"GENE": "Gene", "Disease": "Disease", "Chemical": "Chemical"})


def test_label_map_makes_labels_comparable(make_ruler, make_doc):
    docs = [make_doc(["aspirin", "and", "BRCA1"], ["B-CHED", "O", "B-GENE"])]
    nlp = make_ruler(PATTERNS)
    label_map = {"CHED": "Chemical", "GENE": "Gene", "Chemical": "Chemical", "Disease": "Disease"}
    result = evaluate_pipeline(nlp, docs, label_map=label_map)
    assert result.data_labels == ["Chemical", "Gene"]
    assert result.scores["exact"].per_type["Chemical"].tp == 1
    # By default only the types both sides know are scored: the model cannot
    # predict Gene, so the gold gene is not a miss; `labels=["*"]` counts it.
    assert result.scored_labels == ["Chemical"] and result.f == 1.0
    everything = evaluate_pipeline(nlp, docs, label_map=label_map, labels=["*"])
    assert everything.scored_labels is None and everything.f < 1.0
    assert everything.scores["exact"].per_type["Gene"].fn == 1


def test_model_labels_of_a_component(make_ruler):
    nlp = make_ruler(PATTERNS)
    assert model_labels(nlp) == {"Chemical", "Disease"}
    assert model_labels(nlp, "entity_ruler") == {"Chemical", "Disease"}
    assert model_labels(spacy.blank("en")) == set()


class TwoHeads:
    """A stand-in for a multi-head NER component: head "chem" in doc.ents,
    head "dis" in a span group, labels per head in `label_sets`."""

    label_sets = {"chem": ("Chemical",), "dis": ("Disease",)}
    labels = ("Chemical",)

    def __call__(self, doc):
        doc.ents = [Span(doc, i, i + 1, "Chemical") for i, t in enumerate(doc) if t.text == "aspirin"]
        doc.spans["two_heads_dis"] = [Span(doc, i, i + 1, "Disease") for i, t in enumerate(doc) if t.text == "cancer"]
        return doc


@Language.factory("test_two_heads", assigns=["doc.ents", "doc.spans"])
def make_two_heads(nlp, name):
    return TwoHeads()


def test_scoring_one_head_of_a_multi_head_component(gold_docs):
    nlp = spacy.blank("en")
    nlp.add_pipe("test_two_heads", name="two_heads")
    assert model_labels(nlp) == {"Chemical"}
    assert model_labels(nlp, spans_key="two_heads_dis") == {"Disease"}
    result = evaluate_pipeline(nlp, gold_docs[:2], spans_key="two_heads_dis", match="right")
    assert result.model_labels == ["Disease"]
    # Gold comes from doc.ents (the docs have no such group); "cancer" right-matches.
    assert result.scores["right"].per_type["Disease"].tp == 2
    # The head predicts only Disease, so only Disease is scored by default;
    # with every type, the gold chemical is a miss of this head.
    assert result.scored_labels == ["Disease"] and "Chemical" not in result.scores["right"].per_type
    everything = evaluate_pipeline(nlp, gold_docs[:2], spans_key="two_heads_dis", match="right", labels=["*"])
    assert everything.scores["right"].per_type["Chemical"].fn == 1


def test_unknown_match_is_an_error(make_ruler, gold_docs):
    with pytest.raises(ValueError, match="Unknown match criterion"):
        evaluate_pipeline(make_ruler(PATTERNS), gold_docs, match="partial")


@pytest.mark.corpora
def test_tsv_corpus_through_the_reader(corpora_dir, make_ruler):
    try:
        spacy.registry.readers.get("spacy-bioner.TsvCorpus.v1")
    except Exception:
        pytest.skip("the spacy-bioner.TsvCorpus.v1 reader is not registered yet")
    nlp = make_ruler([{"label": "Disease", "pattern": [{"LOWER": "cancer"}]}])
    result = evaluate_pipeline(nlp, corpora_dir / "NCBI-disease" / "test.tsv", match="right")
    assert result.n_docs > 100
    assert result.data_labels == ["Disease"]
    right, exact = result.scores["right"].micro, result.scores["exact"].micro
    assert right.tp + right.fn == exact.tp + exact.fn == 960  # mentions in the NCBI-disease test set
    assert right.tp >= exact.tp > 0
