"""The component steps Thinc's Adam as torch's fused kernel
(`bridge.finish_update`): the same update, state and averages as Thinc's
per-parameter loop, and Thinc's own path for everything else."""
import copy

import numpy
import pytest
import torch
from thinc.api import SGD, Adam, PyTorchWrapper, RAdam

from spacy_bioner.model.bridge import finish_update


def twin_models():
    torch.manual_seed(0)
    module = torch.nn.ModuleDict(
        {
            "embed": torch.nn.Embedding(50, 8),
            "lstm": torch.nn.LSTM(8, 6, bidirectional=True),
            "out": torch.nn.Linear(12, 3),
        }
    )
    return PyTorchWrapper(module), PyTorchWrapper(copy.deepcopy(module))


def named(model):
    shim = model.shims[0]
    return shim, dict(shim._model.named_parameters())


def set_grads(models, step, frozen=()):
    generator = torch.Generator().manual_seed(step)
    for name, param in named(models[0])[1].items():
        # Every third step the gradients are large, so clipping acts.
        scale = 3.0 if step % 3 == 0 else 0.01
        grad = None if name in frozen else torch.randn(param.shape, generator=generator) * scale
        for model in models:
            named(model)[1][name].grad = None if grad is None else grad.clone()


def assert_same_state(thinc_model, ours, thinc_opt, our_opt, rtol=1e-4):
    thinc_shim, thinc_params = named(thinc_model)
    our_shim, our_params = named(ours)
    for name, param in thinc_params.items():
        thinc_key, our_key = (thinc_shim.id, name), (our_shim.id, name)
        assert thinc_opt.nr_update[thinc_key] == our_opt.nr_update[our_key], name
        numpy.testing.assert_allclose(our_params[name].detach().numpy(), param.detach().numpy(), rtol=rtol, atol=1e-6)
        stores = ["mom1", "mom2"] + (["averages"] if thinc_opt.averages is not None else [])
        for store in stores:
            expected = getattr(thinc_opt, store).get(thinc_key)
            got = getattr(our_opt, store).get(our_key)
            if expected is None:
                assert got is None, (name, store)
                continue
            assert got.shape == expected.shape, (name, store)
            numpy.testing.assert_allclose(got, expected, rtol=rtol, atol=1e-7 * float(numpy.abs(expected).max()) + 1e-12)
        if our_params[name].grad is not None:
            assert not our_params[name].grad.any(), name  # gradients are zeroed, as Thinc does


@pytest.mark.parametrize(
    "settings",
    [
        {"learn_rate": 0.003, "grad_clip": 1.0, "use_averages": True},
        {"learn_rate": 0.01, "grad_clip": 0.0, "use_averages": False, "L2": 0.01, "L2_is_weight_decay": True},
        {"learn_rate": 0.003, "beta1": 0.8, "beta2": 0.99, "eps": 1e-6, "grad_clip": 5.0, "use_averages": True},
    ],
)
def test_fused_adam_matches_thincs_adam(settings):
    thinc_model, ours = twin_models()
    thinc_opt, our_opt = Adam(**settings), Adam(**settings)
    for step in range(12):
        set_grads([thinc_model, ours], step)
        thinc_model.finish_update(thinc_opt)
        finish_update(ours, our_opt)
    assert_same_state(thinc_model, ours, thinc_opt, our_opt)
    # The weights did move, and a wrong update would not pass: a second
    # optimizer with another learning rate ends elsewhere.
    _, start = named(twin_models()[0])
    assert not torch.allclose(named(ours)[1]["out.weight"], start["out.weight"])


def test_frozen_parameters_keep_their_values_and_step_counts():
    """A parameter without a gradient is not stepped; once it has one again,
    its own (smaller) step count sets its bias correction, as in Thinc."""
    thinc_model, ours = twin_models()
    thinc_opt, our_opt = Adam(0.003, use_averages=True), Adam(0.003, use_averages=True)
    frozen = {"lstm.weight_ih_l0", "lstm.bias_hh_l0"}
    before = named(ours)[1]["lstm.weight_ih_l0"].detach().clone()
    for step in range(8):
        set_grads([thinc_model, ours], step, frozen=frozen if step < 5 else ())
        thinc_model.finish_update(thinc_opt)
        finish_update(ours, our_opt)
        if step == 4:
            assert torch.equal(named(ours)[1]["lstm.weight_ih_l0"].detach(), before)
    shim = named(ours)[0]
    assert our_opt.nr_update[(shim.id, "lstm.weight_ih_l0")] == 3
    assert our_opt.nr_update[(shim.id, "out.weight")] == 8
    assert_same_state(thinc_model, ours, thinc_opt, our_opt)


@pytest.mark.parametrize("make_optimizer", [lambda: RAdam(0.003), lambda: SGD(0.1), lambda: Adam(0.003, L2=0.01, L2_is_weight_decay=False)])
def test_other_optimizers_take_thincs_own_path(make_optimizer):
    thinc_model, ours = twin_models()
    thinc_opt, our_opt = make_optimizer(), make_optimizer()
    for step in range(4):
        set_grads([thinc_model, ours], step)
        thinc_model.finish_update(thinc_opt)
        finish_update(ours, our_opt)
    for name, param in named(thinc_model)[1].items():
        assert torch.equal(named(ours)[1][name], param), name  # bit for bit: the same code ran


def test_a_torch_without_cpu_fused_adam_takes_thincs_path(monkeypatch):
    from spacy_bioner.model import bridge

    monkeypatch.setattr(bridge, "_torch_has_cpu_fused_adam", lambda: False)
    thinc_model, ours = twin_models()
    thinc_opt, our_opt = Adam(0.003), Adam(0.003)
    for step in range(3):
        set_grads([thinc_model, ours], step)
        thinc_model.finish_update(thinc_opt)
        finish_update(ours, our_opt)
    for name, param in named(thinc_model)[1].items():
        assert torch.equal(named(ours)[1][name], param), name


def test_training_steps_the_components_parameters_with_averages(tmp_path):
    """Through `nlp.update`: every parameter moves and has an average, and
    the pipeline still saves and loads."""
    import spacy

    from .conftest import make_examples, tiny_nlp

    nlp = tiny_nlp()
    examples = make_examples(nlp)
    optimizer = nlp.initialize(lambda: examples, sgd=Adam(0.01, use_averages=True, grad_clip=1.0))
    shim = nlp.get_pipe("bilstm_crf_ner").model.layers[0].shims[0]
    start = {name: p.detach().clone() for name, p in shim._model.named_parameters()}
    for _ in range(3):
        nlp.update(examples, sgd=optimizer)
    for name, param in shim._model.named_parameters():
        assert optimizer.nr_update[(shim.id, name)] == 3, name
        assert (shim.id, name) in optimizer.averages, name
        assert param.grad is None or not param.grad.any(), name
    moved = [name for name, p in shim._model.named_parameters() if not torch.equal(p.detach(), start[name])]
    assert "encoder.layers.0.forward_lstm.weight_ih_l0" in moved and len(moved) > len(start) // 2
    nlp.to_disk(tmp_path / "model")
    assert spacy.load(tmp_path / "model")("Mutations in BRCA1 cause cancer .") is not None
