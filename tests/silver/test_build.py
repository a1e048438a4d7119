"""Silver corpus from an ensemble of taggers: votes, agreement, blacklists,
leave-one-corpus-out, shards and the report."""
import json

import pytest
import spacy
from spacy.tokens import DocBin

from spacy_bioner.silver.blacklists import load_entity_blacklist, load_pmid_blacklist
from spacy_bioner.silver.build import SilverReport, Tagger, build_silver, write_silver

DOCS = [
    {"id": "a", "pmid": "1", "text": "Aspirin treats familial gastric cancer in mice. Insulin was given."},
    {"id": "b", "pmid": "2", "text": "This abstract is part of a gold corpus and must be dropped."},
    {"id": "c", "medline_uid": "95363073", "text": "So is this one, keyed by its MEDLINE UID."},
    {"id": "d", "text": "Gastric cancer was seen in E. coli infected mice."},
]


def ruler(tmp_path, name, patterns):
    nlp = spacy.blank("en")
    nlp.add_pipe("entity_ruler").add_patterns(patterns)
    path = tmp_path / name
    nlp.to_disk(path)
    return str(path)


def phrase(label, text):
    return {"label": label, "pattern": [{"LOWER": w.lower()} for w in text.split()]}


@pytest.fixture
def taggers(tmp_path):
    # Two disease taggers that disagree on the left boundary, one chemical
    # tagger and a species tagger that uses a corpus label (LIVB).
    d1 = ruler(tmp_path, "d1", [phrase("Disease", "familial gastric cancer"), phrase("Disease", "gastric cancer")])
    d2 = ruler(tmp_path, "d2", [phrase("DISO", "gastric cancer"), phrase("Disease", "insulin")])
    c1 = ruler(tmp_path, "c1", [phrase("Chemical", "aspirin"), phrase("Chemical", "insulin")])
    s1 = ruler(tmp_path, "s1", [phrase("LIVB", "mice"), phrase("LIVB", "E. coli")])
    return [
        Tagger.parse(f"Disease:NCBI-disease={d1}"),
        Tagger.parse(f"Disease:BC5CDR-disease={d2}"),
        Tagger.parse(f"Chemical:BC5CDR-chem={c1}"),
        Tagger.parse(f"Species:Linnaeus={s1}"),
    ]


def ents(docs):
    return {d.user_data["id"]: [(e.text, e.label_) for e in d.ents] for d in docs}


def test_votes_exact_and_right_agreement(taggers):
    report = SilverReport()
    docs = list(build_silver(DOCS, taggers, k=2, agreement="exact", pmid_blacklist={"2", "95363073"},
                             per="document", report=report))
    # Only "gastric cancer" (doc d) has two exact disease votes; in doc a the
    # taggers disagree on the left boundary. Single-tagger classes get no k=2.
    assert ents(docs) == {"a": [], "d": [("Gastric cancer", "Disease")]}
    assert report.docs_read == 4 and report.docs_dropped_pmid == 2 and report.docs_written == 2
    right = list(build_silver(DOCS, taggers, k=2, agreement="right", pmid_blacklist={"2", "95363073"}, per="document"))
    # Right-boundary agreement keeps a: one vote each for two spans; the
    # tie goes to the longer one.
    assert ents(right)["a"] == [("familial gastric cancer", "Disease")]


def test_k1_with_overlaps_and_entity_blacklist(taggers, tmp_path):
    blacklist = tmp_path / "bl.txt"
    blacklist.write_text("Insulin\tB-CHED\nMice\tB-LIVB\n")
    report = SilverReport()
    docs = list(build_silver(DOCS[:1], taggers, k=1, entity_blacklist=load_entity_blacklist([blacklist]),
                             per="document", report=report))
    # "insulin": Disease (1 vote) and Chemical (1 vote) overlap -> one kept
    # by the longest/earliest rule; the Chemical one is then blacklisted if chosen.
    got = ents(docs)["a"]
    assert ("Aspirin", "Chemical") in got
    assert not any(text == "mice" for text, _ in got)  # blacklisted single token
    assert report.dropped_blacklist["Species"] == 1
    assert report.dropped_overlap["Disease"] + report.dropped_overlap["Chemical"] >= 1
    data = report.to_dict()
    assert data["documents"]["written"] == 1 and data["mentions"]["Chemical"]["proposed"] == 2
    assert "| Disease |" in report.to_markdown()


def test_leave_one_corpus_out(taggers):
    with pytest.raises(ValueError, match="trained on a left-out corpus"):
        list(build_silver(DOCS, taggers, leave_out=["Linnaeus"]))
    anonymous = [Tagger.parse(taggers[0].path)]
    with pytest.raises(ValueError, match="do not say which corpus"):
        list(build_silver(DOCS, anonymous, leave_out=["S800"]))
    kept = [t for t in taggers if t.trained_on != "Linnaeus"]
    assert list(build_silver(DOCS, kept, leave_out=["Linnaeus"], k=1))


