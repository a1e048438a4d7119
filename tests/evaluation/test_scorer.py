import pytest
import spacy
from spacy.tokens import Doc, Span
from spacy.training import Example

from spacy_bioner.evaluation.scorer import make_boundary_scorer

SCORER = {"@scorers": "spacy-bioner.boundary_scorer.v1"}


def gold_examples(nlp, make_doc):
    words = ["He", "had", "familial", "gastric", "cancer", "after", "aspirin", "."]
    tags = ["O", "O", "B-Disease", "I-Disease", "I-Disease", "O", "B-Chemical", "O"]
    gold = make_doc(words, tags, spaces=[True] * 6 + [False, False])
    return [Example(nlp.make_doc(gold.text), gold)]


def test_registered_by_name_and_entry_point():
    assert spacy.registry.scorers.get("spacy-bioner.boundary_scorer.v1") is make_boundary_scorer
    from importlib.metadata import entry_points

    names = [ep.name for ep in entry_points(group="spacy_scorers")]
    assert "spacy-bioner.boundary_scorer.v1" in names


def test_nlp_evaluate_with_scorer_in_the_config(make_doc):
    nlp = spacy.blank("en")
    ruler = nlp.add_pipe("entity_ruler", config={"scorer": SCORER})
    ruler.add_patterns([{"label": "Disease", "pattern": "gastric cancer"}, {"label": "Chemical", "pattern": "aspirin"}])
    assert nlp.config["components"]["entity_ruler"]["scorer"]["@scorers"] == SCORER["@scorers"]
    scores = nlp.evaluate(gold_examples(nlp, make_doc))
    # "gastric cancer" vs gold "familial gastric cancer": exact and left miss, right hit.
    assert scores["ents_p"] == pytest.approx(0.5)
    assert scores["ents_r"] == pytest.approx(0.5)
    assert scores["ents_left_f"] == pytest.approx(0.5)
    assert scores["ents_right_f"] == pytest.approx(1.0)
    assert scores["ents_per_type"]["Chemical"] == {"p": 1.0, "r": 1.0, "f": 1.0}
    assert scores["ents_per_type"]["Disease"]["f"] == 0.0
    # The config round-trips with the scorer.
    reloaded = spacy.util.load_model_from_config(nlp.config, auto_fill=True)
    assert reloaded.get_pipe("entity_ruler").scorer.__qualname__.startswith("make_boundary_scorer")


def test_spacy_default_scorer_differs(make_doc):
    # Without the override spaCy's scorer has no boundary keys: the override is what adds them.
    nlp = spacy.blank("en")
    nlp.add_pipe("entity_ruler").add_patterns([{"label": "Disease", "pattern": "gastric cancer"}])
    scores = nlp.evaluate(gold_examples(nlp, make_doc))
    assert "ents_right_f" not in scores


def test_scorer_on_a_span_group(nlp):
    gold = Doc(nlp.vocab, words=["a", "b", "c"])
    pred = Doc(nlp.vocab, words=["a", "b", "c"])
    gold.spans["heads_ncbi"] = [Span(gold, 0, 2, "Disease")]
    pred.spans["heads_ncbi"] = [Span(pred, 1, 2, "Disease"), Span(pred, 0, 1, "Disease")]
    pred.ents = [Span(pred, 0, 2, "Disease")]  # ignored with spans_key
    scores = make_boundary_scorer(spans_key="heads_ncbi")([Example(pred, gold)])
    assert scores["ents_f"] == 0.0
    assert scores["ents_right_p"] == pytest.approx(0.5) and scores["ents_right_r"] == 1.0
    assert scores["ents_left_p"] == pytest.approx(0.5)


def test_span_group_predictions_against_gold_ents(nlp):
    gold = Doc(nlp.vocab, words=["a", "b", "c"], ents=["B-Disease", "I-Disease", "O"])
    pred = Doc(nlp.vocab, words=["a", "b", "c"])
    pred.spans["ner_bc5cdr"] = [Span(pred, 1, 2, "Disease")]
    scores = make_boundary_scorer(spans_key="ner_bc5cdr")([Example(pred, gold)])
    assert (scores["ents_f"], scores["ents_right_f"]) == (0.0, 1.0)
    # A predicted doc without the group predicted nothing.
    empty = make_boundary_scorer(spans_key="ner_other")([Example(pred, gold)])
    assert (empty["ents_r"], empty["ents_right_r"]) == (0.0, 0.0)


def test_nothing_to_score_gives_none(nlp):
    doc = Doc(nlp.vocab, words=["a"])
    scores = make_boundary_scorer()([Example(doc, doc)])
    assert scores["ents_f"] is None and scores["ents_right_f"] is None and scores["ents_per_type"] is None
