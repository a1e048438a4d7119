import random

import numpy
import pytest
from scipy.optimize import linear_sum_assignment
from seqeval.metrics import classification_report
from seqeval.scheme import IOB2
from spacy.tokens import Doc, Span
from spacy.training import Example

from spacy_bioner.evaluation.matching import (
    CRITERIA,
    EntityScores,
    Mention,
    example_mentions,
    match_mentions,
    score_examples,
)

WORDS = ["He", "had", "familial", "gastric", "cancer", "."]
GOLD = ["O", "O", "B-Disease", "I-Disease", "I-Disease", "O"]


def counts(scores, criterion, label=None):
    s = scores[criterion].micro if label is None else scores[criterion].per_type[label]
    return s.tp, s.fp, s.fn


def test_paper_example_is_right_hit_exact_and_left_miss(make_doc):
    gold = make_doc(WORDS, GOLD)
    pred = make_doc(WORDS, ["O", "O", "O", "B-Disease", "I-Disease", "O"])  # "gastric cancer"
    scores = score_examples([Example(pred, gold)])
    assert counts(scores, "right") == (1, 0, 0)
    assert counts(scores, "exact") == (0, 1, 1)
    assert counts(scores, "left") == (0, 1, 1)
    assert scores["right"].micro.fscore == 1.0
    assert scores["exact"].micro.fscore == 0.0


def test_symmetric_left_case(make_doc):
    gold = make_doc(WORDS, GOLD)
    pred = make_doc(WORDS, ["O", "O", "B-Disease", "I-Disease", "O", "O"])  # "familial gastric"
    scores = score_examples([Example(pred, gold)])
    assert counts(scores, "left") == (1, 0, 0)
    assert counts(scores, "exact") == (0, 1, 1)
    assert counts(scores, "right") == (0, 1, 1)


def test_boundary_match_needs_the_same_type(make_doc):
    gold = make_doc(WORDS, GOLD)
    pred = make_doc(WORDS, ["O", "O", "O", "B-Chemical", "I-Chemical", "O"])
    scores = score_examples([Example(pred, gold)])
    for criterion in CRITERIA:
        assert counts(scores, criterion) == (0, 1, 1)
    assert counts(scores, "right", "Chemical") == (0, 1, 0)
    assert counts(scores, "right", "Disease") == (0, 0, 1)


def test_duplicate_predictions_are_not_double_counted(nlp, make_doc):
    gold = make_doc(WORDS, GOLD)
    pred = Doc(nlp.vocab, words=WORDS)
    # Span groups may hold duplicates and overlaps, unlike doc.ents.
    pred.spans["sc"] = [
        Span(pred, 2, 5, "Disease"),
        Span(pred, 2, 5, "Disease"),  # identical: counted once
        Span(pred, 3, 5, "Disease"),  # same right boundary as the gold mention
        Span(pred, 4, 5, "Disease"),  # same again
    ]
    gold.spans["sc"] = list(gold.ents)
    scores = score_examples([Example(pred, gold)], spans_key="sc")
    assert counts(scores, "exact") == (1, 2, 0)
    # One gold mention can absorb only one of the three right-boundary hits.
    assert counts(scores, "right") == (1, 2, 0)
    assert counts(scores, "left") == (1, 2, 0)


def test_match_mentions_pairs_each_side_once():
    gold = [Mention(0, 10, "A"), Mention(20, 30, "A")]
    pred = [Mention(5, 10, "A"), Mention(8, 10, "A"), Mention(20, 30, "A"), Mention(20, 30, "A")]
    result = match_mentions(gold, pred, "right")
    assert result.pairs == [(Mention(0, 10, "A"), Mention(5, 10, "A")), (Mention(20, 30, "A"), Mention(20, 30, "A"))]
    assert result.spurious == [Mention(8, 10, "A")]
    assert result.missed == []
    with pytest.raises(ValueError, match="Unknown match criterion"):
        match_mentions(gold, pred, "overlap")


