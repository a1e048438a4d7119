"""Transfer learning from config (configs/finetune.cfg): the fine-tuned
pipeline starts from the pretrained weights, with a fresh head for the
target labels, and freezing keeps the shared encoder bit-identical."""
from pathlib import Path

import pytest
import spacy
import torch
from spacy.training import Example
from spacy.training.initialize import init_nlp
from spacy.util import load_config, registry

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "multitask"
GENES, DISEASES = FIXTURES / "genes.tsv", FIXTURES / "diseases.tsv"
NAME = "bilstm_crf_ner"
TINY_MODEL = {f"components.{NAME}.model.{k}": v
              for k, v in load_config(ROOT / "configs" / "tiny.cfg")["components"][NAME]["model"].items()
              if k != "@architectures"}


def state(nlp):
    return {k: v.clone() for k, v in nlp.get_pipe(NAME).model.layers[0].shims[0]._model.state_dict().items()}


def examples(nlp, config):
    corpus = registry.resolve(config.interpolate()["corpora"])["train"]
    return list(corpus(nlp))


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    """A 'silver' model: trained on genes (the other label set)."""
    config = load_config(ROOT / "configs" / "bilstm_crf.cfg",
                         overrides={"paths.train": str(GENES), "paths.dev": str(GENES), **TINY_MODEL})
    nlp = init_nlp(config)
    optimizer = nlp.create_optimizer()
    egs = examples(nlp, config)
    for _ in range(3):
        nlp.update(egs, sgd=optimizer)
    path = tmp_path_factory.mktemp("ssc") / "model"
    nlp.to_disk(path)
    return path


def finetune_config(pretrained, **overrides):
    return load_config(ROOT / "configs" / "finetune.cfg", overrides={
        "paths.pretrained": str(pretrained), "paths.train": str(DISEASES), "paths.dev": str(DISEASES),
        **TINY_MODEL, **overrides})


def test_finetuning_starts_from_the_pretrained_weights_with_a_fresh_head(pretrained):
    source = spacy.load(pretrained)
    before = state(source)
    nlp = init_nlp(finetune_config(pretrained))
    ner = nlp.get_pipe(NAME)
    assert source.get_pipe(NAME).labels == ("Gene",) and ner.labels == ("Disease",)
    after = state(nlp)
    shared = [k for k in before if not k.startswith("heads.")]
    assert shared and all(torch.equal(before[k], after[k]) for k in shared)
    head = [k for k in after if k.startswith("heads.default.")]
    assert head and any(before[k].shape != after[k].shape or not torch.equal(before[k], after[k]) for k in head)
    old_layer, new_layer = source.get_pipe(NAME).model, ner.model
    assert new_layer.attrs["words"].items == old_layer.attrs["words"].items  # lexicons kept
    assert new_layer.attrs["chars"].items == old_layer.attrs["chars"].items
    assert ner.cfg["kept_heads"] == []


def test_frozen_steps_keep_the_encoder_bit_identical(pretrained):
    config = finetune_config(pretrained, **{f"initialize.components.{NAME}.freeze_encoder_steps": 2})
    nlp = init_nlp(config)
    start = state(nlp)
    optimizer = nlp.create_optimizer()
    egs = examples(nlp, config)
    shared = [k for k in start if not k.startswith("heads.")]
    for step in range(2):
        nlp.update(egs, sgd=optimizer)
        now = state(nlp)
        assert all(torch.equal(start[k], now[k]) for k in shared), f"encoder moved at frozen step {step}"
        assert any(not torch.equal(start[k], now[k]) for k in now if k.startswith("heads."))
    nlp.update(egs, sgd=optimizer)
    assert any(not torch.equal(start[k], state(nlp)[k]) for k in shared), "the encoder trains after the frozen steps"
