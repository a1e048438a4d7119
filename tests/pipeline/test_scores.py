"""Confidences live in span-group attrs: per head, aligned with the spans,
kept by Doc.to_bytes / DocBin() / n_process, replaced on re-annotation."""
import pytest
from spacy.tokens import Doc, DocBin

from spacy_bioner.pipeline.merge import merge_entities
from spacy_bioner.scores import get_heads, get_score, get_scores, set_score

from .conftest import SENTENCES, make_examples, tiny_nlp

NAME = "bilstm_crf_ner"


@pytest.fixture(scope="module")
def two_heads():
    """An initialized (untrained) two-head component; predictions are given by hand."""
    nlp = tiny_nlp(heads=["ncbi", "bc5cdr"])
    nlp.get_pipe(NAME).initialize(lambda: make_examples(nlp), labels={"ncbi": ["Disease"], "bc5cdr": ["Disease"]})
    return nlp


def annotate(nlp, text, predictions):
    doc = nlp.make_doc(text)
    nlp.get_pipe(NAME).set_annotations([doc], {head: [ents] for head, ents in predictions.items()})
    return doc


def scored(doc, key):
    return [(s.start_char, s.end_char, s.label_, score) for s, score in zip(doc.spans[key], doc.spans[key].attrs["scores"])]


def test_two_heads_same_span_different_scores_are_both_kept(two_heads):
    doc = annotate(two_heads, "Patients with breast cancer .",
                   {"ncbi": [(2, 4, "Disease", 0.9)], "bc5cdr": [(2, 4, "Disease", 0.4)]})
    assert scored(doc, f"{NAME}_ncbi") == [(14, 27, "Disease", 0.9)]
    assert scored(doc, f"{NAME}_bc5cdr") == [(14, 27, "Disease", 0.4)]
    ent = doc.ents[0]
    assert get_score(ent) == 0.9  # doc.ents comes from the ents_head, ncbi
    assert ent._.bioner_score == 0.9
    assert get_score(ent, f"{NAME}_bc5cdr") == 0.4
    assert get_heads(ent, NAME) == ["ncbi", "bc5cdr"]
    assert get_scores(doc, f"{NAME}_bc5cdr") == {(14, 27, "Disease"): 0.4}


def test_scores_survive_bytes_docbin_and_processes(trained_nlp):
    texts = [t for t, _ in SENTENCES]
    keys = [NAME, f"{NAME}_default"]
    docs = list(trained_nlp.pipe(texts))
    expected = [{k: scored(d, k) for k in keys} for d in docs]
    assert sum(len(e[NAME]) for e in expected) > 10
    from_bytes = [Doc(trained_nlp.vocab).from_bytes(d.to_bytes()) for d in docs]
    assert [{k: scored(d, k) for k in keys} for d in from_bytes] == expected
    # A default DocBin (no user data) keeps span groups with their attrs.
    data = DocBin(docs=docs).to_bytes()
    loaded = list(DocBin().from_bytes(data).get_docs(trained_nlp.vocab))
    assert [{k: scored(d, k) for k in keys} for d in loaded] == expected
    assert [[get_score(e) for e in d.ents] for d in loaded] == [[get_score(e) for e in d.ents] for d in docs]
    multi = list(trained_nlp.pipe(texts, n_process=2, batch_size=5))
    for doc, exp in zip(multi, expected):
        for key in keys:
            assert [s[:3] for s in scored(doc, key)] == [s[:3] for s in exp[key]]
            assert [s[3] for s in scored(doc, key)] == pytest.approx([s[3] for s in exp[key]], abs=1e-4)


def test_reannotation_leaves_no_stale_score(two_heads):
    doc = annotate(two_heads, "Patients with breast cancer .",
                   {"ncbi": [(2, 4, "Disease", 0.9)], "bc5cdr": [(3, 4, "Disease", 0.7)]})
    old_ent = doc.ents[0]
    set_score(doc[0:1], 0.5)  # a score from an imported file
    two_heads.get_pipe(NAME).set_annotations([doc], {"ncbi": [[]], "bc5cdr": [[]]})
    assert doc.ents == () and len(doc.spans[f"{NAME}_bc5cdr"]) == 0
    assert get_score(old_ent) is None and get_score(doc[0:1]) is None
    assert get_scores(doc) == {}


def test_merge_takes_highest_confidence_then_longest():
    found = {
        "a": [(0, 2, "Disease", 0.6), (5, 7, "Disease", 0.8)],
        "b": [(1, 3, "Disease", 0.9), (5, 6, "Disease", 0.8), (9, 10, "Chemical", 0.3)],
        "c": [(5, 7, "Disease", 0.5)],
    }
    merged = merge_entities(found, ["a", "b", "c"], ["a", "b", "c"])
    # (1,3) beats the overlapping (0,2) on confidence; (5,7) beats (5,6) on
    # length at equal confidence, and heads a and c agreed on it.
    assert merged == [
        (1, 3, "Disease", 0.9, ["b"]),
        (5, 7, "Disease", 0.8, ["a", "c"]),
        (9, 10, "Chemical", 0.3, ["b"]),
    ]
    # One head only: its spans as they are, with the heads that agree.
    assert merge_entities(found, ["c"], ["a", "b", "c"]) == [(5, 7, "Disease", 0.5, ["a", "c"])]


def test_component_merges_heads_on_request(two_heads):
    ner = two_heads.get_pipe(NAME)
    ner.cfg["merge_heads"] = True
    try:
        doc = annotate(two_heads, "Breast cancer and lung cancer .",
                       {"ncbi": [(0, 2, "Disease", 0.9)], "bc5cdr": [(1, 2, "Disease", 0.95), (3, 5, "Disease", 0.6)]})
    finally:
        ner.cfg["merge_heads"] = False
    assert [(e.text, get_score(e), get_heads(e, NAME)) for e in doc.ents] == [
        ("cancer", 0.95, ["bc5cdr"]), ("lung cancer", 0.6, ["bc5cdr"])
    ]
    assert [s.text for s in doc.spans[f"{NAME}_ncbi"]] == ["Breast cancer"]


def test_one_head_writes_its_spans_and_merges_only_what_overlaps(trained_nlp):
    """With one head, its decoded spans are `doc.ents` as they are; spans that
    overlap or come out of order (never from a BIO path) still go through
    the merge."""
    text = "Patients with hereditary breast cancer and APC mutations ."
    ordered = [(2, 5, "Disease", 0.8), (6, 7, "Gene", 0.6)]
    doc = annotate(trained_nlp, text, {"default": ordered})
    assert [(e.start, e.end, e.label_) for e in doc.ents] == [(2, 5, "Disease"), (6, 7, "Gene")]
    assert doc.spans[NAME].attrs["scores"] == [0.8, 0.6]
    assert doc.spans[NAME].attrs["heads"] == [["default"], ["default"]]
    assert scored(doc, f"{NAME}_default") == scored(doc, NAME)
    overlapping = [(6, 7, "Gene", 0.6), (2, 5, "Disease", 0.5), (3, 5, "Disease", 0.9)]
    doc = annotate(trained_nlp, text, {"default": overlapping})
    # The merge keeps the most confident of overlapping spans, in text order.
    assert [(e.start, e.end, e.label_) for e in doc.ents] == [(3, 5, "Disease"), (6, 7, "Gene")]
    assert doc.spans[NAME].attrs["scores"] == [0.9, 0.6]
    assert len(doc.spans[f"{NAME}_default"]) == 3  # the head's group keeps what it found
