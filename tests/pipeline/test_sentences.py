"""The biomedical sentence splitter, and species names kept whole from raw
text to entities through nlp(), nlp.pipe, annotate and evaluate."""
import json

import pytest
import spacy
from spacy.tokens import Doc

from spacy_bioner.evaluation.evaluate import evaluate_pipeline
from spacy_bioner.evaluation.raw_text import count_cuts, detokenize, raw_text_docs

from .conftest import char_offsets, make_examples, tiny_nlp, train


@pytest.fixture(scope="module")
def splitter():
    nlp = spacy.blank("en")
    nlp.add_pipe("bio_sentencizer")
    return nlp


def sentences(nlp, text):
    return [s.text for s in nlp(text).sents]


@pytest.mark.parametrize(
    "text",
    [
        "Growth of E. coli was slow in all strains tested.",
        "Growth of E . coli and P . entomophila was slow .",
        "S. cerevisiae cells (Fig. 2) were grown as in Smith et al. 2001.",
        "Approx. 5 Bacillus spp. and Streptomyces sp. were found, i.e. many.",
        "Paraclausilocola constricta n. gen., n. sp., a ciliate.",
        "The fragment of 3.5 kb was cloned, cf. Table 1.",
    ],
)
def test_abbreviations_and_initials_do_not_end_sentences(splitter, text):
    assert sentences(splitter, text) == [text]


def test_sentences_still_split(splitter):
    text = "Mice were infected. Cells died! Why? (Not shown.) \"Quoted.\" 5 rats survived. E. coli grew."
    assert sentences(splitter, text) == [
        "Mice were infected.",
        "Cells died!",
        "Why?",
        "(Not shown.)",
        "\"Quoted.\"",
        "5 rats survived.",
        "E. coli grew.",
    ]


def test_line_breaks_end_titles(splitter):
    text = "Ulcerative colitis in mice\nTreatment with aspirin helped.\nthe end"
    assert sentences(splitter, text) == ["Ulcerative colitis in mice\n", "Treatment with aspirin helped.\nthe end"]


def test_overwrite_false_keeps_given_segments(splitter):
    doc = Doc(splitter.vocab, words=["A", ".", "B", "C", ".", "D"], sent_starts=[True, False, False, True, False, False])
    assert [s.text for s in splitter(doc).sents] == ["A . B", "C . D"]


def test_extra_abbreviations_from_config():
    nlp = spacy.blank("en")
    nlp.add_pipe("bio_sentencizer", config={"extra_abbreviations": ["Suppl."]})
    assert len(list(nlp("See Suppl. Data for details.").sents)) == 1


def test_detokenize_rebuilds_raw_spacing():
    words = "Growth of E . coli ( strain K - 12 ) was 2 . 5 - fold higher , see PU . 1 .".split()
    text = "".join(w + (" " if s else "") for w, s in zip(words, detokenize(words)))
    assert text == "Growth of E. coli (strain K-12) was 2.5-fold higher, see PU.1."


def test_count_cuts_finds_mentions_split_by_the_sentencizer():
    nlp = spacy.blank("en")
    gold = Doc(nlp.vocab, words="Growth of E . coli was slow .".split(), ents=["O", "O", "B-Species", "I-Species", "I-Species", "O", "O", "O"])
    plain = spacy.blank("en")
    plain.add_pipe("sentencizer")
    bio = spacy.blank("en")
    bio.add_pipe("bio_sentencizer")
    assert count_cuts([gold], plain).cut == 1
    assert count_cuts([gold], bio).cut == 0
    raw = next(raw_text_docs([gold]))
    assert raw.text == "Growth of E. coli was slow."
    assert [e.text for e in raw.ents] == ["E. coli"]
    assert count_cuts([raw], plain).cut == 0  # spaCy keeps "E." as one token


SPECIES = [
    ("Growth of E . coli was slow in rich medium .", [("E . coli", "Species")]),
    ("We infected D . melanogaster with P . entomophila .", [("D . melanogaster", "Species"), ("P . entomophila", "Species")]),
    ("Yeast strains of S . cerevisiae were grown overnight .", [("S . cerevisiae", "Species")]),
    ("The mice were kept at room temperature .", []),
    ("Cultures of B . subtilis and E . coli were mixed .", [("B . subtilis", "Species"), ("E . coli", "Species")]),
    ("Human cells were transfected with the plasmid .", [("Human", "Species")]),
]
TEXT = "Growth of E . coli was slow . We infected D . melanogaster with P . entomophila ."


