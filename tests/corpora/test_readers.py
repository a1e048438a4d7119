import random

import pytest
import spacy
from spacy.tokens import DocBin
from spacy.training import Example
from thinc.api import Config

from spacy_bioner.corpora.conll import read_conll
from spacy_bioner.training.readers import TsvCorpus, create_tsv_corpus

CONFIG = """
[paths]
train = null

[corpora]

[corpora.train]
@readers = "spacy-bioner.TsvCorpus.v1"
path = ${paths.train}
label_map = "default"
keep_labels = ["Chemical", "Disease", "Gene"]
"""


def test_registered_reader_resolves_from_config(fixtures, nlp):
    config = Config().from_str(CONFIG, overrides={"paths.train": str(fixtures / "iob2.tsv")})
    corpus = spacy.registry.resolve(config)["corpora"]["train"]
    assert isinstance(corpus, TsvCorpus)
    examples = list(corpus(nlp))
    assert len(examples) == 3 and all(isinstance(eg, Example) for eg in examples)
    eg = examples[0]
    assert eg.reference.vocab is nlp.vocab
    assert [e.label_ for e in eg.reference.ents] == ["Gene"]  # cell_type dropped
    assert [t.text for t in eg.predicted] == [t.text for t in eg.reference]
    assert not eg.predicted.ents
    assert eg.get_aligned_ner() == ["B-Gene", "L-Gene", "O", "O", "O", "O", "O"]
    assert corpus.report.counts["unmapped_label"] == 2


def test_registry_finds_reader_by_name():
    assert spacy.registry.readers.get("spacy-bioner.TsvCorpus.v1") is create_tsv_corpus


def test_predicted_doc_keeps_sentence_starts(fixtures, nlp):
    corpus = TsvCorpus(fixtures / "iob2.tsv", per="document")
    eg = next(iter(corpus(nlp)))
    assert [s.text for s in eg.predicted.sents] == [s.text for s in eg.reference.sents]
    assert len(list(eg.predicted.sents)) == 2


def test_limit_shuffle_and_folder(fixtures, nlp, tmp_path):
    for name in ["iob2.tsv", "iobes.tsv"]:
        (tmp_path / name).write_bytes((fixtures / name).read_bytes())
    corpus = TsvCorpus(tmp_path)
    assert len(list(corpus(nlp))) == 5
    assert len(list(TsvCorpus(tmp_path, limit=2)(nlp))) == 2
    random.seed(1)
    shuffled = [eg.reference.text for eg in TsvCorpus(tmp_path, shuffle=True)(nlp)]
    assert sorted(shuffled) == sorted(eg.reference.text for eg in corpus(nlp))
    assert shuffled != [eg.reference.text for eg in corpus(nlp)]


def test_docbin_input_is_relabelled(fixtures, nlp, tmp_path):
    docs, _ = read_conll(fixtures / "iob2.tsv", nlp.vocab)
    DocBin(docs=docs, store_user_data=True).to_disk(tmp_path / "train.spacy")
    corpus = TsvCorpus(tmp_path / "train.spacy", label_map="default")
    labels = [[e.label_ for e in eg.reference.ents] for eg in corpus(nlp)]
    assert labels == [["Gene"], ["Gene"], ["Chemical", "Disease"]]
    assert corpus.report.counts["unmapped_label"] == 2


def test_bad_arguments(fixtures, tmp_path):
    with pytest.raises(ValueError, match="scheme"):
        TsvCorpus(fixtures / "iob2.tsv", scheme="bio")
    with pytest.raises(ValueError, match="per"):
        TsvCorpus(fixtures / "iob2.tsv", per="paragraph")
    with pytest.raises(ValueError, match="does not exist"):
        list(TsvCorpus(tmp_path / "missing.tsv")(spacy.blank("en")))


@pytest.mark.parametrize("with_sentences", [True, False])
def test_make_example_copies_words_spaces_and_sentences_only(nlp, with_sentences):
    from spacy.tokens import Doc, Span

    from spacy_bioner.training.readers import make_example

    words = ["Müller", "'s", "  ", "IL-2", "deficiency", ".", "It", "recurs", "."]
    spaces = [False, True, False, True, False, True, True, False, False]
    sent_starts = [True, False, False, False, False, False, True, False, False] if with_sentences else None
    gold = Doc(nlp.vocab, words=words, spaces=spaces, sent_starts=sent_starts)
    gold.ents = [Span(gold, 3, 5, label="Disease")]
    predicted = make_example(gold).predicted
    assert [t.text for t in predicted] == words and predicted.text == gold.text
    assert [t.is_sent_start for t in predicted] == [t.is_sent_start for t in gold]
    assert predicted.has_annotation("SENT_START") == with_sentences
    assert not predicted.ents and not predicted.has_annotation("ENT_IOB")
