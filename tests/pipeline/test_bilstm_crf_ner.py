"""The bilstm_crf_ner component: training, prediction, serialization, edge cases."""
import itertools

import numpy
import pytest
import spacy
import torch
from spacy.scorer import get_ner_prf
from spacy.tokens import Doc
from spacy.training import Example

from spacy_bioner.model.features import group_segments, segment_docs
from spacy_bioner.pipeline import bilstm_crf_ner as component_module
from spacy_bioner.scores import get_score

from .conftest import SENTENCES, char_offsets, make_examples, tiny_nlp, train


def _ents(doc, key=None):
    spans = doc.ents if key is None else doc.spans[key]
    return [(e.start_char, e.end_char, e.label_, round(get_score(e), 6)) for e in spans]


def _assert_same_entities(a, b):
    """Same spans and labels; confidences equal up to float summation order,
    which changes with batch composition and thread count."""
    assert [[e[:3] for e in doc] for doc in a] == [[e[:3] for e in doc] for doc in b]
    for doc_a, doc_b in zip(a, b):
        for ent_a, ent_b in zip(doc_a, doc_b):
            assert ent_a[3] == pytest.approx(ent_b[3], abs=1e-4)


def _state_dict(nlp, name="bilstm_crf_ner"):
    return nlp.get_pipe(name).model.layers[0].shims[0]._model.state_dict()


def test_factory_is_found_through_entry_points():
    # No import of spacy_bioner in this test: the entry point must suffice.
    nlp = spacy.blank("en")
    ner = nlp.add_pipe("bilstm_crf_ner")
    assert ner.heads == ["default"]


def test_overfit_reaches_f1_one(trained_nlp):
    examples = make_examples(trained_nlp)
    predicted = [Example(trained_nlp(eg.reference.text), eg.reference) for eg in examples]
    scores = get_ner_prf(predicted)
    assert scores["ents_f"] == 1.0, scores
    # The component's default scorer adds boundary-relaxed scores.
    scores = trained_nlp.evaluate(examples)
    assert scores["ents_f"] == scores["ents_right_f"] == scores["ents_left_f"] == 1.0


def test_confidences_are_probabilities(trained_nlp):
    doc = trained_nlp("Mutations in BRCA1 cause hereditary breast cancer .")
    assert doc.ents
    for ent in doc.ents:
        assert 0.0 <= get_score(ent) <= 1.0
    # A trained model is confident on its own training data.
    assert min(get_score(e) for e in doc.ents) > 0.5
    assert _ents(doc) == _ents(doc, "bilstm_crf_ner_default")


def test_disk_round_trip_is_identical(trained_nlp, tmp_path):
    texts = [t for t, _ in SENTENCES] + ["Unseen words like MECP2 and Rett syndrome appear ."]
    before = [_ents(doc) for doc in trained_nlp.pipe(texts)]
    trained_nlp.to_disk(tmp_path / "model")
    loaded = spacy.load(tmp_path / "model")
    after = [_ents(doc) for doc in loaded.pipe(texts)]
    assert before == after
    original, reloaded = _state_dict(trained_nlp), _state_dict(loaded)
    assert original.keys() == reloaded.keys()
    for key in original:
        assert torch.equal(original[key], reloaded[key]), key
    ner, ner2 = trained_nlp.get_pipe("bilstm_crf_ner"), loaded.get_pipe("bilstm_crf_ner")
    assert ner2.model.attrs["words"].items == ner.model.attrs["words"].items
    assert ner2.model.attrs["chars"].items == ner.model.attrs["chars"].items


def test_component_bytes_round_trip(trained_nlp):
    ner = trained_nlp.get_pipe("bilstm_crf_ner")
    fresh = tiny_nlp().get_pipe("bilstm_crf_ner")
    fresh.from_bytes(ner.to_bytes())
    doc = trained_nlp.make_doc("Loss of PTEN promotes prostate cancer progression .")
    doc2 = trained_nlp.make_doc(doc.text)
    ner.set_annotations([doc], ner.predict([doc]))
    fresh.set_annotations([doc2], fresh.predict([doc2]))
    assert _ents(doc) == _ents(doc2) and doc.ents
    for key, value in ner.model.layers[0].shims[0]._model.state_dict().items():
        assert torch.equal(value, fresh.model.layers[0].shims[0]._model.state_dict()[key])


