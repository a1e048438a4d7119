"""Multi-corpus training through plain `spacy train`: the reader, the
single-corpus batcher, per-head dev scores and transfer from config."""
import json
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import spacy
import srsly
import torch
from spacy.cli.train import train as spacy_train
from spacy.training import Example
from spacy.training.initialize import init_nlp
from spacy.util import load_config, registry

from spacy_bioner.pipeline.bilstm_crf_ner import HEAD_KEY
from spacy_bioner.training.multitask import MultiCorpus, batch_by_corpus, head_of

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "multitask"
GENES, DISEASES = FIXTURES / "genes.tsv", FIXTURES / "diseases.tsv"
NAME = "bilstm_crf_ner"
# configs/tiny.cfg's model, so that the real configs train in seconds.
TINY_MODEL = {f"components.{NAME}.model.{k}": v for k, v in load_config(ROOT / "configs" / "tiny.cfg")["components"][NAME]["model"].items() if k != "@architectures"}


def marked(nlp, head, n):
    examples = []
    for i in range(n):
        doc = nlp.make_doc(f"sentence {i} of {head}")
        eg = Example(doc, doc.copy())
        eg.reference.user_data[HEAD_KEY] = head
        examples.append(eg)
    return examples


def test_round_robin_batches_are_single_corpus_and_cycle_small_corpora():
    nlp = spacy.blank("en")
    examples = marked(nlp, "big", 40) + marked(nlp, "small", 6)
    random.seed(0)
    batches = list(batch_by_corpus(examples, size=4))
    heads = [{head_of(eg) for eg in batch} for batch in batches]
    assert all(len(h) == 1 for h in heads)
    # One pass over the largest corpus (10 batches), one small batch per
    # round: the small corpus is cycled, not starved.
    counts = Counter(h.pop() for h in heads)
    assert counts == {"big": 10, "small": 10}
    big = [eg.reference.text for batch in batches for eg in batch if head_of(eg) == "big"]
    assert sorted(big) == sorted(eg.reference.text for eg in examples[:40])
    # Rounds visit the corpora in a random order.
    firsts = {head_of(batches[i][0]) for i in range(0, len(batches), 2)}
    assert firsts == {"big", "small"}


def test_length_binned_batches_stay_single_corpus_and_pad_less():
    """padded_size bins each corpus's sentences by length: every example is
    seen once per pass of its corpus, no batch exceeds the padded size
    unless a single sentence does, and far fewer positions are padding."""
    nlp = spacy.blank("en")
    rng = random.Random(0)
    examples = []
    for head, n in (("big", 120), ("small", 30)):
        for i in range(n):
            length = rng.choice([3, 5, 8, 30, 60]) if i else 90  # one sentence longer than padded_size
            doc = nlp.make_doc(" ".join(f"w{i}_{j}" for j in range(length)))
            eg = Example(doc, doc.copy())
            eg.reference.user_data[HEAD_KEY] = head
            examples.append(eg)

    def padded(batches):
        return sum(max(len(eg.reference) for eg in b) * len(b) for b in batches) / sum(
            len(eg.reference) for b in batches for eg in b)

    random.seed(0)
    binned = list(batch_by_corpus(examples, size=8, padded_size=80, buffer=64))
    random.seed(0)
    fixed = list(batch_by_corpus(examples, size=8))
    assert all(len({head_of(eg) for eg in b}) == 1 for b in binned)
    assert all(max(len(eg.reference) for eg in b) * len(b) <= 80 or len(b) == 1 for b in binned)
    assert any(len(b) == 1 and len(b[0].reference) == 90 for b in binned)
    big = [eg.reference.text for b in binned for eg in b if head_of(eg) == "big"]
    assert sorted(big) == sorted(eg.reference.text for eg in examples[:120])
    assert padded(binned) < 1.3 < padded(fixed)
    configured = registry.batchers.get("spacy-bioner.batch_by_corpus.v1")(size=8, padded_size=80, buffer=64)
    random.seed(0)
    assert [[eg.reference.text for eg in b] for b in configured(examples)] == [[eg.reference.text for eg in b] for b in binned]
    with pytest.raises(ValueError, match="padded_size"):
        registry.batchers.get("spacy-bioner.batch_by_corpus.v1")(padded_size=-1)


def test_proportional_schedule_follows_size_to_the_temperature():
    nlp = spacy.blank("en")
    examples = marked(nlp, "big", 300) + marked(nlp, "small", 30)
    random.seed(0)
    proportional = Counter(head_of(b[0]) for b in batch_by_corpus(examples, size=1, schedule="proportional"))
    uniform = Counter(head_of(b[0]) for b in batch_by_corpus(examples, size=1, schedule="proportional", temperature=0.0))
    assert sum(proportional.values()) == sum(uniform.values()) == 330
    assert proportional["small"] < 60 < uniform["small"]
    with pytest.raises(ValueError, match="schedule"):
        registry.batchers.get("spacy-bioner.batch_by_corpus.v1")(schedule="epoch")


