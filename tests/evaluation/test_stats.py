import math

import pytest
import srsly

from spacy_bioner.evaluation.stats import compare, get_f1, kfold_splits


def test_paired_t_test_hand_computed():
    # d = a - b = (-1, -2, -4): mean -7/3, sd sqrt(7/3), t = -sqrt(7), df = 2.
    # For df = 2, P(|T| > t) = 1 - t / sqrt(t^2 + 2) = 1 - sqrt(7)/3.
    a = [{"ents_f": v, "seed": s} for v, s in zip((1.0, 2.0, 3.0), (0, 1, 2))]
    b = [{"ents_f": v, "seed": s} for v, s in zip((2.0, 4.0, 7.0), (0, 1, 2))]
    result = compare(a, b)
    assert result.test == "paired"
    assert result.mean_diff == pytest.approx(-7 / 3)
    assert result.statistic == pytest.approx(-math.sqrt(7))
    assert result.p_value == pytest.approx(1 - math.sqrt(7) / 3)


def test_pairing_follows_seeds_not_argument_order():
    a = [{"ents_f": v, "seed": s} for v, s in zip((1.0, 2.0, 3.0), (0, 1, 2))]
    b = [{"ents_f": v, "seed": s} for v, s in zip((7.0, 2.0, 4.0), (2, 0, 1))]
    assert compare(a, b).p_value == pytest.approx(1 - math.sqrt(7) / 3)


def test_welch_t_test_hand_computed():
    # Means 2 and 5, variances 1 and 1, n = 3: t = -3 / sqrt(2/3), df = 4.
    # For df = 4, P(|T| < t) = s (3 - s^2) / 2 with s = t / sqrt(t^2 + 4).
    result = compare([1.0, 2.0, 3.0], [4.0, 5.0, 6.0])
    t = 3 / math.sqrt(2 / 3)
    s = t / math.sqrt(t * t + 4)
    assert result.test == "welch"
    assert result.mean_diff == pytest.approx(-3.0)
    assert result.p_value == pytest.approx(1 - s * (3 - s * s) / 2)
    # Plain numbers are not paired unless asked; forcing it gives the paired test.
    assert compare([1.0, 2.0, 3.0], [2.0, 4.0, 7.0]).test == "welch"
    forced = compare([1.0, 2.0, 3.0], [2.0, 4.0, 7.0], paired=True)
    assert forced.test == "paired" and forced.p_value == pytest.approx(1 - math.sqrt(7) / 3)


def test_unmatched_seeds_fall_back_to_welch():
    a = [{"ents_f": v, "seed": s} for v, s in zip((1.0, 2.0, 3.0), (0, 1, 2))]
    b = [{"ents_f": v, "seed": s} for v, s in zip((4.0, 5.0, 6.0), (3, 4, 5))]
    assert compare(a, b).test == "welch"


def test_reads_metrics_files(tmp_path):
    paths_a, paths_b = [], []
    for fold, (va, vb) in enumerate(((0.8, 0.7), (0.9, 0.75), (0.85, 0.8))):
        srsly.write_json(tmp_path / f"a{fold}.json", {"ents_f": va, "meta": {"fold": fold}})
        # spaCy's meta.json keeps scores under "performance".
        srsly.write_json(tmp_path / f"b{fold}.json", {"performance": {"ents_f": vb}, "fold": fold})
        paths_a.append(tmp_path / f"a{fold}.json")
        paths_b.append(str(tmp_path / f"b{fold}.json"))
    result = compare(paths_a, paths_b)
    assert result.test == "paired" and result.n_a == 3
    assert result.mean_diff == pytest.approx((0.1 + 0.15 + 0.05) / 3)
    assert 0 < result.p_value < 1


def test_errors():
    with pytest.raises(ValueError, match="at least 2 runs"):
        compare([0.5], [0.4, 0.3])
    with pytest.raises(KeyError):
        get_f1({"ents_p": 0.4})


def test_kfold_partitions_and_is_deterministic():
    splits = kfold_splits(23, k=5, seed=3)
    assert len(splits) == 5
    tests = [test for _, test in splits]
    assert sorted(i for t in tests for i in t) == list(range(23))
    assert sorted(len(t) for t in tests) == [4, 4, 5, 5, 5]
    for train, test in splits:
        assert not set(train) & set(test) and len(train) + len(test) == 23
    assert kfold_splits(23, k=5, seed=3) == splits
    assert kfold_splits(23, k=5, seed=4) != splits


def test_kfold_keeps_documents_together():
    doc_ids = ["d1"] * 4 + ["d2"] * 3 + ["d3"] * 3 + ["d4"] * 2 + ["d5"] * 2
    splits = kfold_splits(len(doc_ids), k=3, seed=0, groups=doc_ids)
    for _, test in splits:
        docs_in = {doc_ids[i] for i in test}
        assert all(i in test for i, d in enumerate(doc_ids) if d in docs_in)
    assert sorted(len(t) for _, t in splits) == [4, 5, 5]
    with pytest.raises(ValueError):
        kfold_splits(4, k=5)
    with pytest.raises(ValueError):
        kfold_splits(3, k=2, groups=["a", "b"])


def test_pooled_runs_pair_by_corpus_and_seed():
    # The grid's files: one run per (corpus, seed); seeds repeat across corpora.
    a = [{"in_corpus": {"f1": 0.8 + i / 100}, "corpus": c, "seed": s}
         for i, (c, s) in enumerate((c, s) for c in ("NCBI", "S800") for s in (0, 1, 2))]
    b = [dict(run, in_corpus={"f1": run["in_corpus"]["f1"] - 0.01 * (1 + run["seed"])}) for run in reversed(a)]
    result = compare(a, b)
    assert result.pooled and result.corpora == ["NCBI", "S800"]
    assert result.test == "paired" and "same corpus, seed and fold" in result.test_reason
    assert result.mean_diff == pytest.approx(0.02)
    one = compare(a[:3], b[3:])
    assert not one.pooled and one.corpora == ["NCBI"]
    assert compare([1.0, 2.0], [1.0, 3.0]).test_reason == "some runs carry no seed or fold to pair them by"