@pytest.fixture(scope="module")
def species_nlp():
    nlp = tiny_nlp()
    nlp.add_pipe("bio_sentencizer", first=True)
    return train(nlp, make_examples(nlp, SPECIES), steps=120)


def test_species_kept_whole_by_nlp_and_pipe(species_nlp):
    expected = {"E . coli", "D . melanogaster", "P . entomophila"}
    assert {e.text for e in species_nlp(TEXT).ents} == expected
    docs = list(species_nlp.pipe([TEXT, TEXT], batch_size=1))
    assert all({e.text for e in doc.ents} == expected for doc in docs)


def test_species_kept_whole_by_annotate(species_nlp, tmp_path):
    from spacy_bioner.bulk import annotate

    model = tmp_path / "model"
    species_nlp.to_disk(model)
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"id": "a", "text": TEXT}) + "\n", encoding="utf8")
    out = tmp_path / "out.jsonl"
    annotate(spacy.load(model), [source], out, progress=False)
    record = json.loads(out.read_text(encoding="utf8").splitlines()[0])
    found = {TEXT[e["start"]:e["end"]] for e in record["entities"]}
    assert found == {"E . coli", "D . melanogaster", "P . entomophila"}


def test_evaluate_keeps_gold_segments_and_equals_dev_score(species_nlp, tmp_path):
    """`evaluate` scores the reader's segments, exactly as `spacy train`
    scores dev, even when the pipeline's splitter would split differently."""
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")  # a splitter that would cut "E . coli"
    source = species_nlp.get_pipe("bilstm_crf_ner")
    nlp.add_pipe("bilstm_crf_ner", source=species_nlp)
    assert source is not None
    path = tmp_path / "dev.tsv"
    lines = []
    for text, ents in SPECIES:
        doc = Doc(nlp.vocab, words=text.split())
        doc.ents = [doc.char_span(s, e, label=label) for s, e, label in char_offsets(text, ents)]
        lines += [f"{t.text}\t{t.ent_iob_}-{t.ent_type_}" if t.ent_type_ else f"{t.text}\tO" for t in doc] + [""]
    path.write_text("\n".join(lines) + "\n", encoding="utf8")
    from spacy.util import registry

    examples = list(registry.readers.get("spacy-bioner.TsvCorpus.v1")(path=str(path))(nlp))
    dev = nlp.evaluate(examples)["ents_f"]
    result = evaluate_pipeline(nlp, path)
    assert result.f == pytest.approx(dev)
    assert result.f == 1.0


def test_mixed_type_corpus_scores_model_types_by_default(trained_nlp):
    """A model of Gene and Disease on data that also annotates Chemical:
    the Chemical mentions are not counted as misses unless asked for."""
    text = "Mutations in BRCA1 cause hereditary breast cancer treated with tamoxifen ."
    doc = Doc(trained_nlp.vocab, words=text.split())
    doc.ents = [doc.char_span(s, e, label=l) for s, e, l in char_offsets(
        text, [("BRCA1", "Gene"), ("hereditary breast cancer", "Disease"), ("tamoxifen", "Chemical")])]
    default = evaluate_pipeline(trained_nlp, [doc])
    assert default.scored_labels == ["Disease", "Gene"]
    assert default.primary.micro.fn == 0 and default.f == 1.0
    everything = evaluate_pipeline(trained_nlp, [doc], labels=["*"])
    assert everything.scored_labels is None
    assert everything.primary.micro.fn == 1


def test_replace_plain_sentencizer_keeps_names_whole():
    from spacy_bioner.pipeline.sentences import replace_plain_sentencizer

    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer", config={"overwrite": False})
    text = "Growth of E . coli was slow . Cells died ."
    assert [s.text for s in nlp(text).sents][0] == "Growth of E ."  # cut inside the name
    assert replace_plain_sentencizer(nlp) == ["sentencizer"]
    assert nlp.get_pipe_meta("sentencizer").factory == "bio_sentencizer"
    assert [s.text for s in nlp(text).sents] == ["Growth of E . coli was slow .", "Cells died ."]
    assert replace_plain_sentencizer(nlp) == []
