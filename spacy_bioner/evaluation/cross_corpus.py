"""In-corpus vs out-of-corpus evaluation (Giorgi & Bader 2019, Table 4).

Every model is tested on every corpus annotated for the same entity type as
the corpus it was trained on. In-corpus cells (test corpus = training corpus)
are scored with exact matching, out-of-corpus cells with right-boundary
matching, because annotation guidelines differ across corpora. Each cell
scores only the group's entity type, so a BC5CDR model's chemicals do not
count as false positives on NCBI-disease.
"""
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import spacy
import srsly
from spacy.language import Language
from spacy.tokens import Doc

from .evaluate import DataLike, EvalResult, PathLike, evaluate_pipeline, load_examples
from .matching import CRITERIA, check_criterion, get_doc_spans, harmonize_label


@dataclass
class Cell:
    """One model tested on one corpus, for one entity type.

    counts (Dict[str, Dict[str, int]]): tp/fp/fn under every criterion.
    """

    group: str
    model: str
    train_corpus: str
    test_corpus: str
    match: str
    counts: Dict[str, Dict[str, int]]

    @property
    def in_corpus(self) -> bool:
        return self.train_corpus == self.test_corpus

    def prf(self, criterion: Optional[str] = None) -> Tuple[float, float, float]:
        """Precision, recall and F1 under a criterion (default: the cell's)."""
        c = self.counts[criterion or self.match]
        p = c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else 0.0
        r = c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] else 0.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        return p, r, f

    @property
    def f(self) -> float:
        return self.prf()[2]

    def to_dict(self) -> Dict[str, Any]:
        p, r, f = self.prf()
        return {
            "group": self.group,
            "model": self.model,
            "train_corpus": self.train_corpus,
            "test_corpus": self.test_corpus,
            "in_corpus": self.in_corpus,
            "match": self.match,
            "p": p,
            "r": r,
            "f": f,
            **self.counts[self.match],
            "criteria": {name: {**counts, "f": self.prf(name)[2]} for name, counts in self.counts.items()},
        }


