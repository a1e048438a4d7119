"""The package step's model card (meta.json), without building anything."""
from pathlib import Path

import pytest
from spacy.schemas import ModelMetaSchema, validate

from spacy_bioner.project.package import corpus_sources, model_card

ROOT = Path(__file__).resolve().parents[2]
META = {
    "lang": "en", "name": "pipeline", "version": "0.0.0", "spacy_version": ">=3.8.0,<3.9.0",
    "labels": {"bilstm_crf_ner": ["Disease"]}, "performance": {"ents_f": 0.8},
    "requirements": ["spacy-bioner>=0.1.0,<0.2.0"], "pipeline": ["sentencizer", "bilstm_crf_ner"],
}
SCORES = {
    "NCBI-disease": {"match": "exact", "ents_p": 0.8, "ents_r": 0.7, "ents_f": 0.7467, "n_docs": 940},
    "BC5CDR-disease": {"match": "right", "ents_p": 0.6, "ents_r": 0.5, "ents_f": 0.5455, "n_docs": 4797},
}


def test_corpus_sources_come_from_project_assets():
    sources = corpus_sources(ROOT / "project.yml", "NCBI-disease")
    assert [s["name"] for s in sources] == ["NCBI-disease train", "NCBI-disease dev"]
    assert all(s["url"].startswith("https://raw.githubusercontent.com/") for s in sources)
    assert "5,424 sentences" in sources[0]["description"]
    with pytest.raises(ValueError, match="no train/dev assets for corpus 'Nope'"):
        corpus_sources(ROOT / "project.yml", "Nope")


def test_model_card_keeps_dev_scores_and_adds_test_scores():
    sources = corpus_sources(ROOT / "project.yml", "NCBI-disease")
    card = model_card(META, name="bioner_x", version="1.2.3", train_corpus="NCBI-disease",
                      sources=sources, test_scores=SCORES)
    assert validate(ModelMetaSchema, card) == []  # spacy package would refuse it otherwise
    assert (card["name"], card["version"]) == ("bioner_x", "1.2.3")
    assert card["performance"]["ents_f"] == 0.8 and card["performance"]["test"] == SCORES
    assert card["sources"] == sources
    assert "finds Disease entities" in card["description"]
    assert "NCBI-disease test (in-corpus, exact match): F1 74.67" in card["description"]
    assert "BC5CDR-disease test (out-of-corpus, right match): F1 54.55" in card["description"]
    # The wheel folder holds exactly this spacy-bioner, so the model asks for it.
    assert [r for r in card["requirements"] if r.startswith("spacy-bioner")] == ["spacy-bioner==0.1.0"]
    assert META["performance"] == {"ents_f": 0.8}  # the input is not changed
