"""Every gold corpus in the shared folder converts with the counts in its manifest."""
import json
from collections import Counter

import pytest
from spacy.vocab import Vocab

from spacy_bioner.corpora.conll import read_conll
from spacy_bioner.corpora.labels import harmonize, load_label_map


@pytest.mark.corpora
def test_every_gold_corpus_matches_manifest(shared_corpora):
    manifest = json.loads((shared_corpora / "manifest.json").read_text(encoding="utf8"))
    label_map = load_label_map()
    checked = 0
    for name, corpus in manifest["corpora"].items():
        for split, expected in corpus["splits"].items():
            path = shared_corpora / expected["path"]
            vocab = Vocab()
            docs, report = read_conll(path, vocab, scheme="iob2", per="document")
            got = (report.sentences, report.tokens, report.entities)
            assert got == (expected["sentences"], expected["tokens"], expected["mentions"]), path
            by_type = Counter(e.label_ for d in docs for e in d.ents)
            assert by_type == Counter(expected["mentions_by_type"]), path
            assert len(docs) == max(expected["docstart_lines"], 1), path
            # Harmonized: exactly the mentions of mapped types survive.
            mapped = sum(n for t, n in expected["mentions_by_type"].items() if harmonize(t, label_map))
            _, mapped_report = read_conll(path, vocab, scheme="iob2", label_map=label_map)
            assert mapped_report.entities == mapped, path
            assert mapped_report.sentences == expected["sentences"], path
            checked += 1
    assert checked == sum(len(c["splits"]) for c in manifest["corpora"].values()) >= 60