@dataclass
class CrossCorpusResult:
    """All cells of a cross-corpus evaluation, with writers for JSON, Markdown
    and a heatmap."""

    groups: Dict[str, List[str]]
    cells: List[Cell] = field(default_factory=list)
    in_corpus_match: str = "exact"
    out_of_corpus_match: str = "right"

    def cell(self, group: str, model: str, test_corpus: str) -> Optional[Cell]:
        for cell in self.cells:
            if (cell.group, cell.model, cell.test_corpus) == (group, model, test_corpus):
                return cell
        return None

    def matrix(self, group: str) -> Tuple[List[str], List[str], List[List[Optional[float]]]]:
        """Rows (models), columns (test corpora) and F1 values (None: no cell)."""
        cells = [c for c in self.cells if c.group == group]
        models = list(dict.fromkeys(c.model for c in cells))
        corpora = [name for name in self.groups[group] if any(c.test_corpus == name for c in cells)]
        values = [[_f(self.cell(group, m, t)) for t in corpora] for m in models]
        return models, corpora, values

    def to_dict(self) -> Dict[str, Any]:
        return {
            "in_corpus_match": self.in_corpus_match,
            "out_of_corpus_match": self.out_of_corpus_match,
            "groups": self.groups,
            "cells": [cell.to_dict() for cell in self.cells],
        }

    def to_markdown(self) -> str:
        """A matrix per entity type, then the paper's Train/Test/IC/OOC/ΔF1 list
        (ΔF1 = IC − OOC, positive where performance drops out of corpus)."""
        lines = [
            "# Cross-corpus evaluation",
            "",
            f"F1 × 100. In-corpus (bold): {self.in_corpus_match} match; "
            f"out-of-corpus: {self.out_of_corpus_match} match.",
        ]
        for group in self.groups:
            models, corpora, _ = self.matrix(group)
            if not models:
                continue
            lines += ["", f"## {group}", "", "| model (train) | " + " | ".join(corpora) + " |"]
            lines.append("|---" * (len(corpora) + 1) + "|")
            for model in models:
                row = []
                for test in corpora:
                    cell = self.cell(group, model, test)
                    text = "–" if cell is None else f"{100 * cell.f:.2f}"
                    row.append(f"**{text}**" if cell is not None and cell.in_corpus else text)
                lines.append(f"| {model} ({self._train(group, model)}) | " + " | ".join(row) + " |")
        lines += ["", "## In-corpus vs out-of-corpus", "", "| Entity | Train | Test | IC | OOC | ΔF1 |"]
        lines.append("|---|---|---|---|---|---|")
        for group in self.groups:
            for model in dict.fromkeys(c.model for c in self.cells if c.group == group):
                own = [c for c in self.cells if c.group == group and c.model == model and c.in_corpus]
                ic = own[0].f if own else None
                for cell in self.cells:
                    if cell.group != group or cell.model != model or cell.in_corpus:
                        continue
                    delta = "–" if ic is None else f"{100 * (ic - cell.f):.2f}"
                    ic_text = "–" if ic is None else f"{100 * ic:.2f}"
                    lines.append(
                        f"| {group} | {cell.train_corpus} | {cell.test_corpus} | {ic_text} | "
                        f"{100 * cell.f:.2f} | {delta} |"
                    )
        return "\n".join(lines) + "\n"

    def _train(self, group: str, model: str) -> str:
        return next(c.train_corpus for c in self.cells if c.group == group and c.model == model)

    def plot(self, path: PathLike) -> None:
        """Write a heatmap PNG, one panel per entity type."""
        import matplotlib

        matplotlib.use("Agg")  # no display on servers and in tests
        import matplotlib.pyplot as plt

        groups = [g for g in self.groups if self.matrix(g)[0]]
        fig, axes = plt.subplots(1, max(len(groups), 1), figsize=(4.5 * max(len(groups), 1), 4), squeeze=False)
        for ax, group in zip(axes[0], groups):
            models, corpora, values = self.matrix(group)
            grid = [[float("nan") if v is None else 100 * v for v in row] for row in values]
            image = ax.imshow(grid, vmin=0, vmax=100, cmap="viridis")
            ax.set_xticks(range(len(corpora)), corpora, rotation=45, ha="right")
            ax.set_yticks(range(len(models)), models)
            ax.set_xlabel("test corpus")
            ax.set_ylabel("model (train corpus)")
            ax.set_title(group)
            for i, model in enumerate(models):
                for j, test in enumerate(corpora):
                    cell = self.cell(group, model, test)
                    if cell is not None:
                        mark = "*" if cell.in_corpus else ""
                        ax.text(j, i, f"{100 * cell.f:.1f}{mark}", ha="center", va="center", color="k" if cell.f > 0.6 else "w")
            fig.colorbar(image, ax=ax, fraction=0.046)
        fig.suptitle(f"F1 (* in-corpus, {self.in_corpus_match}; others {self.out_of_corpus_match})")
        fig.tight_layout()
        fig.savefig(Path(path), dpi=100)
        plt.close(fig)

    def to_disk(self, output_dir: PathLike) -> Dict[str, Path]:
        """Write `cross_corpus.json`, `cross_corpus.md` and `cross_corpus.png`.

        RETURNS (Dict[str, Path]): The written files by kind.
        """
        output_dir = Path(output_dir)
        output_dir.mkdir(parents=True, exist_ok=True)
        paths = {kind: output_dir / f"cross_corpus.{kind}" for kind in ("json", "md", "png")}
        srsly.write_json(paths["json"], self.to_dict())
        paths["md"].write_text(self.to_markdown(), encoding="utf8")
        self.plot(paths["png"])
        return paths


def _f(cell: Optional[Cell]) -> Optional[float]:
    return None if cell is None else cell.f


def infer_groups(gold: Mapping[str, Sequence[Doc]], label_map: Optional[Mapping[str, str]] = None) -> Dict[str, List[str]]:
    """Group corpora by the (harmonized) entity types they annotate; a corpus
    with several types joins several groups."""
    groups: Dict[str, List[str]] = {}
    for name, docs in gold.items():
        types = {harmonize_label(span.label_, label_map) for doc in docs for span in get_doc_spans(doc)}
        for label in sorted(t for t in types if t is not None):
            groups.setdefault(label, []).append(name)
    return dict(sorted(groups.items()))


