"""Significance of F1 differences between two sets of runs, and k-fold splits.

Giorgi & Bader (2019) compare methods with a two-tailed t-test over repeated
runs (5 folds in-corpus, 3 repeats out-of-corpus). `compare` uses the paired
test (`scipy.stats.ttest_rel`) when the two sets of runs are paired, i.e. each
run of A has a run of B with the same corpus, seed and fold (so both saw the
same data split and initialization), and Welch's unequal-variance test
(`scipy.stats.ttest_ind(equal_var=False)`) otherwise. Runs on several corpora
are pooled; the result says so, and pairs them corpus by corpus.
"""
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, Hashable, List, Mapping, Optional, Sequence, Tuple, Union

from .evaluate import read_metrics

RunLike = Union[str, Path, Mapping[str, Any], float]
PAIR_KEYS = ("corpus", "seed", "fold")


@dataclass
class Comparison:
    """The outcome of `compare`. Differences are A − B."""

    mean_a: float
    mean_b: float
    mean_diff: float
    p_value: float
    statistic: float
    test: str  # "paired" (ttest_rel) or "welch" (ttest_ind, equal_var=False)
    n_a: int
    n_b: int
    corpora: List[str] = field(default_factory=list)  # the corpora of the runs, both sides
    test_reason: str = ""

    @property
    def pooled(self) -> bool:
        """Whether runs on more than one corpus were pooled."""
        return len(self.corpora) > 1

    def to_dict(self) -> Dict[str, Any]:
        return {**asdict(self), "pooled": self.pooled}


def get_f1(metrics: Mapping[str, Any], key: str = "ents_f") -> float:
    """The F1 of one run's metrics: our evaluation JSON and `spacy evaluate`
    output have it at the top level, a pipeline's `meta.json` under
    `performance`, and the grid's metrics files as `in_corpus.f1` (which
    `ents_f` falls back to). A dotted key such as "out_of_corpus.S800.f1"
    reads a nested value.

    metrics (Mapping[str, Any]): The parsed metrics.
    key (str): The score key.
    RETURNS (float): The value.
    """
    if "." in key:
        value: Any = metrics
        for part in key.split("."):
            if not isinstance(value, Mapping) or part not in value:
                raise KeyError(f"No {key!r} in metrics (keys: {sorted(metrics)})")
            value = value[part]
        return float(value)
    for container in (metrics, metrics.get("performance", {})):
        if isinstance(container, Mapping) and container.get(key) is not None:
            return float(container[key])
    if key == "ents_f" and isinstance(metrics.get("in_corpus"), Mapping):
        return float(metrics["in_corpus"]["f1"])
    raise KeyError(f"No {key!r} in metrics (keys: {sorted(metrics)})")


def run_corpus(metrics: Mapping[str, Any]) -> Optional[str]:
    """The corpus a run was scored on: `corpus` (grid metrics files, or our
    `meta` block), else the `meta.data` file `spacy-bioner evaluate` records.

    metrics (Mapping[str, Any]): The parsed metrics.
    RETURNS (Optional[str]): The corpus, or None where the run does not say.
    """
    meta = metrics.get("meta", {}) or {}
    for value in (metrics.get("corpus"), meta.get("corpus"), meta.get("data")):
        if value is not None:
            return str(value)
    return None


def _pair_id(metrics: Mapping[str, Any]) -> Optional[Tuple[Any, ...]]:
    # Corpus/seed/fold are looked up at the top level and in our `meta` block.
    sources = (metrics, metrics.get("meta", {}) or {})
    values = tuple(next((s[k] for s in sources if k in s), None) for k in PAIR_KEYS[1:])
    if all(v is None for v in values):
        return None
    return (run_corpus(metrics),) + values


def _load(run: RunLike, key: str) -> Tuple[float, Optional[Tuple[Any, ...]], Optional[str]]:
    if isinstance(run, (int, float)):
        return float(run), None, None
    metrics = read_metrics(run) if isinstance(run, (str, Path)) else run
    return get_f1(metrics, key), _pair_id(metrics), run_corpus(metrics)