def test_sentence_docs_and_shards(taggers, tmp_path):
    docs = build_silver(DOCS, taggers, k=1, pmid_blacklist={"2", "95363073"}, per="sentence")
    shards = write_silver(docs, tmp_path / "silver", shard_size=2)
    assert [p.name for p in shards] == ["silver-00000.spacy", "silver-00001.spacy"]
    nlp = spacy.blank("en")
    read = [d for p in shards for d in DocBin().from_disk(p).get_docs(nlp.vocab)]
    assert [d.user_data["id"] for d in read] == ["a:s0", "a:s1", "d:s0"]
    assert read[0].has_annotation("SENT_START") and read[0].ents
    with pytest.raises(ValueError, match="not empty"):
        write_silver([], tmp_path / "silver")


def test_pmid_blacklist_from_folder(tmp_path):
    (tmp_path / "a_pmids_blacklist.txt").write_text("1\n2\n\n")
    (tmp_path / "b_pmids_blacklist.txt").write_text("3\n")
    assert load_pmid_blacklist([tmp_path]) == {"1", "2", "3"}


def test_real_blacklists(corpora_dir):
    words = load_entity_blacklist([corpora_dir / "blacklists" / "entity_blacklists",
                                   corpora_dir / "blacklists" / "calbc_entity_blacklists_2018"])
    assert set(words) == {"Chemical", "Disease", "Species", "Gene"}
    assert "insulin" in words["Disease"]
    assert len(load_pmid_blacklist([corpora_dir / "blacklists" / "pmid_blacklists"])) > 10000


def test_pool_excludes_left_out_taggers_and_caps_k(taggers):
    report = SilverReport()
    docs = list(build_silver(DOCS, taggers, k=2, cap_k=True, leave_out=["BC5CDR-disease", "S800"],
                             exclude_left_out=True, pmid_blacklist={"2", "95363073"}, per="document", report=report))
    assert [t["trained_on"] for t in report.excluded_taggers] == ["BC5CDR-disease"]
    assert "BC5CDR-disease" not in {t["trained_on"] for t in report.taggers}
    # Every class is left with one tagger, so k=2 is capped at 1 and the
    # single votes are kept (without the cap no mention would survive).
    assert set(report.k_per_class.values()) == {1}
    assert ("Aspirin", "Chemical") in ents(docs)["a"]
    assert "Left out (trained on a left-out corpus): Disease:BC5CDR-disease." in report.to_markdown()
    uncapped = list(build_silver(DOCS, taggers, k=2, leave_out=["BC5CDR-disease"], exclude_left_out=True,
                                 per="document"))
    assert all(not d.ents for d in uncapped)


def test_votes_cache_reuses_annotations(taggers, tmp_path, monkeypatch):
    import spacy_bioner.silver.build as build

    first = list(build_silver(DOCS, taggers, k=1, votes_dir=tmp_path / "votes", per="document"))
    files = sorted(p.name for p in (tmp_path / "votes").iterdir())
    assert len(files) == 4 and all(f.endswith(".jsonl") for f in files)  # complete, no .part left

    def no_load(path):
        raise AssertionError(f"{path} was loaded although its votes are cached")

    monkeypatch.setattr(build.spacy, "load", no_load)
    again = list(build_silver(DOCS, taggers, k=1, votes_dir=tmp_path / "votes", per="document"))
    assert ents(again) == ents(first)
    # Other documents than the cache was made from: a clear error, not silent misalignment.
    with pytest.raises(ValueError, match="votes cache holds document 'b'"):
        list(build_silver(DOCS[:1] + DOCS[2:], taggers, k=1, votes_dir=tmp_path / "votes", per="document"))


def test_interrupted_build_leaves_no_complete_looking_cache(taggers, tmp_path):
    def documents():
        yield DOCS[0]
        raise RuntimeError("reader broke")

    with pytest.raises(RuntimeError):
        list(build_silver(documents(), taggers[:1], k=1, votes_dir=tmp_path / "votes", batch_size=1))
    names = [p.name for p in (tmp_path / "votes").iterdir()]
    assert names and all(n.endswith(".part") for n in names)


def test_a_tagger_without_a_class_counts_only_for_the_classes_it_predicts(taggers, tmp_path):
    # A chemical+gene tagger named without a class must not raise the votes a
    # lone disease tagger's mentions need (it never votes for diseases).
    both = ruler(tmp_path, "cg", [phrase("Simple_chemical", "aspirin"), phrase("Gene_or_gene_product", "insulin")])
    pool = [taggers[0], Tagger.parse(f":BioNLP13PC={both}")]
    assert pool[1].classes({"Simple_chemical": "Chemical", "Gene_or_gene_product": "Gene"}) == {"Chemical", "Gene"}
    report = SilverReport()
    docs = list(build_silver(DOCS[:1], pool, k=2, cap_k=True, per="document", report=report))
    assert report.k_per_class == {"Disease": 1, "Chemical": 1, "Gene": 1}
    assert ("familial gastric cancer", "Disease") in ents(docs)["a"]
    assert "| *:BioNLP13PC | Chemical, Gene | BioNLP13PC |" in report.to_markdown()
