"""The learning-recipe options of `spacy-bioner.BiLSTMCRF.v2` (docs/recipe.md):
each is tested for what it changes and for what it must leave alone."""
import contextlib

import numpy
import pytest
import spacy
import torch
from spacy.util import registry
from thinc.api import Adam

from spacy_bioner.model.features import word_key
from spacy_bioner.torch_modules.bilstm_crf import BiLSTMEncoder
from spacy_bioner.torch_modules.lstm import VariationalBiLSTM, lstm_loop, reverse_index

from .conftest import SENTENCES, make_examples, tiny_nlp, train

V2 = "spacy-bioner.BiLSTMCRF.v2"


def v2_nlp(**options):
    nlp = tiny_nlp()
    config = dict(nlp.get_pipe_config("bilstm_crf_ner"))
    model = dict(config["model"], **{"@architectures": V2}, **options)
    nlp = spacy.blank("en")
    nlp.add_pipe("bilstm_crf_ner", config={**{k: v for k, v in config.items() if k != "factory"}, "model": model})
    return nlp


def test_v1_is_v2_with_defaults():
    v1 = registry.architectures.get("spacy-bioner.BiLSTMCRF.v1")()
    v2 = registry.architectures.get(V2)()
    assert v1.attrs["encoder"] == {k: v for k, v in v2.attrs["encoder"].items()}
    assert v2.attrs["normalize_digits"] is False


def test_word_key_normalizes_digits_only_when_asked():
    assert word_key("IL-26") == "il-26"
    assert word_key("IL-26", normalize_digits=True) == "il-00"


def test_exact_loop_equals_fused_lstm_without_dropout():
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(5, 4, batch_first=True)  # lstm_loop reads either layout
    x = torch.randn(3, 7, 5)
    assert torch.allclose(lstm_loop(lstm, x), lstm(x)[0], atol=1e-6)


def test_exact_recurrent_mask_is_per_sequence_and_constant_over_time():
    torch.manual_seed(0)
    layer = VariationalBiLSTM(6, 8, recurrent_dropout=0.5, recurrent_mode="exact").train()
    x = torch.randn(64, 5, 6)
    lengths = torch.full((64,), 5)
    out = layer(x, lengths, reverse_index(lengths, 5))
    assert out.shape == (64, 5, 16)
    # Two identical sequences in one batch get different masks (per sequence),
    # unlike the weight-column approximation, whose mask the batch shares.
    same = torch.randn(1, 5, 6).expand(2, 5, 6).contiguous()
    two = torch.full((2,), 5)
    differs = any(not torch.allclose(*layer(same, two, reverse_index(two, 5)).unbind(0)) for _ in range(5))
    assert differs
    approx = VariationalBiLSTM(6, 8, recurrent_dropout=0.5).train()
    shared = approx(same, two, reverse_index(two, 5))
    assert torch.allclose(shared[0], shared[1])
    with pytest.raises(ValueError, match="recurrent_mode"):
        VariationalBiLSTM(6, 8, recurrent_mode="loop")


def _encoder(**kwargs):
    config = dict(vectors_size=4, n_words=10, word_size=3, n_chars=10, char_embed_size=3, char_hidden_size=2,
                  hidden_size=4, depth=1, embed_dropout=0.0, input_dropout=0.0, output_dropout=0.0,
                  recurrent_dropout=0.0)
    config.update(kwargs)
    return BiLSTMEncoder(**config)


def test_trainable_words_sit_beside_vectors():
    assert not hasattr(_encoder(), "word_embed")
    encoder = _encoder(trainable_words=True)
    assert encoder.word_embed.weight.shape == (10, 3)
    assert encoder.layers[0].forward_lstm.input_size == 4 + 3 + 2 * 2


def test_word_dropout_replaces_words_by_the_unknown_in_training_only():
    from spacy_bioner.torch_modules.bilstm_crf import TokenBatch

    torch.manual_seed(0)
    encoder = _encoder(word_dropout=1.0, trainable_words=True)
    with torch.no_grad():
        encoder.unknown_vector.fill_(7.0)
    seen = {}
    # The first LSTM's input, batch-first again (the layers run time-major).
    encoder.layers[0].forward_lstm.register_forward_pre_hook(
        lambda _m, args: seen.__setitem__("x", args[0].transpose(0, 1))
    )
    batch = TokenBatch(words=torch.tensor([[2, 3, 0]]), vectors=torch.ones(1, 3, 4),
                       known=torch.tensor([[True, True, False]]), unique=torch.tensor([[0, 1, 0]]),
                       chars=torch.tensor([2, 3, 4]), char_lengths=torch.tensor([1, 2]),
                       lengths=torch.tensor([2]), gather=None, segment_lengths=torch.tensor([2]))
    encoder.train()(batch)
    x = seen["x"]
    assert torch.all(x[0, :2, :4] == 7.0)  # vectors dropped to the unknown vector
    unknown_row = encoder.word_embed.weight[1]
    assert torch.allclose(x[0, 0, 4:7], unknown_row) and torch.allclose(x[0, 1, 4:7], unknown_row)
    encoder.eval()(batch)
    assert torch.all(seen["x"][0, :2, :4] == 1.0)  # never at prediction time


