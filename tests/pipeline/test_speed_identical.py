"""Speed changes (issue #16) must not change what the component predicts:
the array featurizer against a per-token reference, the fast gold tags
against spaCy's alignment, inference mode against a plain no_grad forward,
the char-state cache (opt-in) against none, bfloat16 inference (opt-in)
close to float32, the time-major layers against batch-first LSTMs and the
confidences of the rows with entities against the whole batch (both bit for
bit). No timings here: speed
targets live in benchmarks/speed_per_core.py."""
import contextlib

import numpy
import pytest
import torch

from spacy_bioner.model import features
from spacy_bioner.model.bridge import convert_inputs
from spacy_bioner.model.features import build_batch, segment_docs, word_key
from spacy_bioner.pipeline import bilstm_crf_ner as component_module

from .conftest import SENTENCES, make_examples

LONG = " ".join(["Mutations in BRCA1 cause hereditary breast cancer and loss of PTEN ."] * 40)
TEXTS = [t for t, _ in SENTENCES] + ["unseen Wörds 123 and IL-26 , IL-27 .", LONG, "x"]


def _entities(nlp, texts):
    out = []
    for doc in nlp.pipe(texts, batch_size=4):
        out.append(([(e.start, e.end, e.label_) for e in doc.ents], list(doc.spans["bilstm_crf_ner"].attrs["scores"])))
    return out


def test_build_batch_matches_per_token_reference(trained_nlp, monkeypatch):
    ner = trained_nlp.get_pipe("bilstm_crf_ner")
    attrs = ner.model.attrs
    docs = [trained_nlp.make_doc(t) for t in TEXTS]
    segments = segment_docs(docs, attrs["max_length"], attrs["window_context"])
    # A tiny cache, so that eviction is exercised too.
    monkeypatch.setattr(features, "ID_CACHE_SIZE", 7)
    for normalize in (False, True):
        for _ in range(2):  # cold, then warm cache
            batch = build_batch(docs, segments, words=attrs["words"], chars=attrs["chars"], normalize_digits=normalize)
            windows = [(seg.doc, w) for seg in segments for w in seg.windows]
            for r, (d, (start, end, _, _)) in enumerate(windows):
                texts = [t.text for t in docs[d][start:end]]
                assert batch.lengths[r] == len(texts)
                expected = [attrs["words"].get(word_key(t, normalize)) for t in texts]
                assert batch.words[r, : len(texts)].tolist() == expected
                assert not batch.words[r, len(texts) :].any()
                offsets = numpy.concatenate([[0], numpy.cumsum(batch.char_lengths)])
                for i, text in enumerate(texts):
                    u = batch.unique[r, i]
                    chars = batch.chars[offsets[u] : offsets[u + 1]].tolist()
                    assert chars == [attrs["chars"].get(c) for c in text]


def test_build_batch_vector_rows_match_per_token_lookup():
    """Vectors are looked up once per distinct word of a batch: each token
    still gets its exact form's row, else its lowercase form's, else none."""
    import spacy

    nlp = spacy.blank("en")
    table = numpy.arange(4 * 3, dtype="float32").reshape(4, 3)
    for row, word in enumerate(["brca1", "Cancer", "of", "PTEN"]):
        nlp.vocab.set_vector(word, table[row])
    texts = ["BRCA1 Cancer cancer of PTEN pten unknown BRCA1 .", "brca1 OF Of CANCER", LONG]
    docs = [nlp.make_doc(t) for t in texts]
    segments = segment_docs(docs, max_length=16, context=4)  # windows too
    words, chars = features.Lexicon([]), features.Lexicon([])
    vectors = nlp.vocab.vectors
    batch = build_batch(docs, segments, words=words, chars=chars, vectors_table=vectors.data)
    windows = [(seg.doc, w) for seg in segments for w in seg.windows]
    for r, (d, (start, end, _, _)) in enumerate(windows):
        for i, token in enumerate(docs[d][start:end]):
            row = vectors.find(key=token.text)
            row = row if row >= 0 else vectors.find(key=token.lower_)
            if row >= 0:
                assert batch.known[r, i], token.text
                assert numpy.array_equal(batch.vectors[r, i], vectors.data[row]), token.text
            else:
                assert not batch.known[r, i], token.text
        assert not batch.known[r, end - start :].any()
    assert batch.known.sum() > 10 and (~batch.known).sum() > 10


def test_gold_tags_fast_path_equals_alignment(trained_nlp, monkeypatch):
    ner = trained_nlp.get_pipe("bilstm_crf_ner")
    examples = make_examples(trained_nlp)
    fast = [ner._gold_tags(eg, "default", i) for i, eg in enumerate(examples)]
    monkeypatch.setattr(component_module, "_same_tokens", lambda eg: False)
    slow = [ner._gold_tags(eg, "default", i) for i, eg in enumerate(examples)]
    assert all(numpy.array_equal(a, b) for a, b in zip(fast, slow))
    assert sum(int((a > 0).sum()) for a in fast) > 0