def test_batch_size_does_not_change_predictions(trained_nlp):
    texts = [t for t, _ in SENTENCES] * 4
    one_per_batch = {"bilstm_crf_ner": {"min_batch_tokens": 0}}  # really one doc per batch
    one = [_ents(d) for d in trained_nlp.pipe(texts, batch_size=1, component_cfg=one_per_batch)]
    many = [_ents(d) for d in trained_nlp.pipe(texts, batch_size=64)]
    _assert_same_entities(one, many)
    assert any(one)


def test_pipe_batches_by_docs_and_tokens_and_reads_the_stream_lazily(trained_nlp, monkeypatch):
    """A batch closes once it has `batch_size` docs and PIPE_MIN_TOKENS
    tokens; an endless stream is annotated as it is read."""
    ner = trained_nlp.get_pipe("bilstm_crf_ner")
    sizes = []
    predict = ner.predict

    def spy(docs):
        docs = list(docs)
        sizes.append((len(docs), sum(len(d) for d in docs)))
        return predict(docs)

    monkeypatch.setattr(ner, "predict", spy)
    monkeypatch.setattr(component_module, "PIPE_MIN_TOKENS", 25)
    texts = [t for t, _ in SENTENCES]  # 7 to 11 tokens each
    docs = list(trained_nlp.pipe(texts, batch_size=2))
    assert [d.text for d in docs] == texts
    assert sum(n for n, _ in sizes) == len(texts)
    assert all(n >= 2 and tokens >= 25 for n, tokens in sizes[:-1]) and sizes[-1][0] >= 1
    ends = list(itertools.accumulate(n for n, _ in sizes))
    for (n, tokens), end in zip(sizes[:-1], ends):
        assert n - 1 < 2 or tokens - len(docs[end - 1]) < 25  # closed as soon as both were reached
    endless = (texts[i % len(texts)] for i in itertools.count())
    first = list(itertools.islice(trained_nlp.pipe(endless, batch_size=2), 5))
    assert [d.text for d in first] == texts[:5]
    # Doc by doc on request: a stream that must be answered as it arrives.
    read = []
    arriving = (read.append(t) or t for t in texts)
    stream = trained_nlp.pipe(arriving, batch_size=1, component_cfg={"bilstm_crf_ner": {"min_batch_tokens": 0}})
    assert next(stream).text == texts[0] and len(read) == 1


def test_multiprocessing_gives_same_predictions(trained_nlp):
    texts = [t for t, _ in SENTENCES] * 2
    single = [_ents(d) for d in trained_nlp.pipe(texts)]
    multi = [_ents(d) for d in trained_nlp.pipe(texts, n_process=2, batch_size=8)]
    _assert_same_entities(single, multi)
    assert any(single)


def test_two_heads_train_and_round_trip(tmp_path):
    nlp = tiny_nlp(heads=["disease", "gene"], ents_head="disease")
    examples = []
    for text, entities in SENTENCES:
        for head, label in (("disease", "Disease"), ("gene", "Gene")):
            kept = [(t, l) for t, l in entities if l == label]
            eg = Example.from_dict(nlp.make_doc(text), {"entities": char_offsets(text, kept)})
            eg.reference.user_data["spacy_bioner_head"] = head
            examples.append(eg)
    train(nlp, examples, steps=250)
    ner = nlp.get_pipe("bilstm_crf_ner")
    assert ner.label_sets == {"disease": ("Disease",), "gene": ("Gene",)}
    doc = nlp("Mutations in BRCA1 cause hereditary breast cancer .")
    assert [(e.text, e.label_) for e in doc.spans["bilstm_crf_ner_gene"]] == [("BRCA1", "Gene")]
    assert [(e.text, e.label_) for e in doc.spans["bilstm_crf_ner_disease"]] == [
        ("hereditary breast cancer", "Disease")
    ]
    assert list(doc.ents) == list(doc.spans["bilstm_crf_ner_disease"])
    nlp.to_disk(tmp_path / "two")
    loaded = spacy.load(tmp_path / "two")
    doc2 = loaded(doc.text)
    for key in ("bilstm_crf_ner_gene", "bilstm_crf_ner_disease"):
        assert _ents(doc, key) == _ents(doc2, key)
    original, reloaded = _state_dict(nlp), _state_dict(loaded)
    assert any(k.startswith("heads.gene.") for k in original)
    for key in original:
        assert torch.equal(original[key], reloaded[key]), key