def cross_corpus(
    models: Mapping[str, Union[PathLike, Language]],
    corpora: Mapping[str, DataLike],
    output_dir: Optional[PathLike] = None,
    *,
    groups: Optional[Mapping[str, Sequence[str]]] = None,
    train_corpus: Optional[Mapping[str, str]] = None,
    label_map: Optional[Mapping[str, str]] = None,
    in_corpus_match: str = "exact",
    out_of_corpus_match: str = "right",
    progress: Optional[Callable[[str], None]] = None,
) -> CrossCorpusResult:
    """Evaluate every model on every corpus of its entity type.

    models (Mapping[str, Union[PathLike, Language]]): Model name → pipeline or path.
    corpora (Mapping[str, DataLike]): Corpus name → test data (see `load_examples`).
    output_dir (Optional[PathLike]): Where to write JSON, Markdown and PNG.
    groups (Optional[Mapping[str, Sequence[str]]]): Entity type → corpus names.
        The key is the (harmonized) type scored in that group's cells. A name
        may be listed without test data (a training-only corpus). Default:
        inferred from the gold labels of `corpora`.
    train_corpus (Optional[Mapping[str, str]]): Model name → the corpus it was
        trained on; models not listed are trained on the corpus of their name.
    label_map (Optional[Mapping[str, str]]): Harmonizes labels on both sides.
    in_corpus_match (str): Criterion of in-corpus cells.
    out_of_corpus_match (str): Criterion of out-of-corpus cells.
    progress (Optional[Callable[[str], None]]): Told what is being done
        (reading a corpus, loading a model, scoring a pair) as it starts.
    RETURNS (CrossCorpusResult): The cells.
    """
    check_criterion(in_corpus_match)
    check_criterion(out_of_corpus_match)
    if not models or not corpora:
        raise ValueError("Cross-corpus evaluation needs at least one model and one corpus.")
    say = progress or (lambda text: None)
    reader = spacy.blank("en")  # gold docs are read once and shared by all models
    gold = {}
    for name, data in corpora.items():
        say(f"Reading corpus {name} ({data})")
        gold[name] = [eg.reference for eg in load_examples(reader, data)]
    for name, docs in gold.items():
        if not docs:
            raise ValueError(f"Corpus {name!r} ({corpora[name]}) contains no documents.")
    groups = {g: list(names) for g, names in (groups or infer_groups(gold, label_map)).items()}
    trained_on = {model: (train_corpus or {}).get(model, model) for model in models}
    result = CrossCorpusResult(groups, [], in_corpus_match, out_of_corpus_match)
    cache: Dict[Tuple[str, str], EvalResult] = {}
    for model, source in models.items():
        member_of = [g for g, names in groups.items() if trained_on[model] in names]
        if not member_of:
            raise ValueError(
                f"Model {model!r} is trained on {trained_on[model]!r}, which is in no group {dict(groups)}; "
                "pass train_corpus or groups."
            )
        if not isinstance(source, Language):
            say(f"Loading model {model} ({source})")
        nlp = source if isinstance(source, Language) else spacy.load(source)
        for group in member_of:
            for test in groups[group]:
                if test not in gold:
                    continue
                if (model, test) not in cache:
                    say(f"Scoring {model} on {test} ({len(gold[test])} docs)")
                    cache[(model, test)] = evaluate_pipeline(nlp, gold[test], label_map=label_map)
                scores = cache[(model, test)].scores
                match = in_corpus_match if test == trained_on[model] else out_of_corpus_match
                counts = {}
                for criterion in CRITERIA:
                    micro = scores[criterion].restrict([group]).micro
                    counts[criterion] = {"tp": micro.tp, "fp": micro.fp, "fn": micro.fn}
                result.cells.append(Cell(group, model, trained_on[model], test, match, counts))
    if output_dir is not None:
        result.to_disk(output_dir)
    return result


def merge_spec(
    spec: Optional[Mapping[str, Any]],
    *,
    models: Mapping[str, str],
    corpora: Mapping[str, str],
    groups: Mapping[str, Sequence[str]],
    train_corpus: Mapping[str, str],
    label_map: Optional[str],
) -> Dict[str, Any]:
    """Merge a cross-corpus spec file with command-line options; options
    add to the spec's entries and override those of the same name.

    spec (Optional[Mapping[str, Any]]): The parsed spec file: `models` and
        `corpora` (name → path), optional `groups` (type → corpus names),
        `train_corpus` (model → corpus) and `label_map` (path, "default" or null).
    models (Mapping[str, str]): --model NAME=PATH options.
    corpora (Mapping[str, str]): --corpus NAME=PATH options.
    groups (Mapping[str, Sequence[str]]): --group TYPE=CORPUS,... options.
    train_corpus (Mapping[str, str]): --train MODEL=CORPUS options.
    label_map (Optional[str]): The --label-map option; the spec's own
        `label_map`, when it has one, wins over the option's default.
    RETURNS (Dict[str, Any]): models, corpora, groups (None: infer),
        train_corpus and label_map (the unresolved value).
    """
    spec = dict(spec or {})
    unknown = set(spec) - {"models", "corpora", "groups", "train_corpus", "label_map"}
    if unknown:
        raise ValueError(f"unknown key(s) {sorted(unknown)} in the cross-corpus spec")
    merged_groups = {k: list(v) for k, v in (spec.get("groups") or {}).items()}
    merged_groups.update({k: list(v) for k, v in groups.items()})
    return {
        "models": {**(spec.get("models") or {}), **models},
        "corpora": {**(spec.get("corpora") or {}), **corpora},
        "groups": merged_groups or None,
        "train_corpus": {**(spec.get("train_corpus") or {}), **train_corpus},
        "label_map": spec["label_map"] if "label_map" in spec else label_map,
    }