def test_inference_mode_equals_no_grad_forward(trained_nlp, monkeypatch):
    ner = trained_nlp.get_pipe("bilstm_crf_ner")
    attrs = ner.model.attrs
    docs = [trained_nlp.make_doc(t) for t in TEXTS]
    segments = segment_docs(docs, attrs["max_length"], attrs["window_context"])
    batch = build_batch(docs, segments, words=attrs["words"], chars=attrs["chars"],
                        normalize_digits=attrs.get("normalize_digits", False))
    args, _ = convert_inputs(ner.model.layers[0], (batch, None), False)
    module = ner.model.layers[0].shims[0]._model.eval()
    with torch.no_grad():
        fast = module(args.args[0])
    # The same forward under no_grad alone, as before inference mode.
    monkeypatch.setattr(torch, "inference_mode", lambda mode=True: contextlib.nullcontext())
    with torch.no_grad():
        plain = module(args.args[0])
    for head in fast:
        assert torch.equal(fast[head][0], plain[head][0])
        assert fast[head][1] == plain[head][1]


def test_predictions_do_not_depend_on_the_id_cache(trained_nlp, monkeypatch):
    first = _entities(trained_nlp, TEXTS)
    monkeypatch.setattr(features, "ID_CACHE_SIZE", 1)
    assert _entities(trained_nlp, TEXTS) == first
    assert any(ents for ents, _ in first)


def test_bfloat16_inference_is_close_and_float32_comes_back(trained_nlp):
    ner = trained_nlp.get_pipe("bilstm_crf_ner")
    reference = _entities(trained_nlp, TEXTS)
    ner.set_inference_precision("bfloat16")
    try:
        low = _entities(trained_nlp, TEXTS)
    finally:
        ner.set_inference_precision("float32")
    assert [ents for ents, _ in low] == [ents for ents, _ in reference]
    for (_, a), (_, b) in zip(low, reference):
        assert numpy.allclose(a, b, atol=0.02)
    assert _entities(trained_nlp, TEXTS) == reference
    with pytest.raises(ValueError):
        ner.set_inference_precision("float16")


def _char_encoder(nlp):
    return nlp.get_pipe("bilstm_crf_ner").model.layers[0].shims[0]._model.encoder.chars


def _assert_same(found, expected, atol=1e-4):
    # Same entities; confidences to float rounding (a cached char state was
    # computed in a batch of another shape, see CHAR_CACHE_SIZE).
    assert [ents for ents, _ in found] == [ents for ents, _ in expected]
    for (_, a), (_, b) in zip(found, expected):
        assert numpy.allclose(a, b, atol=atol, rtol=0)


def test_char_cache_gives_the_same_predictions(trained_nlp):
    chars = _char_encoder(trained_nlp)
    size = chars.cache_size
    assert size == 0  # opt-in
    try:
        uncached = _entities(trained_nlp, TEXTS)
        chars.cache_size = 100_000
        chars.clear_cache()
        _assert_same(_entities(trained_nlp, TEXTS), uncached)  # cold: reuse within the pass
        assert chars._cache_rows
        _assert_same(_entities(trained_nlp, TEXTS), uncached)  # warm: every word cached
        chars.cache_size = 3  # eviction on the way
        chars.clear_cache()
        _assert_same(_entities(trained_nlp, TEXTS), uncached)
    finally:
        chars.cache_size = size
        chars.clear_cache()


def test_char_cache_is_emptied_when_weights_change():
    from .conftest import tiny_nlp, train

    nlp = tiny_nlp()
    examples = make_examples(nlp)
    train(nlp, examples, steps=5)
    chars = _char_encoder(nlp)
    chars.cache_size = 100_000
    _entities(nlp, TEXTS)  # fills the cache
    optimizer = nlp.resume_training()
    nlp.update(examples, sgd=optimizer)
    cached = _entities(nlp, TEXTS)
    chars.cache_size = 0
    # A stale cache would give the old weights' states: far more than rounding.
    _assert_same(_entities(nlp, TEXTS), cached)


