"""Generate `docs/results.md` from the grid's metrics files.

Reads `results/<variant>/<corpus>/seed<k>.json` (written by grid.py) and
reports, per corpus, baseline (BL) vs variational dropout (VD) F1 as
mean ± sample standard deviation over seeds, in-corpus (exact match on the
official test split) and out-of-corpus (right-boundary match, harmonized
types), beside the papers' figures. A cell with no metrics says
"not yet measured" rather than disappearing, so the report shows what is
left to run.

Multi-task variants (MTL, MTL+VD) have one run per (corpus, partner, seed):
their cells in the main tables pool the partners (n = partners × seeds), and
a table by partner follows.
"""
import datetime
import hashlib
import json
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

from .grid import EVAL_PROTOCOL, EVAL_VERSION as CURRENT_EVAL_VERSION

NOT_MEASURED = "not yet measured"

# Giorgi & Bader 2019, in-corpus baseline F1 (5-fold CV, exact match), as
# quoted in DESIGN.md. These are the papers' figures, not ours.
PAPER_IN_CORPUS_BL: Dict[str, float] = {
    "NCBI-disease": 87.01,
    "BC5CDR-chem": 92.82,
    "BC5CDR-disease": 84.49,
    "BC2GM": 81.48,
    "JNLPBA": 80.92,
    "Linnaeus": 89.44,
    "S800": 72.75,
    "CRAFT-species": 96.28,
    "CRAFT-chem": 84.98,
    "CRAFT-ggp": 84.46,
}
# Giorgi & Bader 2019: mean out-of-corpus F1 gain of each method over BL.
PAPER_OUT_OF_CORPUS_GAIN: Dict[str, float] = {
    "vd": 4.62,
    "tl": 6.48,
    "multitask": 8.42,
    "multitask_vd": 10.75,
}
VARIANT_LABELS = {"baseline": "BL", "vd": "VD", "tl": "TL", "multitask": "MTL", "multitask_vd": "MTL+VD"}

DIFFERENCES = [
    "**Word vectors.** The papers used the Wiki-PubMed-PMC word2vec vectors (200-d, about 4 GB). "
    "Unless that file was imported, ours are trained with gensim on the mirror's unlabeled text "
    "(about 3.5 M tokens), or absent: see each run's training command (`--paths.vectors`).",
    "**Corpus versions.** The splits come from the local mirror (`../shared/corpora/README.md`): the "
    "MTL-Bioinformatics-2016 (Crichton et al. 2017) splits; JNLPBA train and all of S800 are derived from "
    "the BaderLab copies; CRAFT is the v2 release (67 articles). Variome is a 10-article release converted "
    "here with our own tokenizer, much smaller than the papers' Variome, so its scores are not comparable.",
    "**Evaluation protocol.** The papers' in-corpus figures are 5-fold cross-validation; ours are the "
    "official test split, mean ± sd over seeds. Out-of-corpus figures are 3 repeats in both.",
    "**Epoch budget.** The papers trained 50 epochs; we stop early on dev F1 (`[training] patience`, "
    "within `max_epochs` from project.yml) and evaluate the best dev checkpoint. Epochs actually run are "
    "in the per-run table.",
    "**Multi-task partners.** Wang et al. and Giorgi & Bader train one model on several corpora at once; "
    "our MTL steps pair each corpus with one partner corpus of its group (two heads), and the third corpus "
    "of the group is the out-of-corpus test set. The in-corpus figure is the corpus's own head on its test split.",
    "**Scoring.** Entity-level micro P/R/F1 with spacy-bioner's scorer (exact for in-corpus; right "
    "boundary and harmonized entity types for out-of-corpus), not the papers' scripts.",
]


@dataclass
class Cell:
    """The F1 values (percent) of one table cell, one per seed."""

    values: List[float]
    version: int = CURRENT_EVAL_VERSION
    seeds: List[Any] = field(default_factory=list)

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> Optional[float]:
        return statistics.fmean(self.values) if self.values else None

    @property
    def sd(self) -> Optional[float]:
        # Sample sd: the seeds are a sample of possible runs.
        return statistics.stdev(self.values) if self.n >= 2 else None

    def format(self) -> str:
        if not self.values:
            return NOT_MEASURED
        # Figures of an older evaluation protocol say so in the cell.
        tag = f", eval v{self.version}" if self.version != CURRENT_EVAL_VERSION else ""
        if self.sd is None:
            return f"{self.mean:.2f} (n=1{tag})"
        return f"{self.mean:.2f} ± {self.sd:.2f} (n={self.n}{tag})"


