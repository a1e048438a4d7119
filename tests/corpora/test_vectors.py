import gzip
import json

import numpy
import spacy
from gensim.models import KeyedVectors
from spacy.vectors import Vectors
from typer.testing import CliRunner

from spacy_bioner.cli import _register_commands, app
from spacy_bioner.vectors import import_word2vec, train_word2vec

SENTENCES = [
    "The p53 protein binds DNA in human cells.",
    "Mutations in BRCA1 increase the risk of breast cancer.",
    "Aspirin reduces the risk of colorectal cancer in mice.",
]


def test_train_word2vec_makes_a_vectors_directory(tmp_path):
    text = tmp_path / "text.jsonl.gz"
    with gzip.open(text, "wt", encoding="utf8") as f:
        for i in range(30):
            f.write(json.dumps({"id": str(i), "text": SENTENCES[i % 3]}) + "\n")
    out = train_word2vec([text], tmp_path / "vectors", size=16, epochs=2, min_count=2, workers=1)
    nlp = spacy.load(out)
    assert nlp.vocab.vectors.shape[1] == 16 and nlp.vocab.vectors.shape[0] >= 20
    # Keys are spaCy tokens: "cells." was split into "cells" and ".".
    assert nlp.vocab.has_vector("cells") and nlp.vocab.has_vector(".")
    assert not nlp.vocab.has_vector("cells.")
    vectors = Vectors().from_disk(out / "vocab")
    assert vectors.shape == nlp.vocab.vectors.shape
    assert not list(tmp_path.glob(".vectors*"))  # no temp leftovers


def test_train_fasttext_adds_training_words_with_subword_vectors(tmp_path):
    """FastText on text plus a CoNLL training split: the split's tokens are
    training text too, and `vocab_from` words rarer than min_count still get
    a (subword) vector; word2vec refuses `vocab_from`."""
    import pytest

    text = tmp_path / "text.txt"
    text.write_text("\n".join(SENTENCES[i % 3] for i in range(30)) + "\n", encoding="utf8")
    train = tmp_path / "train.tsv"
    train.write_text("Mutations\tO\nin\tO\nBRCA2\tB-Gene\n.\tO\n\nBRCA1\tB-Gene\nvariants\tO\n", encoding="utf8")
    out = train_word2vec([text, train], tmp_path / "ft", size=16, epochs=2, min_count=2, workers=1,
                         algorithm="fasttext", vocab_from=[train])
    nlp = spacy.load(out)
    assert nlp.vocab.has_vector("BRCA2") and nlp.vocab.has_vector("variants")  # seen once: added by vocab_from
    assert nlp.vocab.has_vector("BRCA1") and "ft" in nlp.vocab.vectors.name
    # Built from its character n-grams: a vector of its own, not a copy or zeros.
    added = nlp.vocab["BRCA2"].vector
    assert numpy.abs(added).sum() > 0 and not numpy.allclose(added, nlp.vocab["BRCA1"].vector)
    with pytest.raises(ValueError, match="fasttext"):
        train_word2vec([text], tmp_path / "w2v", size=8, epochs=1, workers=1, vocab_from=[train])


def test_import_word2vec_text_and_binary_with_pruning(tmp_path, fixtures):
    kv = KeyedVectors(vector_size=3)
    kv.add_vectors(["Aspirin", "ulcers", "unrelated", "il-2"],
                   numpy.arange(12, dtype="float32").reshape(4, 3))
    for binary in (False, True):
        path = tmp_path / f"w2v.{'bin' if binary else 'txt'}"
        kv.save_word2vec_format(str(path), binary=binary)
        out = import_word2vec(path, tmp_path / "out", prune_to=[fixtures / "iob2.tsv"])
        nlp = spacy.load(out)
        assert nlp.vocab.vectors.shape == (3, 3)  # "unrelated" pruned; "il-2" kept via lowercase
        assert list(nlp.vocab.get_vector("ulcers")) == [3.0, 4.0, 5.0]
        assert not nlp.vocab.has_vector("unrelated")


def test_vectors_cli(tmp_path):
    text = tmp_path / "text.txt"
    text.write_text("\n".join(SENTENCES * 10), encoding="utf8")
    _register_commands()
    result = CliRunner().invoke(app, ["vectors", "train", str(text), "-o", str(tmp_path / "v"),
                                      "--size", "8", "--min-count", "1", "--epochs", "1"])
    assert result.exit_code == 0, result.output
    assert spacy.load(tmp_path / "v").vocab.vectors.shape[1] == 8
    result = CliRunner().invoke(app, ["vectors", "train", str(tmp_path / "missing.txt"), "-o", str(tmp_path / "w")])
    assert result.exit_code == 1 and f"No such file: {tmp_path / 'missing.txt'}" in " ".join(result.output.split())
    # Without --output, the last text file is not silently taken as the output.
    result = CliRunner().invoke(app, ["vectors", "train", str(text), str(tmp_path / "v2")])
    assert result.exit_code == 2 and "--output" in result.output