def test_time_major_layer_equals_batch_first_lstms_bit_for_bit():
    # The layers used to run two batch-first nn.LSTMs; time-major must give
    # the same outputs and gradients, not merely close ones.
    from spacy_bioner.torch_modules.lstm import VariationalBiLSTM, reverse_index, reverse_rows

    torch.manual_seed(3)
    layer = VariationalBiLSTM(12, 7).train()
    forward = torch.nn.LSTM(12, 7, batch_first=True)
    backward = torch.nn.LSTM(12, 7, batch_first=True)
    forward.load_state_dict(layer.forward_lstm.state_dict())
    backward.load_state_dict(layer.backward_lstm.state_dict())
    lengths = torch.tensor([9, 4, 1, 7])
    reverse = reverse_index(lengths, 9)
    x = torch.randn(4, 9, 12)
    ours_x, ref_x = x.clone().requires_grad_(), x.clone().requires_grad_()
    ours = layer(ours_x, lengths, reverse)
    ref = torch.cat((forward(ref_x)[0], reverse_rows(backward(reverse_rows(ref_x, reverse))[0], reverse)), dim=2)
    assert torch.equal(ours, ref)
    weights = torch.randn(ours.shape)
    (ours * weights).sum().backward()
    (ref * weights).sum().backward()
    assert torch.equal(ours_x.grad, ref_x.grad)
    assert torch.equal(layer.forward_lstm.weight_ih_l0.grad, forward.weight_ih_l0.grad)
    assert torch.equal(layer.backward_lstm.weight_hh_l0.grad, backward.weight_hh_l0.grad)


def test_to_time_major_gives_back_a_batch_first_gradient():
    from spacy_bioner.torch_modules.lstm import to_time_major

    x = torch.randn(3, 5, 4, requires_grad=True)
    seen = []
    x.register_hook(lambda grad: seen.append(grad.is_contiguous()))
    moved = to_time_major(x)
    assert moved.shape == (5, 3, 4) and moved.is_contiguous()
    assert torch.equal(moved.transpose(0, 1), x)
    (moved * torch.arange(60.0).view(5, 3, 4)).sum().backward()
    assert seen == [True]
    assert torch.equal(x.grad, torch.arange(60.0).view(5, 3, 4).transpose(0, 1))


def test_confidences_from_rows_with_entities_equal_the_full_batch():
    # decode_emissions runs forward-backward only over the rows that have an
    # entity; the scores must be those of the whole batch, bit for bit.
    from spacy_bioner.torch_modules.crf import CRFHead, bio_spans, forward_backward, span_log_probs, viterbi

    torch.manual_seed(5)
    head = CRFHead(8, ["Disease", "Chemical"])
    emissions = torch.randn(6, 11, 5)
    emissions[1, :, 0] += 50.0  # rows 1 and 4: only "O", no entity
    emissions[4, :, 0] += 50.0
    lengths = torch.tensor([11, 7, 3, 9, 11, 1])
    mask = torch.arange(11).unsqueeze(0) < lengths.unsqueeze(1)
    paths, entities = head.decode_emissions(emissions, mask)
    start, trans, end = head.constrained_scores()
    assert torch.equal(paths, viterbi(emissions, mask, start, trans, end))
    spans = bio_spans(paths, lengths)
    assert {b for b, *_ in spans} - {0, 2, 3, 5} == set() and spans
    alpha, beta, log_z = forward_backward(emissions, mask, start, trans, end)
    expected = span_log_probs(spans, emissions, mask, alpha, beta, log_z, trans, end).exp().tolist()
    found = [(b, e.start, e.end, e.label, e.confidence) for b, row in enumerate(entities) for e in row]
    assert [f[:4] for f in found] == spans
    assert [f[4] for f in found] == [min(c, 1.0) for c in expected]
    assert not entities[1] and not entities[4]


def test_threads_over_groups_give_the_one_thread_predictions(trained_nlp, monkeypatch):
    import concurrent.futures

    pools = []

    class Pool(concurrent.futures.ThreadPoolExecutor):
        def __init__(self, max_workers):
            pools.append(max_workers)
            super().__init__(max_workers)

    monkeypatch.setattr(concurrent.futures, "ThreadPoolExecutor", Pool)
    ner = trained_nlp.get_pipe("bilstm_crf_ner")
    attrs = ner.model.attrs
    module = ner.model.layers[0].shims[0]._model
    threads, batch_tokens = torch.get_num_threads(), attrs["batch_tokens"]
    attrs["batch_tokens"] = 64  # many groups per batch
    try:
        torch.set_num_threads(1)
        sequential = _entities(trained_nlp, TEXTS * 3)
        assert not pools
        torch.set_num_threads(3)
        module.train()
        threaded = _entities(trained_nlp, TEXTS * 3)
        assert pools and max(pools) > 1  # the threaded path ran
        assert module.training  # the mode it had, as the shim leaves it
        assert torch.get_num_threads() == 3
    finally:
        attrs["batch_tokens"] = batch_tokens
        torch.set_num_threads(threads)
    assert threaded == sequential
    assert any(ents for ents, _ in sequential)