def load_metrics(results_dir: Path) -> List[Dict[str, Any]]:
    """Read every metrics file under results_dir (sorted, for stable output)."""
    return [json.loads(p.read_text(encoding="utf8")) for p in sorted(results_dir.glob("*/*/seed*.json"))]


def eval_version(m: Dict[str, Any]) -> int:
    """The evaluation version of a metrics record (1 before it was recorded)."""
    return int(m.get("evaluation", {}).get("version", 1))


def _records(metrics: Iterable[Dict[str, Any]]) -> Iterator[Dict[str, Any]]:
    # Every evaluation a metrics file holds: its own and those it superseded.
    for m in metrics:
        yield m
        for old in m.get("superseded", []):
            yield {**old, "variant": m["variant"], "corpus": m["corpus"]}


def collect(
    metrics: Iterable[Dict[str, Any]], version: Optional[int] = None
) -> Tuple[Dict[Tuple[str, str], Cell], Dict[Tuple[str, str, str], Cell]]:
    """Group F1 values into cells, never mixing evaluation versions in a cell:
    each cell holds the newest version measured for it (or `version`).

    RETURNS: ({(variant, corpus): Cell} in-corpus,
              {(variant, train corpus, test corpus): Cell} out-of-corpus).
    """
    by_version: Dict[Tuple[Any, ...], Dict[int, Cell]] = defaultdict(lambda: defaultdict(lambda: Cell([])))
    for m in _records(metrics):
        v = eval_version(m)
        cell = by_version[("in", m["variant"], m["corpus"])][v]
        cell.values.append(100 * m["in_corpus"]["f1"])
        cell.seeds.append(m.get("seed"))
        cell.version = v
        for test, scores in m.get("out_of_corpus", {}).items():
            cell = by_version[("out", m["variant"], m["corpus"], test)][v]
            cell.values.append(100 * scores["f1"])
            cell.seeds.append(m.get("seed"))
            cell.version = v
    inc: Dict[Tuple[str, str], Cell] = {}
    ooc: Dict[Tuple[str, str, str], Cell] = {}
    for key, cells in by_version.items():
        chosen = version if version is not None else max(cells)
        if chosen not in cells:
            continue
        if key[0] == "in":
            inc[key[1:]] = cells[chosen]
        else:
            ooc[key[1:]] = cells[chosen]
    return inc, ooc


def superseded_versions(metrics: Iterable[Dict[str, Any]]) -> List[int]:
    """Evaluation versions older than the newest one found."""
    versions = sorted({eval_version(m) for m in _records(metrics)})
    return versions[:-1]


def _recipe_lines(metrics: Iterable[Dict[str, Any]], configs: Optional[Dict[str, str]] = None) -> List[str]:
    """Which config files (by hash) the runs were trained with; a folder holds
    one recipe (vars.results_dir), so more than one hash is flagged.
    `configs` ({sha256: path} of the project's config files now) says where
    a recorded config's bytes live today when its path has other bytes."""
    counts: Dict[Tuple[str, str], int] = {}
    for m in metrics:
        recipe = m.get("recipe") or {}
        key = (str(recipe.get("config", "?")), str(recipe.get("config_sha256", "?")))
        counts[key] = counts.get(key, 0) + 1
    if not counts:
        return []

    def where_now(config: str, sha: str) -> str:
        now = (configs or {}).get(sha)
        return f", now `{now}`" if now and now != config else ""

    listed = "; ".join(f"`{config}` sha256 {sha[:12]}{where_now(config, sha)} ({n} runs)"
                       for (config, sha), n in sorted(counts.items()))
    by_config: Dict[str, int] = {}
    for config, _ in counts:
        by_config[config] = by_config.get(config, 0) + 1
    warning = (" **More than one hash of one config: these runs were trained with different recipes and do "
               "not belong in one table.**" if any(n > 1 for n in by_config.values()) else "")
    return [f"Recipe (config files the runs were trained with, before their overrides): {listed}.{warning}", ""]