def test_update_with_explicit_head_trains_only_that_head():
    nlp = tiny_nlp(heads=["a", "b"])
    examples = make_examples(nlp)
    ner = nlp.get_pipe("bilstm_crf_ner")
    ner.initialize(lambda: examples, nlp=nlp, labels={"a": ["Disease", "Gene"], "b": ["Disease", "Gene"]})
    optimizer = nlp.create_optimizer()
    before = {k: v.clone() for k, v in _state_dict(nlp).items()}
    nlp.update(examples, sgd=optimizer, component_cfg={"bilstm_crf_ner": {"head": "b"}})
    after = _state_dict(nlp)
    assert all(torch.equal(before[k], after[k]) for k in before if k.startswith("heads.a."))
    assert not all(torch.equal(before[k], after[k]) for k in before if k.startswith("heads.b."))
    # Once head a has been trained, updates of head b must not move it
    # (Adam's momentum would, if its zeroed gradients were stepped).
    nlp.update(examples, sgd=optimizer, component_cfg={"bilstm_crf_ner": {"head": "a"}})
    trained_a = {k: v.clone() for k, v in _state_dict(nlp).items() if k.startswith("heads.a.")}
    for _ in range(3):
        nlp.update(examples, sgd=optimizer, component_cfg={"bilstm_crf_ner": {"head": "b"}})
    assert all(torch.equal(trained_a[k], _state_dict(nlp)[k]) for k in trained_a)


def test_empty_and_mixed_batches(trained_nlp):
    texts = ["", "BRCA1", "   ", "Mutations in BRCA1 cause hereditary breast cancer .", ""]
    docs = list(trained_nlp.pipe(texts))
    assert [len(d) for d in docs][0] == 0 and docs[0].ents == ()
    assert docs[3].ents
    _assert_same_entities([_ents(docs[3])], [_ents(trained_nlp(texts[3]))])
    assert all("bilstm_crf_ner_default" in d.spans for d in docs)


def test_whitespace_tokens_are_never_entity_boundaries(trained_nlp):
    doc = trained_nlp("Mutations in BRCA1 \n\n cause   hereditary breast cancer .\n")
    assert any(t.is_space for t in doc)
    for ent in doc.ents:
        assert not ent[0].is_space and not ent[-1].is_space


def test_non_ascii_and_very_long_words(trained_nlp):
    long_word = "A" * 5000
    doc = trained_nlp(f"The α-synuclein — 🧬 gene {long_word} causes Parkinson disease .")
    assert len(doc) > 5
    assert all(0.0 <= get_score(e) <= 1.0 for e in doc.ents)


def test_long_document_is_not_truncated(trained_nlp):
    filler = "The patients were treated with aspirin daily ."
    words = []
    while len(words) < 20000:
        words.extend(filler.split())
    # The known entity sits at the very end, far beyond any window.
    tail = "Mutations in BRCA1 cause hereditary breast cancer".split()
    words = words[: 20000 - len(tail)] + tail
    doc = Doc(trained_nlp.vocab, words=words)
    assert not doc.has_annotation("SENT_START")
    ner = trained_nlp.get_pipe("bilstm_crf_ner")
    # The encoder reads bounded windows, never the whole 20k tokens at once.
    segments = segment_docs([doc], ner.model.attrs["max_length"], ner.model.attrs["window_context"])
    assert len(segments) == 1 and len(segments[0]) == 20000
    assert max(w[1] - w[0] for w in segments[0].windows) <= ner.model.attrs["max_length"]
    covered = numpy.zeros(20000, dtype=int)
    for _, _, core, core_end in segments[0].windows:
        covered[core:core_end] += 1
    assert (covered == 1).all()
    doc = ner(doc)
    assert ("BRCA1", "Gene") in [(e.text, e.label_) for e in doc.ents]
    assert doc.ents[-1].end == 20000


def test_groups_bound_padded_tokens():
    nlp = spacy.blank("en")
    docs = [nlp.make_doc("word " * n) for n in (3, 50, 7, 200, 12, 1)]
    segments = segment_docs(docs, max_length=64, context=8)
    groups = list(group_segments(segments, batch_tokens=256))
    assert sorted(id(s) for g in groups for s in g) == sorted(id(s) for s in segments)
    for group in groups:
        width = max(w[1] - w[0] for s in group for w in s.windows)
        n_windows = sum(len(s.windows) for s in group)
        assert len(group) == 1 or n_windows * width <= 256