def test_multi_corpus_reader_marks_heads_and_harmonizes():
    nlp = spacy.blank("en")
    reader = registry.readers.get("spacy-bioner.MultiCorpus.v1")(
        corpora={"genes": {"path": str(GENES), "label_map": None},
                 "diseases": {"path": str(DISEASES), "keep_labels": ["Disease"]}})
    assert isinstance(reader, MultiCorpus)
    examples = list(reader(nlp))
    assert Counter(head_of(eg) for eg in examples) == {"genes": 10, "diseases": 10}
    labels = {head: {e.label_ for eg in examples if head_of(eg) == head for e in eg.reference.ents} for head in ("genes", "diseases")}
    assert labels == {"genes": {"Gene"}, "diseases": {"Disease"}}
    with pytest.raises(ValueError, match="unknown setting"):
        MultiCorpus({"genes": {"path": str(GENES), "labelmap": "default"}})


@pytest.fixture(scope="module")
def trained_mtl(tmp_path_factory):
    """`spacy train configs/multitask.cfg` on two tiny corpora."""
    out = tmp_path_factory.mktemp("mtl")
    overrides = {
        "paths.train": str(GENES), "paths.dev": str(GENES),
        "paths.partner_train": str(DISEASES), "paths.partner_dev": str(DISEASES),
        "training.max_epochs": 60, "training.eval_frequency": 30, "training.patience": 0,
        "training.batcher.size": 10, "training.optimizer.learn_rate": 0.01,
        **TINY_MODEL,
    }
    spacy_train(ROOT / "configs" / "multitask.cfg", out, overrides=overrides)
    return out, overrides


def test_spacy_train_trains_one_head_per_corpus(trained_mtl):
    out, _ = trained_mtl
    meta = srsly.read_json(out / "model-best" / "meta.json")
    perf = meta["performance"]
    assert {"ents_f_main", "ents_f_partner"} <= set(perf)
    assert perf["ents_f_main"] > 0.5 and perf["ents_f_partner"] > 0.5, perf
    nlp = spacy.load(out / "model-best")
    ner = nlp.get_pipe(NAME)
    assert ner.label_sets == {"main": ("Gene",), "partner": ("Disease",)}
    doc = nlp("Mutations in BRCA1 cause hereditary breast cancer .")
    for key in (f"{NAME}_main", f"{NAME}_partner", NAME):
        assert len(doc.spans[key].attrs["scores"]) == len(doc.spans[key])


def test_init_labels_writes_the_labels_of_every_head(trained_mtl, tmp_path):
    _, overrides = trained_mtl
    args = [a for k, v in overrides.items() for a in (f"--{k}", json.dumps(v) if not isinstance(v, str) else v)]
    cmd = [sys.executable, "-m", "spacy", "init", "labels", str(ROOT / "configs" / "multitask.cfg"), str(tmp_path)]
    subprocess.run(cmd + args, check=True, capture_output=True)
    assert json.loads((tmp_path / f"{NAME}.json").read_text()) == {"main": ["Gene"], "partner": ["Disease"]}


def test_add_head_config_fine_tunes_a_new_head_on_a_trained_model(trained_mtl):
    out, overrides = trained_mtl
    pretrained = spacy.load(out / "model-best")
    config = load_config(ROOT / "configs" / "add_head.cfg", overrides={
        "paths.pretrained": str(out / "model-best"), "paths.train": str(DISEASES), "paths.dev": str(DISEASES),
        **TINY_MODEL,
    })
    nlp = init_nlp(config)
    ner = nlp.get_pipe(NAME)
    assert ner.label_sets == {"main": ("Gene",), "partner": ("Disease",), "new": ("Disease",)}
    assert ner.cfg["kept_heads"] == ["main", "partner"]
    before = pretrained.get_pipe(NAME).model.layers[0].shims[0]._model.state_dict()
    after = ner.model.layers[0].shims[0]._model.state_dict()
    for key, value in before.items():
        assert torch.equal(value, after[key]), key
    assert {k for k in after if k.startswith("heads.new.")}


def test_a_sourced_component_keeps_its_weights_in_init_nlp(trained_mtl):
    out, overrides = trained_mtl
    config = load_config(ROOT / "configs" / "multitask.cfg", overrides={k: v for k, v in overrides.items() if k.startswith("paths.")})
    config["components"][NAME] = {"source": str(out / "model-best")}
    nlp = init_nlp(config)
    pretrained = spacy.load(out / "model-best").get_pipe(NAME)
    ner = nlp.get_pipe(NAME)
    assert ner.label_sets == pretrained.label_sets
    before = pretrained.model.layers[0].shims[0]._model.state_dict()
    after = ner.model.layers[0].shims[0]._model.state_dict()
    assert before.keys() == after.keys()
    for key, value in before.items():
        assert torch.equal(value, after[key]), key