def _vectors_lines(metrics: Iterable[Dict[str, Any]]) -> List[str]:
    """Which word-vector tables the runs were initialized with, by hash.

    Without the large pretrained file, every machine trains its own
    word2vec table (not bit-reproducible), so runs of one recipe can start
    from different tables; older metrics files recorded only the path.
    """
    counts: Dict[str, int] = {}
    for m in metrics:
        recipe = m.get("recipe") or {}
        if not recipe.get("vectors"):
            continue
        sha = recipe.get("vectors_sha256")
        key = f"sha256 {sha[:12]}" if sha else "not recorded"
        counts[key] = counts.get(key, 0) + 1
    if not counts:
        return []
    listed = "; ".join(f"{key} ({n} runs)" for key, n in sorted(counts.items()))
    return [f"Vector tables (the `vectors` step trains word2vec on each machine that lacks the pretrained file, "
            f"so tables differ between machines): {listed}.", ""]


def _delta(a: Cell, b: Cell) -> str:
    if not a.values or not b.values:
        return NOT_MEASURED
    if a.version != b.version:
        return "different evaluations"
    text = f"{b.mean - a.mean:+.2f}"
    p = _p_value(a, b)
    return text if p is None else f"{text} (p={p:.2f})"


def _p_value(a: Cell, b: Cell) -> Optional[float]:
    """Two-tailed t-test of two cells: paired by seed when both have the
    same seeds, else Welch's; None with fewer than 2 runs a side."""
    if a.n < 2 or b.n < 2:
        return None
    from ..evaluation.stats import compare

    paired = None not in a.seeds and sorted(a.seeds) == sorted(b.seeds) and len(set(a.seeds)) == a.n
    if paired:
        by_seed = dict(zip(b.seeds, b.values))
        values_b = [by_seed[seed] for seed in a.seeds]
        result = compare(a.values, values_b, paired=True)
    else:
        result = compare(a.values, b.values, paired=False)
    return None if result.p_value != result.p_value else result.p_value  # NaN: identical runs


def mean_gain(ooc: Dict[Tuple[str, str, str], Cell], pairs: Sequence[Tuple[str, str]], base: str, variant: str) -> Tuple[Optional[float], int]:
    """Mean over corpus pairs of (variant mean F1 - base mean F1), using
    only pairs measured for both. RETURNS (mean gain or None, pairs used)."""
    gains = []
    empty = Cell([])
    for train, test in pairs:
        a, b = ooc.get((base, train, test), empty), ooc.get((variant, train, test), empty)
        if a.values and b.values and a.version == b.version:
            gains.append(b.mean - a.mean)
    return (statistics.fmean(gains) if gains else None), len(gains)