def test_per_type_support_and_micro(make_doc):
    words = "aspirin and ibuprofen cause ulcers in mice".split()
    gold = make_doc(words, ["B-Chemical", "O", "B-Chemical", "O", "B-Disease", "O", "B-Species"])
    pred = make_doc(words, ["B-Chemical", "O", "O", "O", "B-Disease", "I-Disease", "B-Species"])
    scores = score_examples([Example(pred, gold)])["exact"]
    table = scores.to_dict()
    assert table["per_type"]["Chemical"] == {"p": 1.0, "r": 0.5, "f": pytest.approx(2 / 3), "tp": 1, "fp": 0, "fn": 1, "support": 2}
    assert table["per_type"]["Disease"]["support"] == 1
    assert (table["per_type"]["Disease"]["tp"], table["per_type"]["Disease"]["fp"]) == (0, 1)
    assert table["per_type"]["Species"]["f"] == 1.0
    assert (table["tp"], table["fp"], table["fn"], table["support"]) == (2, 1, 2, 4)
    assert table["p"] == pytest.approx(2 / 3) and table["r"] == pytest.approx(0.5)


def test_counts_add_up_across_batches(make_doc):
    a = Example(make_doc(WORDS, ["O", "O", "O", "B-Disease", "I-Disease", "O"]), make_doc(WORDS, GOLD))
    b = Example(make_doc(WORDS, GOLD), make_doc(WORDS, GOLD))
    together = score_examples([a, b])["right"]
    summed = score_examples([a])["right"] + score_examples([b])["right"]
    assert summed.to_dict() == together.to_dict()
    assert EntityScores.from_dict(together.to_dict()).to_dict() == together.to_dict()
    with pytest.raises(ValueError):
        score_examples([a])["right"] + score_examples([a])["exact"]


def test_different_tokenization_and_whitespace(nlp, make_doc):
    # Gold: a corpus with its own tokens; predicted: spaCy's tokenizer on a
    # text that differs in whitespace ("cancer." vs "cancer .").
    gold = make_doc(["IL-2R", "alpha", "binds", "IL-2", "."], ["B-Gene", "I-Gene", "O", "B-Gene", "O"])
    pred = nlp.make_doc("IL-2R alpha  binds IL-2.")
    assert len(pred) != len(gold)
    pred.ents = [pred.char_span(0, 11, "Gene"), pred.char_span(19, 23, "Gene")]
    gold_m, pred_m = example_mentions(Example(pred, gold))
    assert gold_m == [Mention(0, 11, "Gene"), Mention(18, 22, "Gene")]
    assert pred_m == gold_m  # mapped onto the gold text
    assert counts(score_examples([Example(pred, gold)]), "exact") == (2, 0, 0)


def test_prediction_ending_inside_a_gold_token_is_a_false_positive(nlp, make_doc):
    gold = make_doc(["IL-2R", "binds"], ["B-Gene", "O"])
    pred = Doc(nlp.vocab, words=["IL-2", "R", "binds"], spaces=[False, True, False])
    pred.ents = [Span(pred, 0, 1, "Gene")]  # "IL-2" ends inside the gold token
    example = Example(pred, gold)
    # spaCy's token alignment drops such a span, so its scorer would not
    # count it at all; by character offsets it is a false positive.
    assert example.get_aligned_spans_x2y(pred.ents) == []
    scores = score_examples([example])
    assert counts(scores, "right") == (0, 1, 1)
    assert counts(scores, "exact") == (0, 1, 1)
    assert counts(scores, "left") == (1, 0, 0)  # it does start where the gold mention starts
    pred.ents = [Span(pred, 0, 2, "Gene")]
    assert counts(score_examples([Example(pred, gold)]), "exact") == (1, 0, 0)


def test_texts_that_differ_beyond_whitespace_raise(nlp, make_doc):
    gold = make_doc(["a", "b"], ["O", "O"])
    pred = nlp.make_doc("a c")
    with pytest.raises(ValueError):
        # Example itself may already refuse to align; either way it must fail.
        score_examples([Example(pred, gold)])


