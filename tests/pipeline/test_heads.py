"""Heads as first-class parts of the component: multi-task training with two
label sets, gradient routing, add_head/reset_head, pretrained encoders."""
import gc
import weakref

import pytest
import spacy
import torch
from spacy.training import Example

from spacy_bioner.pipeline.bilstm_crf_ner import HEAD_KEY, INIT_SAMPLE
from spacy_bioner.training.multitask import batch_by_corpus

from .conftest import SENTENCES, char_offsets, tiny_nlp

NAME = "bilstm_crf_ner"
HEADS = {"genes": ("Gene", SENTENCES[:10]), "diseases": ("Disease", SENTENCES[10:])}


def head_examples(nlp, heads=HEADS):
    """One corpus per head, each with its own label set."""
    examples = []
    for head, (label, sentences) in heads.items():
        for text, entities in sentences:
            kept = [(t, lab) for t, lab in entities if lab == label]
            eg = Example.from_dict(nlp.make_doc(text), {"entities": char_offsets(text, kept)})
            eg.reference.user_data[HEAD_KEY] = head
            examples.append(eg)
    return examples


def module(nlp):
    return nlp.get_pipe(NAME).model.layers[0].shims[0]._model


def tensors(nlp, prefix=""):
    return {k[len(prefix):]: v.detach().clone() for k, v in module(nlp).state_dict().items() if k.startswith(prefix)}


def assert_equal(a, b):
    assert a.keys() == b.keys() and a
    for key in a:
        assert torch.equal(a[key], b[key]), key


def train_mtl(nlp, examples, epochs, seed=0):
    spacy.util.fix_random_seed(seed)
    optimizer = nlp.initialize(lambda: examples)
    for _ in range(epochs):
        for batch in batch_by_corpus(examples, size=10):
            nlp.update(batch, sgd=optimizer)
    return optimizer


@pytest.fixture(scope="module")
def mtl():
    nlp = tiny_nlp(heads=list(HEADS))
    examples = head_examples(nlp)
    optimizer = train_mtl(nlp, examples, epochs=140)
    return nlp, examples, optimizer


def copy_of(nlp):
    other = tiny_nlp(heads=list(HEADS))
    other.get_pipe(NAME).from_bytes(nlp.get_pipe(NAME).to_bytes())
    return other


def test_both_heads_reach_f1_one_on_their_own_corpus(mtl):
    nlp, examples, _ = mtl
    ner = nlp.get_pipe(NAME)
    assert ner.label_sets == {"genes": ("Gene",), "diseases": ("Disease",)}
    scores = nlp.evaluate(examples)
    assert scores["ents_f_genes"] == 1.0 and scores["ents_f_diseases"] == 1.0, scores
    # doc.ents is the ents_head's (the first head, genes) scored on its own examples.
    assert scores["ents_f"] == 1.0
    doc = nlp("Mutations in BRCA1 cause hereditary breast cancer .")
    assert [(e.text, e.label_) for e in doc.spans[f"{NAME}_genes"]] == [("BRCA1", "Gene")]
    # Each head on a sentence of its own corpus: the sentence above is in
    # the genes corpus only, which the disease head never trains on.
    doc = nlp(SENTENCES[10][0])
    assert [(e.text, e.label_) for e in doc.spans[f"{NAME}_diseases"]] == [("Sickle cell anemia", "Disease")]


def test_shared_layers_get_gradients_from_both_corpora():
    nlp = tiny_nlp(heads=list(HEADS))
    examples = head_examples(nlp)
    nlp.initialize(lambda: examples)
    ner = nlp.get_pipe(NAME)
    for head, other in (("genes", "diseases"), ("diseases", "genes")):
        for p in module(nlp).parameters():
            p.grad = None
        ner.update([eg for eg in examples if eg.reference.user_data[HEAD_KEY] == head])
        encoder = dict(module(nlp).encoder.named_parameters())
        # Every encoder tensor (word and char embeddings, every LSTM) is reached.
        assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in encoder.values()), head
        assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in module(nlp).heads[head].parameters())
        assert all(p.grad is None or not p.grad.any() for p in module(nlp).heads[other].parameters())


