"""Every config in configs/ fills, validates, initializes and trains a step."""
from pathlib import Path

import pytest
import spacy
from spacy.training.initialize import init_nlp
from spacy.util import load_config, load_model_from_config, registry
from thinc.api import Config

CONFIG_DIR = Path(__file__).parents[1] / "configs"
# The current recipe's configs and the pinned ones the grid trains with.
CONFIGS = sorted(CONFIG_DIR.glob("*.cfg")) + sorted(CONFIG_DIR.glob("recipe2/*.cfg"))
FIXTURE = Path(__file__).parent / "fixtures" / "corpora" / "iobes.tsv"


def test_there_are_configs():
    assert {p.name for p in CONFIGS} >= {"bilstm_crf.cfg", "tiny.cfg", "multitask.cfg", "add_head.cfg"}


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: str(p.relative_to(CONFIG_DIR)))
def test_config_fills_and_round_trips(path):
    config = load_config(path)
    nlp = load_model_from_config(config, auto_fill=True, validate=True)
    assert "bilstm_crf_ner" in nlp.pipe_names
    text = nlp.config.to_str()
    assert Config().from_str(text, interpolate=False).to_str() == text
    filled = nlp.config
    resolved = registry.resolve(filled["training"], validate=True)
    assert resolved["optimizer"].grad_clip == 1.0


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: str(p.relative_to(CONFIG_DIR)))
def test_config_initializes_and_trains_on_a_tsv_file(path):
    paths = load_config(path)["paths"]
    if "pretrained" in paths:
        pytest.skip("needs a trained pipeline: tests/training/test_multitask.py (add_head.cfg) and test_transfer.py (finetune.cfg) train one and use this config")
    # Every corpus path (multitask.cfg also has partner_train/partner_dev).
    overrides = {f"paths.{key}": str(FIXTURE) for key in paths if key.endswith(("train", "dev"))}
    config = load_config(path, overrides=overrides)
    nlp = init_nlp(config)
    ner = nlp.get_pipe("bilstm_crf_ner")
    assert ner.labels == ("Disease", "Gene")
    corpus = registry.resolve(config.interpolate()["corpora"])["train"]
    examples = list(corpus(nlp))
    losses = nlp.update(examples, sgd=nlp.create_optimizer())
    assert losses["bilstm_crf_ner"] > 0
    doc = nlp("The BRCA1 tumor suppressor gene .")
    assert f"bilstm_crf_ner_{ner.cfg['ents_head']}" in doc.spans