def test_label_map_harmonizes_both_sides_and_drops_unmapped(make_doc):
    words = ["BRCA1", "in", "breast", "cancer", "and", "DNA"]
    gold = make_doc(words, ["B-GENE", "O", "B-DISO", "I-DISO", "O", "B-DNA"])
    pred = make_doc(words, ["B-Gene", "O", "B-Disease", "I-Disease", "O", "B-DNA"])
    label_map = {"GENE": "Gene", "Gene": "Gene", "DISO": "Disease", "Disease": "Disease"}
    scores = score_examples([Example(pred, gold)], label_map=label_map)["exact"]
    assert scores.labels == ["Disease", "Gene"]  # DNA is unmapped on both sides
    assert (scores.micro.tp, scores.micro.fp, scores.micro.fn) == (2, 0, 0)
    unmapped = score_examples([Example(pred, gold)])["exact"]
    assert unmapped.micro.tp == 1  # only DNA agrees without the map


# --- agreement with seqeval (strict IOB2) on generated data -----------------

TYPES = ["Chemical", "Disease", "Gene"]


def random_tags(rng: random.Random, n: int):
    tags, prev = [], "O"
    for _ in range(n):
        r = rng.random()
        if r < 0.5:
            tag = "O"
        elif r < 0.75 and prev != "O":
            tag = "I-" + prev[2:]
        else:
            tag = "B-" + rng.choice(TYPES)
        tags.append(tag)
        prev = tag
    return tags


@pytest.mark.parametrize("seed", range(5))
def test_exact_agrees_with_seqeval_strict(make_doc, seed):
    rng = random.Random(seed)
    examples, y_true, y_pred = [], [], []
    for _ in range(40):
        n = rng.randint(1, 25)
        words = [f"w{i}" for i in range(n)]
        gold_tags = random_tags(rng, n)
        # Predictions: the gold tags, corrupted, so that there are hits and misses.
        pred_tags = [t if rng.random() < 0.8 else rng.choice(["O", "B-Gene", "I-Chemical", "B-Disease"]) for t in gold_tags]
        pred_tags = [("B-" + t[2:]) if t.startswith("I-") and (i == 0 or pred_tags[i - 1][2:] != t[2:]) else t for i, t in enumerate(pred_tags)]
        examples.append(Example(make_doc(words, pred_tags), make_doc(words, gold_tags)))
        y_true.append(gold_tags)
        y_pred.append(pred_tags)
    ours = score_examples(examples, ["exact"])["exact"]
    theirs = classification_report(y_true, y_pred, mode="strict", scheme=IOB2, output_dict=True, zero_division=0)
    assert ours.micro.tp > 0 and ours.micro.fp > 0 and ours.micro.fn > 0
    assert ours.micro.precision == pytest.approx(theirs["micro avg"]["precision"])
    assert ours.micro.recall == pytest.approx(theirs["micro avg"]["recall"])
    assert ours.micro.fscore == pytest.approx(theirs["micro avg"]["f1-score"])
    for label, score in ours.per_type.items():
        if score.tp + score.fn:  # seqeval lists gold types only
            assert score.fscore == pytest.approx(theirs[label]["f1-score"])
            assert score.tp + score.fn == theirs[label]["support"]


@pytest.mark.parametrize("criterion", CRITERIA)
def test_matching_is_a_maximum_matching(criterion):
    # Overlapping, duplicated spans (as in span groups): compare the number
    # of true positives with a brute-force maximum bipartite matching.
    rng = random.Random(7)
    for _ in range(200):
        def mentions(k):
            out = []
            for _ in range(k):
                start = rng.randint(0, 6)
                out.append(Mention(start, start + rng.randint(1, 3), rng.choice("AB")))
            return out

        gold, pred = mentions(rng.randint(0, 6)), mentions(rng.randint(0, 6))
        result = match_mentions(gold, pred, criterion)
        g, p = sorted(set(gold)), sorted(set(pred))
        key = {"exact": lambda m: m, "left": lambda m: (m.start, m.label), "right": lambda m: (m.end, m.label)}[criterion]
        best = 0
        if g and p:
            cost = numpy.array([[-(key(a) == key(b)) for b in p] for a in g])
            rows, cols = linear_sum_assignment(cost)
            best = int(-cost[rows, cols].sum())
        assert len(result.pairs) == best
        assert len(result.pairs) + len(result.missed) == len(g)
        assert len(result.pairs) + len(result.spurious) == len(p)
        assert all(key(a) == key(b) for a, b in result.pairs)
