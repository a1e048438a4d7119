"""Category 5: memory bounded by max_length / batch_tokens, not by document
length x entities (the CRF parts are in tests/test_torch_modules.py)."""
import numpy
import torch

from spacy_bioner.model.features import build_batch, segment_docs
from spacy_bioner.torch_modules import bilstm_crf


def _component(nlp):
    return nlp.get_pipe("bilstm_crf_ner")


def test_chunked_inference_equals_one_pass(trained_nlp, monkeypatch):
    # A long segment with no sentence boundaries, read in many windows.
    text = " ".join(["Mutations in BRCA1 cause hereditary breast cancer and loss of PTEN"] * 120)
    doc = trained_nlp.make_doc(text)
    ner = _component(trained_nlp)
    attrs = ner.model.attrs
    segments = segment_docs([doc], attrs["max_length"], attrs["window_context"])
    assert len(segments[0].windows) > 3
    batch = build_batch([doc], segments, words=attrs["words"], chars=attrs["chars"])
    module = ner.model.layers[0].shims[0]._model.eval()
    # The tensors the component would pass, converted as it converts them.
    from spacy_bioner.model.bridge import convert_inputs as _convert_inputs

    args, _ = _convert_inputs(ner.model.layers[0], (batch, None), False)
    token_batch = args.args[0]
    with torch.no_grad():
        states, mask = module.segment_states(token_batch)
        reference = {name: head.decode(states, mask) for name, head in module.heads.items()}
        monkeypatch.setattr(bilstm_crf, "INFER_TOKENS", 64)  # several chunks
        chunked = module(token_batch)
    for name, (paths, entities) in reference.items():
        assert torch.equal(chunked[name][0], paths)
        got = [(e.start, e.end, e.label) for e in chunked[name][1][0]]
        assert got == [(e.start, e.end, e.label) for e in entities[0]]
        assert numpy.allclose([e.confidence for e in chunked[name][1][0]], [e.confidence for e in entities[0]], atol=1e-5)


def test_one_very_long_token_does_not_pad_the_batch(trained_nlp):
    ner = _component(trained_nlp)
    attrs = ner.model.attrs
    docs = [trained_nlp.make_doc("BRCA1 causes cancer ."), trained_nlp.make_doc("x" * 3000 + " and PTEN .")]
    segments = segment_docs(docs, attrs["max_length"], attrs["window_context"])
    batch = build_batch(docs, segments, words=attrs["words"], chars=attrs["chars"])
    # Concatenated characters: as many ids as characters, not words x 3000.
    assert batch.chars.ndim == 1 and batch.chars.shape[0] == sum(batch.char_lengths)
    long_doc = trained_nlp("x" * 3000 + " and BRCA1 .")
    assert len(long_doc) == 4