def compare(
    results_a: Sequence[RunLike],
    results_b: Sequence[RunLike],
    *,
    key: str = "ents_f",
    paired: Optional[bool] = None,
) -> Comparison:
    """Mean F1 difference of two sets of runs and its two-tailed t-test p-value.

    results_a (Sequence[RunLike]): Runs of method A: metrics JSON paths,
        parsed metrics dicts, or plain F1 values.
    results_b (Sequence[RunLike]): Runs of method B, likewise.
    key (str): The score compared (e.g. "ents_f").
    paired (Optional[bool]): Force the paired (True) or Welch (False) test. By
        default runs are paired when every run on both sides carries a
        seed/fold and both sides have the same set of (corpus, seed, fold);
        plain numbers are never paired implicitly.
    RETURNS (Comparison): Means, A − B, p-value, statistic, the test used and
        why, and the corpora of the runs (`pooled` when more than one).
    """
    from scipy import stats

    if len(results_a) < 2 or len(results_b) < 2:
        raise ValueError(f"A t-test needs at least 2 runs per side, got {len(results_a)} and {len(results_b)}.")
    a = [_load(run, key) for run in results_a]
    b = [_load(run, key) for run in results_b]
    ids_a = [pid for _, pid, _ in a]
    ids_b = [pid for _, pid, _ in b]
    corpora = sorted({c for _, _, c in a + b if c is not None})
    can_pair = (
        None not in ids_a
        and None not in ids_b
        and len(set(ids_a)) == len(ids_a)
        and set(ids_a) == set(ids_b)
    )
    if paired is None:
        paired = can_pair
        if can_pair:
            reason = "every run of A has the run of B with the same corpus, seed and fold"
        elif None in ids_a or None in ids_b:
            reason = "some runs carry no seed or fold to pair them by"
        else:
            reason = "the runs of A and B do not have the same (corpus, seed, fold) sets"
    else:
        reason = "forced"
    if paired:
        if len(a) != len(b):
            raise ValueError(f"Paired runs need equal counts, got {len(a)} and {len(b)}.")
        if can_pair:  # line the runs up by seed/fold, not by argument order
            by_id = {pid: f1 for f1, pid, _ in b}
            values_a = [f1 for f1, _, _ in a]
            values_b = [by_id[pid] for _, pid, _ in a]
        else:
            values_a, values_b = [f1 for f1, _, _ in a], [f1 for f1, _, _ in b]
        result = stats.ttest_rel(values_a, values_b)
    else:
        values_a, values_b = [f1 for f1, _, _ in a], [f1 for f1, _, _ in b]
        result = stats.ttest_ind(values_a, values_b, equal_var=False)
    mean_a = sum(values_a) / len(values_a)
    mean_b = sum(values_b) / len(values_b)
    return Comparison(
        mean_a=mean_a,
        mean_b=mean_b,
        mean_diff=mean_a - mean_b,
        p_value=float(result.pvalue),
        statistic=float(result.statistic),
        test="paired" if paired else "welch",
        n_a=len(values_a),
        n_b=len(values_b),
        corpora=corpora,
        test_reason=reason,
    )


def kfold_splits(
    n_items: int,
    k: int = 5,
    seed: int = 0,
    *,
    groups: Optional[Sequence[Hashable]] = None,
) -> List[Tuple[List[int], List[int]]]:
    """Shuffled k-fold cross-validation splits of item indices.

    With `groups` (e.g. the document id of every sentence), all items of a
    group fall in the same fold, so sentences of one abstract never sit on
    both sides of a split; whole groups are dealt to folds largest first, each
    to the currently smallest fold, which keeps fold sizes close.

    n_items (int): Number of items (sentences or docs).
    k (int): Number of folds, 2 ≤ k ≤ number of items (or groups).
    seed (int): Seed of the shuffle; the same seed gives the same splits.
    groups (Optional[Sequence[Hashable]]): Group id per item, or None.
    RETURNS (List[Tuple[List[int], List[int]]]): k (train, test) index lists,
        each sorted; the test lists partition range(n_items).
    """
    if groups is not None and len(groups) != n_items:
        raise ValueError(f"Got {len(groups)} group ids for {n_items} items.")
    if groups is None:
        groups = list(range(n_items))
    members: Dict[Hashable, List[int]] = {}
    for index, group in enumerate(groups):
        members.setdefault(group, []).append(index)
    if not 2 <= k <= len(members):
        raise ValueError(f"Need 2 <= k <= {len(members)} (number of items or groups), got k={k}.")
    order = list(members)
    random.Random(seed).shuffle(order)
    # Stable sort by size after the shuffle: ties keep the seeded order.
    order.sort(key=lambda g: len(members[g]), reverse=True)
    folds: List[List[int]] = [[] for _ in range(k)]
    for group in order:
        smallest = min(range(k), key=lambda i: len(folds[i]))
        folds[smallest].extend(members[group])
    splits = []
    for i in range(k):
        test = sorted(folds[i])
        train = sorted(index for j in range(k) if j != i for index in folds[j])
        splits.append((train, test))
    return splits