def test_v2_options_train_and_round_trip(tmp_path):
    nlp = v2_nlp(trainable_words=True, normalize_digits=True, word_dropout=0.1, recurrent_mode="exact",
                 recurrent_dropout=0.2)
    rng = numpy.random.default_rng(0)
    for word in {w for text, _ in SENTENCES for w in text.split()}:
        nlp.vocab.set_vector(word, rng.normal(size=(8,)).astype("float32"))
    train(nlp, make_examples(nlp), steps=300)
    ner = nlp.get_pipe("bilstm_crf_ner")
    assert len(ner.model.attrs["words"]) > 2  # a word lexicon although there are vectors
    text = "Mutations in BRCA1 cause hereditary breast cancer ."
    ents = [(e.text, e.label_) for e in nlp(text).ents]
    assert ("BRCA1", "Gene") in ents
    nlp.to_disk(tmp_path / "m")
    loaded = spacy.load(tmp_path / "m")
    assert [(e.text, e.label_, e.start) for e in loaded(text).ents] == [(e.text, e.label_, e.start) for e in nlp(text).ents]


def test_parameter_averages_reach_the_torch_module():
    nlp = tiny_nlp()
    examples = make_examples(nlp)
    optimizer = nlp.initialize(lambda: examples, sgd=Adam(0.01, use_averages=True))
    for _ in range(5):
        nlp.update(examples, sgd=optimizer)
    ner = nlp.get_pipe("bilstm_crf_ner")
    module = ner.model.layers[0].shims[0]._model
    name, param = next(iter(module.named_parameters()))
    before = param.detach().clone()
    with nlp.use_params(optimizer.averages):
        inside = param.detach().clone()
    with contextlib.contextmanager(ner.use_params)(optimizer.averages):
        assert torch.equal(param.detach(), inside)
    assert not torch.equal(inside, before)  # averages differ from the last step's values
    assert torch.equal(param.detach(), before)  # and are swapped out afterwards
    shim = ner.model.layers[0].shims[0]
    assert numpy.allclose(inside.numpy(), numpy.asarray(optimizer.averages[(shim.id, name)]))


def test_unknown_train_precision_is_refused_by_name():
    with pytest.raises(ValueError, match="train_precision must be one of"):
        registry.architectures.get(V2)(train_precision="float16")


def test_bfloat16_training_computes_the_lstms_in_bfloat16_and_keeps_float32_weights(monkeypatch):
    """Mixed precision: the word LSTMs run in bfloat16, the CRF's
    log-likelihood and every parameter and gradient stay float32, and the
    model learns the tiny corpus as float32 training does."""
    nlp = v2_nlp(train_precision="bfloat16")
    assert nlp.get_pipe("bilstm_crf_ner").model.attrs["train_precision"] == "bfloat16"
    examples = make_examples(nlp)
    optimizer = nlp.initialize(lambda: examples)
    module = nlp.get_pipe("bilstm_crf_ner").model.layers[0].shims[0]._model
    assert module.train_dtype is torch.bfloat16 and module.inference_dtype is None
    seen = []
    lstm_forward = torch.nn.LSTM.forward

    def spy(self, x, *args, **kwargs):
        out = lstm_forward(self, x, *args, **kwargs)
        seen.append((self.input_size, out[0].dtype))  # the dtype it computed in
        return out

    monkeypatch.setattr(torch.nn.LSTM, "forward", spy)
    nlp.update(examples, sgd=False)  # no optimizer step: the gradients stay on the parameters
    # Every LSTM, the backward-direction ones included, gets a gradient.
    assert all(p.grad is not None and bool(p.grad.abs().sum() > 0) for p in module.encoder.parameters())
    char_size = module.encoder.chars.embed.embedding_dim
    assert char_size not in {layer.forward_lstm.input_size for layer in module.encoder.layers}
    word = {dtype for size, dtype in seen if size != char_size}
    chars = {dtype for size, dtype in seen if size == char_size}
    assert word == {torch.bfloat16} and chars == {torch.float32}
    assert all(p.dtype == torch.float32 for p in module.parameters())
    seen.clear()
    nlp("Mutations in BRCA1 cause hereditary breast cancer .")
    assert {dtype for _, dtype in seen} == {torch.float32}  # prediction stays float32
    monkeypatch.undo()
    losses = [nlp.update(examples, sgd=optimizer)["bilstm_crf_ner"] for _ in range(150)]
    assert all(numpy.isfinite(losses)) and losses[-1] < 0.2 * losses[0]


def test_float32_training_is_untouched_by_the_precision_option():
    """The default leaves training bit for bit as it was: the same losses
    with `train_precision` unset and set to "float32"."""
    runs = []
    for options in ({}, {"train_precision": "float32"}):
        nlp = v2_nlp(**options)
        train(nlp, make_examples(nlp), steps=3)
        runs.append(nlp.update(make_examples(nlp))["bilstm_crf_ner"])
    assert runs[0] == runs[1]


def test_bfloat16_training_warns_on_a_cpu_without_native_bfloat16(monkeypatch):
    from spacy_bioner.model import bilstm_crf_layer

    nlp = v2_nlp(train_precision="bfloat16")
    examples = make_examples(nlp)
    optimizer = nlp.initialize(lambda: examples)
    monkeypatch.setattr(bilstm_crf_layer, "_native_bfloat16", lambda: False)
    with pytest.warns(UserWarning, match="without native bfloat16"):
        nlp.update(examples, sgd=optimizer)