def test_step_on_one_head_leaves_the_other_bit_identical():
    nlp = tiny_nlp(heads=list(HEADS))
    examples = head_examples(nlp)
    optimizer = nlp.initialize(lambda: examples)
    genes = [eg for eg in examples if eg.reference.user_data[HEAD_KEY] == "genes"]
    diseases = [eg for eg in examples if eg.reference.user_data[HEAD_KEY] == "diseases"]
    # Both heads have optimizer state (momentum) before the check.
    nlp.update(genes, sgd=optimizer)
    nlp.update(diseases, sgd=optimizer)
    before_diseases, before_encoder = tensors(nlp, "heads.diseases."), tensors(nlp, "encoder.")
    before_genes = tensors(nlp, "heads.genes.")
    for _ in range(3):
        nlp.update(genes, sgd=optimizer)
    assert_equal(before_diseases, tensors(nlp, "heads.diseases."))
    after_genes, after_encoder = tensors(nlp, "heads.genes."), tensors(nlp, "encoder.")
    assert any(not torch.equal(before_genes[k], after_genes[k]) for k in before_genes)
    assert any(not torch.equal(before_encoder[k], after_encoder[k]) for k in before_encoder)


def test_all_heads_and_scores_survive_disk(mtl, tmp_path):
    nlp, _, _ = mtl
    texts = [t for t, _ in SENTENCES] + ["Unseen MECP2 variants cause Rett syndrome ."]
    keys = [NAME, f"{NAME}_genes", f"{NAME}_diseases"]

    def annotations(pipeline):
        return [
            {key: ([(s.start_char, s.end_char, s.label_) for s in doc.spans[key]], list(doc.spans[key].attrs["scores"]))
             for key in keys}
            for doc in pipeline.pipe(texts)
        ]

    before = annotations(nlp)
    nlp.to_disk(tmp_path / "mtl")
    loaded = spacy.load(tmp_path / "mtl")
    assert annotations(loaded) == before
    assert any(doc[f"{NAME}_diseases"][0] for doc in before)
    assert loaded.get_pipe(NAME).label_sets == nlp.get_pipe(NAME).label_sets
    assert_equal(tensors(nlp), tensors(loaded))


def test_add_head_and_reset_head_keep_the_encoder_and_other_heads(mtl, tmp_path):
    trained, examples, _ = mtl
    nlp = copy_of(trained)
    ner = nlp.get_pipe(NAME)
    encoder, genes, diseases = tensors(nlp, "encoder."), tensors(nlp, "heads.genes."), tensors(nlp, "heads.diseases.")
    ner.add_head("chemicals", ["Chemical"])
    assert ner.label_sets["chemicals"] == ("Chemical",)
    assert_equal(encoder, tensors(nlp, "encoder."))
    assert_equal(genes, tensors(nlp, "heads.genes."))
    assert_equal(diseases, tensors(nlp, "heads.diseases."))
    chem = tensors(nlp, "heads.chemicals.")
    assert chem["output.weight"].shape == (3, genes["output.weight"].shape[1])
    with pytest.raises(ValueError, match="already has a head"):
        ner.add_head("genes", ["Gene"])
    doc = nlp("Aspirin reduced the risk of colorectal cancer .")
    assert f"{NAME}_chemicals" in doc.spans

    optimizer = nlp.create_optimizer()
    nlp.update([eg for eg in examples if eg.reference.user_data[HEAD_KEY] == "genes"], sgd=optimizer)
    shim_id = ner.model.layers[0].shims[0].id
    assert any(k[0] == shim_id and k[1].startswith("heads.genes.") for k in optimizer.mom1)
    encoder, diseases = tensors(nlp, "encoder."), tensors(nlp, "heads.diseases.")
    old_genes = tensors(nlp, "heads.genes.")
    ner.reset_head("genes", ["Gene", "Protein"], sgd=optimizer)
    assert ner.label_sets["genes"] == ("Gene", "Protein")
    assert not any(k[0] == shim_id and k[1].startswith("heads.genes.") for k in optimizer.mom1)
    new_genes = tensors(nlp, "heads.genes.")
    assert new_genes["output.weight"].shape[0] == 5  # O, B/I-Gene, B/I-Protein
    assert not torch.equal(new_genes["crf.transitions"][:3, :3], old_genes["crf.transitions"])
    assert_equal(encoder, tensors(nlp, "encoder."))
    assert_equal(diseases, tensors(nlp, "heads.diseases."))
    # The grown component saves and loads with every head.
    nlp.to_disk(tmp_path / "grown")
    loaded = spacy.load(tmp_path / "grown")
    assert loaded.get_pipe(NAME).label_sets == ner.label_sets
    assert_equal(tensors(nlp), tensors(loaded))