def render_results(
    metrics: List[Dict[str, Any]],
    *,
    groups: Dict[str, List[str]],
    variants: Sequence[str] = ("baseline", "vd"),
    commands: Sequence[str] = (),
    today: Optional[str] = None,
    results_dir: str = "results",
    configs: Optional[Dict[str, str]] = None,
) -> str:
    """Render the report as Markdown.

    metrics (List[Dict[str, Any]]): Loaded metrics files.
    groups (Dict[str, List[str]]): {group: corpora}, the rows of the tables.
    variants (Sequence[str]): The first is the base the others are compared
        with.
    commands (Sequence[str]): The project commands that reproduce the report.
    today (Optional[str]): Date stamp (fixed in tests).
    results_dir (str): The folder the metrics came from, as the report names it.
    configs (Optional[Dict[str, str]]): {sha256: path} of the project's
        config files (`config_files`), to say where the runs' configs are now.
    RETURNS (str): The Markdown text.
    """
    inc, ooc = collect(metrics)
    today = today or datetime.date.today().isoformat()
    out: List[str] = [
        "# Results",
        "",
        f"_Generated by `spacy-bioner results` on {today} from {len(metrics)} metrics file(s) in `{results_dir}/`. "
        "Do not edit by hand: re-run the command._",
        "",
        "F1 in percent, mean ± sample standard deviation over seeds (n = number of seeds measured; an MTL cell of the first two tables pools the runs of both partner corpora, n = runs). "
        "Differences (variant − BL) carry the two-tailed t-test p-value over seeds (paired by seed when "
        "both cells have the same seeds, else Welch's) once both cells have at least 2 runs. "
        f"Cells marked \"{NOT_MEASURED}\" have no metrics file yet. Figures labelled *paper* are "
        "Giorgi & Bader's (2019), quoted for comparison, not measured here.",
        "",
        "Evaluation versions: "
        + "; ".join(f"v{v}: {text}" for v, text in sorted(EVAL_PROTOCOL.items(), reverse=True))
        + f". Cells scored with an older version than v{CURRENT_EVAL_VERSION} say so; a cell never mixes versions.",
        "",
    ]
    out += _recipe_lines(metrics, configs)
    out += _vectors_lines(metrics)
    out += _tables(inc, ooc, groups, variants)
    out += _partner_table(metrics, groups, variants)
    out += _silver_table(metrics, groups)
    for version in superseded_versions(metrics):
        old_inc, old_ooc = collect(metrics, version=version)
        out += ["", f"## Superseded: figures of evaluation v{version}", "",
                f"Kept for comparison; v{version}: {EVAL_PROTOCOL.get(version, 'unknown')}.", ""]
        out += _tables(old_inc, old_ooc, groups, variants, level="###")
    out += ["", "## How these numbers were produced", ""]
    if commands:
        out += ["```bash", *commands, "```", ""]
    train_cmds = {}
    for m in metrics:
        train_cmds.setdefault(m["variant"], m.get("training", {}).get("command"))
    for v, cmd in train_cmds.items():
        if cmd:
            out += [f"Training command of one {VARIANT_LABELS.get(v, v)} run (every run is in its metrics file):", "",
                    "```bash", cmd, "```", ""]
    eval_cmds = next((m.get("evaluation_commands") for m in metrics if m.get("evaluation_commands")), None)
    if eval_cmds:
        out += ["Evaluation commands of that kind of run:", "", "```bash", *eval_cmds, "```", ""]
    machines = sorted({_machine(m) for m in metrics})
    dates = sorted(m.get("date", "")[:10] for m in metrics if m.get("date"))
    commits = sorted({(m.get("git") or {}).get("commit") or "unknown" for m in metrics})
    out += [
        f"- Dates: {dates[0]} to {dates[-1]}" if dates else f"- Dates: {NOT_MEASURED}",
        "- Machines: " + ("; ".join(machines) if machines else NOT_MEASURED),
        "- Git commits: " + (", ".join(c[:12] for c in commits) if metrics else NOT_MEASURED),
        "",
        "## Differences from the papers' setting",
        "",
        *[f"- {d}" for d in DIFFERENCES],
        "",
        "## Runs",
        "",
        "| variant | corpus | seed | in-corpus P / R / F1 | epochs | train wall time | date | commit |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for m in sorted(metrics, key=lambda m: (m["variant"], m["corpus"], m.get("partner") or "", m["seed"])):
        s, t = m["in_corpus"], m.get("training", {})
        wall = t.get("wall_time_s")
        corpus = m["corpus"] if not m.get("partner") else f"{m['corpus']} + {m['partner']}"
        out.append(
            f"| {m['variant']} | {corpus} | {m['seed']} | "
            f"{100 * s['precision']:.2f} / {100 * s['recall']:.2f} / {100 * s['f1']:.2f} | "
            f"{t.get('epochs', '?')} | {f'{wall / 60:.1f} min' if wall is not None else '?'} | "
            f"{m.get('date', '?')[:10]} | {((m.get('git') or {}).get('commit') or '?')[:12]} |"
        )
    if not metrics:
        out.append(f"| {NOT_MEASURED} | | | | | | | |")
    return "\n".join(out) + "\n"


def _tables(
    inc: Dict[Tuple[str, str], Cell],
    ooc: Dict[Tuple[str, str, str], Cell],
    groups: Dict[str, List[str]],
    variants: Sequence[str],
    level: str = "##",
) -> List[str]:
    """The in-corpus, out-of-corpus and mean-gain tables of one set of cells."""
    base = variants[0]
    labels = [VARIANT_LABELS.get(v, v) for v in variants]
    out: List[str] = [
        f"{level} In-corpus (exact match, official test split)",
        "",
        "| group | corpus | paper BL (5-fold CV) | " + " | ".join(f"{lab} (ours)" for lab in labels)
        + "".join(f" | {lab} − {labels[0]}" for lab in labels[1:]) + " |",
        "|---|---|---|" + "---|" * len(labels) + "---|" * (len(labels) - 1),
    ]
    empty = Cell([])
    for group, corpora in groups.items():
        for corpus in corpora:
            paper = PAPER_IN_CORPUS_BL.get(corpus)
            cells = [inc.get((v, corpus), empty) for v in variants]
            row = [group, corpus, f"{paper:.2f}" if paper is not None else "not reported"]
            row += [c.format() for c in cells]
            row += [_delta(cells[0], c) for c in cells[1:]]
            out.append("| " + " | ".join(row) + " |")
    out += [
        "",
        f"{level} Out-of-corpus (train on one corpus, test on another of the same type; right-boundary match, harmonized types)",
        "",
        "| group | train → test | " + " | ".join(f"{lab} (ours)" for lab in labels)
        + "".join(f" | {lab} − {labels[0]}" for lab in labels[1:]) + " |",
        "|---|---|" + "---|" * len(labels) + "---|" * (len(labels) - 1),
    ]
    pairs = [(a, b) for corpora in groups.values() for a in corpora for b in corpora if a != b]
    group_of = {c: g for g, corpora in groups.items() for c in corpora}
    for train, test in pairs:
        cells = [ooc.get((v, train, test), empty) for v in variants]
        row = [group_of[train], f"{train} → {test}"] + [c.format() for c in cells]
        row += [_delta(cells[0], c) for c in cells[1:]]
        out.append("| " + " | ".join(row) + " |")
    out += ["", f"{level}# Mean out-of-corpus gain over the baseline", "",
            "| method | ours (mean over measured pairs) | paper |", "|---|---|---|"]
    for v, lab in zip(variants[1:], labels[1:]):
        gain, n = mean_gain(ooc, pairs, base, v)
        ours = f"{gain:+.2f} ({n} of {len(pairs)} pairs)" if gain is not None else NOT_MEASURED
        paper = PAPER_OUT_OF_CORPUS_GAIN.get(v)
        out.append(f"| {lab} | {ours} | {f'{paper:+.2f}' if paper is not None else 'not reported'} |")
    return out


def _partner_table(metrics: List[Dict[str, Any]], groups: Dict[str, List[str]], variants: Sequence[str]) -> List[str]:
    """Multi-task runs by (corpus, partner): in-corpus F1 and out-of-corpus F1
    on the group's third corpus, each beside the BL cell it is compared with
    (difference and t-test p-value over seeds)."""
    mtl = [v for v in variants if v.startswith("multitask")]
    if not mtl:
        return []
    inc_bl, ooc_bl = collect([m for m in metrics if m["variant"] == variants[0]])
    out = ["", "## Multi-task runs by partner corpus", "",
           "In-corpus: exact match on the corpus's test split. Out-of-corpus: right-boundary match on the "
           "group's corpus that is neither the corpus nor its partner. The tables above pool the partners "
           "of a corpus in one MTL cell (n = runs); here each partner is its own cell (n = seeds).", "",
           f"| variant | corpus + partner | in-corpus F1 | − {VARIANT_LABELS.get(variants[0], variants[0])} "
           f"| out-of-corpus test | out-of-corpus F1 | − {VARIANT_LABELS.get(variants[0], variants[0])} |",
           "|---|---|---|---|---|---|---|"]
    empty = Cell([])
    for v in mtl:
        for corpora in groups.values():
            for corpus in corpora:
                for partner in corpora:
                    if partner == corpus:
                        continue
                    runs = [m for m in metrics if m["variant"] == v and m["corpus"] == corpus and m.get("partner") == partner]
                    inc, ooc = collect(runs)
                    inc_cell = inc.get((v, corpus), empty)
                    thirds = [c for c in corpora if c not in (corpus, partner)]
                    for test in thirds or [None]:
                        ooc_cell = ooc.get((v, corpus, test), empty) if test else empty
                        base_ooc = ooc_bl.get((variants[0], corpus, test), empty) if test else empty
                        out.append(f"| {VARIANT_LABELS.get(v, v)} | {corpus} + {partner} | {inc_cell.format()} | "
                                   f"{_delta(inc_bl.get((variants[0], corpus), empty), inc_cell)} | {test or '-'} | "
                                   f"{ooc_cell.format()} | {_delta(base_ooc, ooc_cell)} |")
    return out


# The 2018 paper's silver corpus, for scale (quoted, not measured here).
CALBC_SIZE = "CALBC-SSC-III: about 100,000 abstracts, over 2M machine annotations"


def _silver_table(metrics: List[Dict[str, Any]], groups: Dict[str, List[str]]) -> List[str]:
    """Transfer runs: the silver corpus each target's encoder was pretrained
    on (size, mentions per class, taggers used and left out)."""
    by_corpus: Dict[str, Dict[str, Any]] = {}
    for m in metrics:
        pre = (m.get("recipe") or {}).get("pretrained")
        if pre and pre.get("silver"):
            by_corpus.setdefault(m["corpus"], pre)
    if not by_corpus:
        return []
    out = ["", "## Silver corpora of the transfer runs", "",
           f"One per target corpus, built by the tagger pool with the target's out-of-corpus test corpora left "
           f"out (docs/transfer.md); pretraining is one pass over it. For scale, the papers' {CALBC_SIZE}.", "",
           "| target | documents | sentences | mentions kept | pretraining batches | taggers | left out |",
           "|---|---|---|---|---|---|---|"]
    for corpora in groups.values():
        for corpus in corpora:
            pre = by_corpus.get(corpus)
            if pre is None:
                continue
            silver = pre["silver"]
            docs = silver.get("documents", {})
            kept = ", ".join(f"{c} {n:,}" for c, n in sorted(silver.get("kept", {}).items()))
            taggers = ", ".join(t["name"] for t in silver.get("taggers", []))
            excluded = ", ".join(t["name"] for t in silver.get("excluded_taggers", [])) or "none"
            out.append(f"| {corpus} | {docs.get('written', '?'):,} | {docs.get('sentences_written', '?'):,} | {kept} | "
                       f"{pre.get('max_steps', '?')} | {taggers} | {excluded} |")
    return out


def _machine(m: Dict[str, Any]) -> str:
    info = m.get("machine", {})
    cpus = f"{info.get('cpu_count', '?')} CPUs" + (f" ({info['cpu_model']})" if info.get("cpu_model") else "")
    parts = [str(info.get("platform", "?")), cpus]
    if info.get("torch"):
        parts.append(f"torch {info['torch']}")
    if info.get("gpu_id", -1) not in (-1, None):
        parts.append(f"GPU {info['gpu_id']}")
    return ", ".join(parts)


def render_matrix(metrics: List[Dict[str, Any]], variant: str, corpora: Sequence[str]) -> str:
    """The train × test F1 matrix of one variant and group: the diagonal is
    in-corpus (exact), the rest out-of-corpus (right boundary)."""
    inc, ooc = collect(metrics)
    empty = Cell([])
    lines = ["| train \\ test | " + " | ".join(corpora) + " |", "|---|" + "---|" * len(corpora)]
    for train in corpora:
        row = [inc.get((variant, train), empty) if test == train else ooc.get((variant, train, test), empty)
               for test in corpora]
        lines.append(f"| {train} | " + " | ".join(c.format() for c in row) + " |")
    return "\n".join(lines)


def config_files(project_dir: Path) -> Dict[str, str]:
    """{sha256: path relative to project_dir} of every config under configs/
    (the first path when two files have the same bytes)."""
    found: Dict[str, str] = {}
    for path in sorted(project_dir.glob("configs/**/*.cfg")):
        found.setdefault(hashlib.sha256(path.read_bytes()).hexdigest(), path.relative_to(project_dir).as_posix())
    return found


def write_results(results_dir: Path, output: Path, shown_as: Optional[str] = None, **kwargs: Any) -> Path:
    """Load metrics, render the report, write it (`shown_as`: how the report
    names the metrics folder). RETURNS the output path."""
    text = render_results(load_metrics(results_dir), results_dir=shown_as or Path(results_dir).name, **kwargs)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf8")
    return output