def test_uninitialized_component_raises():
    nlp = tiny_nlp()
    with pytest.raises(ValueError, match="not initialized"):
        nlp("Some text .")
    with pytest.raises(ValueError, match="not initialized"):
        nlp.to_bytes()


def test_bio_tags_as_labels_are_rejected():
    nlp = tiny_nlp()
    doc = nlp.make_doc("BRCA1 is a gene .")
    eg = Example.from_dict(doc, {"entities": [(0, 5, "B-Gene")]})
    with pytest.raises(ValueError, match=r"example 0 \('BRCA1 is a gene \.'\).*BIO"):
        nlp.initialize(lambda: [eg])


def test_label_unknown_to_head_names_the_example(trained_nlp):
    doc = trained_nlp.make_doc("Aspirin was given .")
    eg = Example.from_dict(doc, {"entities": [(0, 7, "Chemical")]})
    with pytest.raises(ValueError, match=r"Label 'Chemical' in example 0 \('Aspirin was given \.'\)"):
        trained_nlp.update([eg])


def test_invalid_label_in_config_labels():
    nlp = tiny_nlp()
    with pytest.raises(ValueError, match="looks like a BIO"):
        nlp.get_pipe("bilstm_crf_ner").initialize(lambda: make_examples(nlp), labels=["I-Gene"])


def test_sentences_are_segments(trained_nlp):
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    for name, proc in trained_nlp.pipeline:
        nlp.add_pipe("bilstm_crf_ner", source=trained_nlp)
    text = "Mutations in BRCA1 cause hereditary breast cancer . Loss of PTEN promotes prostate cancer progression ."
    doc = nlp(text)
    assert len(list(doc.sents)) == 2
    labels = [(e.text, e.label_) for e in doc.ents]
    assert ("PTEN", "Gene") in labels and ("BRCA1", "Gene") in labels
    # Offsets index the original text.
    for ent in doc.ents:
        assert text[ent.start_char : ent.end_char] == ent.text


def test_static_vectors_are_read_from_the_vocab(tmp_path):
    nlp = tiny_nlp()
    rng = numpy.random.default_rng(0)
    words = sorted({w for text, _ in SENTENCES[:15] for w in text.split()})
    for word in words:
        nlp.vocab.set_vector(word, rng.normal(size=(8,)).astype("float32"))
    examples = make_examples(nlp)
    train(nlp, examples, steps=400)
    ner = nlp.get_pipe("bilstm_crf_ner")
    assert ner.cfg["shapes"]["vectors_size"] == 8
    # No trainable word embedding beside the vectors, and no copy of the table.
    module = ner.model.layers[0].shims[0]._model
    assert not hasattr(module.encoder, "word_embed")
    assert all(p.numel() != nlp.vocab.vectors.data.size for p in module.parameters())
    text = "Mutations in BRCA1 cause hereditary breast cancer ."
    before = _ents(nlp(text))
    assert ("BRCA1", "Gene") in [(e.text, e.label_) for e in nlp(text).ents]
    nlp.to_disk(tmp_path / "vec")
    loaded = spacy.load(tmp_path / "vec")
    assert loaded.vocab.vectors.shape == nlp.vocab.vectors.shape and loaded.vocab.vectors.n_keys == len(words)
    assert _ents(loaded(text)) == before
    # The vectors are looked up at prediction time: changing one changes the scores.
    loaded.vocab.set_vector("BRCA1", numpy.zeros((8,), dtype="float32"))
    assert _ents(loaded(text)) != before


def test_vectors_of_another_width_are_rejected():
    nlp = tiny_nlp()
    nlp.vocab.set_vector("BRCA1", numpy.ones((8,), dtype="float32"))
    train(nlp, make_examples(nlp), steps=1)
    ner = nlp.get_pipe("bilstm_crf_ner")
    fresh = tiny_nlp()
    fresh.vocab.set_vector("BRCA1", numpy.ones((4,), dtype="float32"))
    with pytest.raises(ValueError, match="8-d static vectors"):
        fresh.get_pipe("bilstm_crf_ner").from_bytes(ner.to_bytes())
