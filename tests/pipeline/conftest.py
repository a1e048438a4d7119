"""Small hand-written data and a tiny trained pipeline for component tests."""
from pathlib import Path

import pytest
import spacy
from spacy.training import Example

CONFIGS = Path(__file__).parents[2] / "configs"

# (text, [(entity text, label), ...]); entity texts are found left to right.
SENTENCES = [
    ("Mutations in BRCA1 cause hereditary breast cancer .", [("BRCA1", "Gene"), ("hereditary breast cancer", "Disease")]),
    ("Cystic fibrosis is caused by defects in CFTR .", [("Cystic fibrosis", "Disease"), ("CFTR", "Gene")]),
    ("The APC gene is mutated in familial adenomatous polyposis .", [("APC", "Gene"), ("familial adenomatous polyposis", "Disease")]),
    ("Patients with Huntington disease carry expanded HTT alleles .", [("Huntington disease", "Disease"), ("HTT", "Gene")]),
    ("TP53 is the most frequently mutated gene in cancer .", [("TP53", "Gene"), ("cancer", "Disease")]),
    ("We sequenced DMD in boys with Duchenne muscular dystrophy .", [("DMD", "Gene"), ("Duchenne muscular dystrophy", "Disease")]),
    ("Loss of PTEN promotes prostate cancer progression .", [("PTEN", "Gene"), ("prostate cancer", "Disease")]),
    ("No association was found between APOE and migraine .", [("APOE", "Gene"), ("migraine", "Disease")]),
    ("Hemophilia A results from mutations in F8 .", [("Hemophilia A", "Disease"), ("F8", "Gene")]),
    ("The patients were treated with aspirin daily .", []),
    ("Sickle cell anemia is caused by a variant of HBB .", [("Sickle cell anemia", "Disease"), ("HBB", "Gene")]),
    ("MLH1 deficiency underlies Lynch syndrome in these families .", [("MLH1", "Gene"), ("Lynch syndrome", "Disease")]),
    ("Marfan syndrome is linked to FBN1 .", [("Marfan syndrome", "Disease"), ("FBN1", "Gene")]),
    ("Expression of EGFR was measured in all samples .", [("EGFR", "Gene")]),
    ("Retinoblastoma arises after biallelic loss of RB1 .", [("Retinoblastoma", "Disease"), ("RB1", "Gene")]),
    ("The study enrolled 40 healthy volunteers .", []),
    ("Phenylketonuria is caused by PAH deficiency .", [("Phenylketonuria", "Disease"), ("PAH", "Gene")]),
    ("Variants of LRRK2 increase the risk of Parkinson disease .", [("LRRK2", "Gene"), ("Parkinson disease", "Disease")]),
    ("Tay-Sachs disease results from HEXA mutations .", [("Tay-Sachs disease", "Disease"), ("HEXA", "Gene")]),
    ("Fragile X syndrome is caused by silencing of FMR1 .", [("Fragile X syndrome", "Disease"), ("FMR1", "Gene")]),
]


def char_offsets(text, entities):
    offsets, pos = [], 0
    for ent_text, label in entities:
        start = text.index(ent_text, pos)
        offsets.append((start, start + len(ent_text), label))
        pos = start + len(ent_text)
    return offsets


def make_examples(nlp, sentences=SENTENCES):
    return [Example.from_dict(nlp.make_doc(t), {"entities": char_offsets(t, e)}) for t, e in sentences]


def tiny_nlp(**component_config):
    config = spacy.util.load_config(CONFIGS / "tiny.cfg")
    nlp = spacy.blank("en")
    cfg = dict(config["components"]["bilstm_crf_ner"])
    cfg.pop("factory")
    cfg.update(component_config)
    nlp.add_pipe("bilstm_crf_ner", config=cfg)
    return nlp


def train(nlp, examples, steps=150, seed=0, **update_kwargs):
    spacy.util.fix_random_seed(seed)
    optimizer = nlp.initialize(lambda: examples)
    for _ in range(steps):
        nlp.update(examples, sgd=optimizer, **update_kwargs)
    return nlp


@pytest.fixture(scope="session")
def trained_nlp():
    nlp = tiny_nlp()
    return train(nlp, make_examples(nlp))