def test_initialize_from_a_trained_pipeline_adds_a_head(mtl, tmp_path):
    trained, _, _ = mtl
    trained.to_disk(tmp_path / "pretrained")
    nlp = tiny_nlp(heads=["genes", "diseases", "chemicals"], ents_head="chemicals")
    chem = head_examples(nlp, {"chemicals": ("Chemical", [
        ("Aspirin reduced the risk of colorectal cancer .", [("Aspirin", "Chemical")]),
        ("Patients received cisplatin and paclitaxel .", [("cisplatin", "Chemical"), ("paclitaxel", "Chemical")]),
    ])})
    ner = nlp.get_pipe(NAME)
    ner.initialize(lambda: chem, nlp=nlp, init_from=tmp_path / "pretrained")
    assert ner.label_sets == {"genes": ("Gene",), "diseases": ("Disease",), "chemicals": ("Chemical",)}
    assert ner.cfg["kept_heads"] == ["genes", "diseases"]
    # The lexicons are the pretrained ones: the new corpus's words are not added.
    source = trained.get_pipe(NAME).model.attrs
    assert ner.model.attrs["words"].items == source["words"].items
    assert ner.model.attrs["chars"].items == source["chars"].items
    assert_equal(tensors(trained, "encoder."), tensors(nlp, "encoder."))
    assert_equal(tensors(trained, "heads.genes."), tensors(nlp, "heads.genes."))
    # Fine-tuning on the new corpus alone moves the encoder, never the old heads.
    optimizer = nlp.create_optimizer()
    for _ in range(3):
        nlp.update(chem, sgd=optimizer)
    assert_equal(tensors(trained, "heads.genes."), tensors(nlp, "heads.genes."))
    assert_equal(tensors(trained, "heads.diseases."), tensors(nlp, "heads.diseases."))
    assert not torch.equal(tensors(trained, "encoder.")["layers.0.forward_lstm.weight_ih_l0"],
                           tensors(nlp, "encoder.")["layers.0.forward_lstm.weight_ih_l0"])
    # reset_heads makes even a matching head start again.
    again = tiny_nlp(heads=["genes", "diseases"])
    plain = [Example(again.make_doc(t), again.make_doc(t)) for t, _ in SENTENCES[:3]]
    again.get_pipe(NAME).initialize(lambda: plain, init_from=tmp_path / "pretrained", reset_heads=["genes"])
    assert again.get_pipe(NAME).label_sets == {"genes": ("Gene",), "diseases": ("Disease",)}
    assert not torch.equal(tensors(trained, "heads.genes.")["output.weight"], tensors(again, "heads.genes.")["output.weight"])
    assert_equal(tensors(trained, "heads.diseases."), tensors(again, "heads.diseases."))


def test_keep_weights_reinitializes_only_new_heads(mtl):
    nlp = copy_of(mtl[0])
    ner = nlp.get_pipe(NAME)
    encoder = tensors(nlp, "encoder.")
    ner.initialize(lambda: head_examples(nlp), keep_weights=True)
    assert_equal(encoder, tensors(nlp, "encoder."))
    ner.initialize(lambda: head_examples(nlp))
    assert not torch.equal(encoder["chars.embed.weight"], tensors(nlp, "encoder.")["chars.embed.weight"])


def test_label_data_round_trips_through_initialize(mtl):
    ner = mtl[0].get_pipe(NAME)
    assert ner.label_data == {"genes": ["Gene"], "diseases": ["Disease"]}
    fresh = tiny_nlp(heads=list(HEADS))
    # No entity in these examples: the labels come from label_data alone.
    plain = [Example(fresh.make_doc(t), fresh.make_doc(t)) for t, _ in SENTENCES]
    fresh.get_pipe(NAME).initialize(lambda: plain, labels=ner.label_data)
    assert fresh.get_pipe(NAME).label_sets == ner.label_sets


def test_initialize_streams_the_corpus():
    nlp = tiny_nlp()
    alive = []
    refs = []

    def get_examples():
        for i in range(200):
            text, entities = SENTENCES[i % len(SENTENCES)]
            eg = Example.from_dict(nlp.make_doc(text), {"entities": char_offsets(text, entities)})
            refs.append(weakref.ref(eg.predicted))
            if i == 199:
                gc.collect()
                alive.append(sum(r() is not None for r in refs[:-1]))
            yield eg

    nlp.get_pipe(NAME).initialize(get_examples)
    # Only the sample (and the example being read) was held when the corpus ended.
    assert alive and alive[-1] <= INIT_SAMPLE + 1
    assert len(nlp.get_pipe(NAME).model.attrs["chars"]) > 10
