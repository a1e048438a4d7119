"""CLI for evaluation: `spacy-bioner evaluate|cross-corpus|compare`.

Thin wrappers over spacy_bioner.evaluation.{evaluate,report,cross_corpus,stats}.

    spacy-bioner evaluate MODEL DATA --match right --label-map default --output m.json --report-dir report/
    spacy-bioner cross-corpus --model NCBI-disease=models/ncbi --model BC5CDR=models/bc5cdr \\
        --corpus NCBI-disease=corpora/NCBI-disease --corpus BC5CDR=corpora/BC5CDR \\
        --group Disease=NCBI-disease,BC5CDR --output results/cross
    spacy-bioner cross-corpus --spec cross.yml -o results/cross
    spacy-bioner compare 'runs/vd/*.json' --vs 'runs/baseline/*.json'

A cross-corpus spec file (JSON or YAML) has the keys `models` and `corpora`
(name → path) and optionally `groups` (type → list of corpus names),
`train_corpus` (model → corpus) and `label_map` (path, "default" or null);
command-line options add to or override it.
"""
import glob
import time
from enum import Enum
from pathlib import Path
from typing import Dict, List, Optional

import typer
from wasabi import msg

from . import app, fail
from .util import load_pipeline


class Match(str, Enum):
    """Boundary criterion of a match (see spacy_bioner.evaluation.matching)."""

    exact = "exact"
    left = "left"
    right = "right"


class Test(str, Enum):
    """The t-test of `compare`."""

    auto = "auto"
    paired = "paired"
    welch = "welch"


def _label_map(value: Optional[str]) -> Optional[Dict[str, str]]:
    if value is None or value.lower() in ("", "none"):
        return None
    from ..corpora.labels import load_label_map

    try:
        return load_label_map(value)
    except (ValueError, OSError) as err:
        fail(f"--label-map {value}: {err}")


def _pairs(values: List[str], what: str) -> Dict[str, str]:
    pairs = {}
    for value in values:
        name, sep, path = value.partition("=")
        if not sep or not name or not path:
            fail(f"Bad {what} {value!r}: expected NAME=VALUE")
        pairs[name] = path
    return pairs


def _expand(patterns: List[str]) -> List[str]:
    # Quoted globs are expanded here so that both sides of `compare` can be
    # given as patterns (the shell can only expand the positional side).
    paths: List[str] = []
    for pattern in patterns:
        matches = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]
        if not matches:
            fail(f"No files match {pattern!r}")
        paths.extend(matches)
    return paths


@app.command("evaluate")
def evaluate_cli(
    model: str = typer.Argument(..., help="Pipeline path or package name"),
    data: Path = typer.Argument(..., help="A .spacy file, a .tsv file or a corpus folder (its test.tsv)", exists=True),
    match: Match = typer.Option(Match.exact, "--match", help="Headline criterion"),
    label_map: Optional[str] = typer.Option(None, "--label-map", help="Harmonize labels: a JSON map, or 'default' for the package map"),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write the metrics JSON here"),
    report_dir: Optional[Path] = typer.Option(None, "--report-dir", help="Write the error report (JSONL, confusion, HTML) here"),
    component: Optional[str] = typer.Option(None, "--component", help="NER component whose labels are checked against the data"),
    spans_key: Optional[str] = typer.Option(None, "--spans-key", help="Score doc.spans[KEY] instead of doc.ents"),
    retokenize: bool = typer.Option(False, "--retokenize", help="Tokenize the gold text with the pipeline instead of using gold tokens"),
    labels: Optional[str] = typer.Option(None, "--labels", help="Comma-separated (harmonized) types to score, or '*' for all; default: the types the model predicts and the data annotates"),
    n_html: int = typer.Option(200, "--n-html", help="Sentences with errors in the HTML report at most (0: all)"),
    show_correct: bool = typer.Option(False, "--show-correct", help="Also show sentences without errors in the HTML report"),
) -> None:
    """Score a pipeline's entities on gold data (exact, left and right boundary matching; all three are in the JSON)."""
    from ..evaluation.evaluate import evaluate_pipeline
    from ..evaluation.matching import CRITERIA

    msg.text(f"Evaluating {model} on {data} ({match.value} match)...")
    start = time.time()
    if output is not None and output.is_dir():
        fail(f"{output}: --output is a folder; give a .json file name")
    nlp = load_pipeline(model)
    try:
        result = evaluate_pipeline(
            nlp,
            data,
            match=match.value,
            label_map=_label_map(label_map),
            component=component,
            spans_key=spans_key,
            retokenize=retokenize,
            labels=[x.strip() for x in labels.split(",") if x.strip()] if labels else None,
            meta={"model": model, "data": str(data)},
        )
    except (ValueError, OSError) as err:
        fail(err)
    msg.text(f"Scored {result.n_docs} docs in {time.time() - start:.1f} s")
    if result.scored_labels is None:
        msg.info("Scoring every entity type of the model and the data")
    else:
        left_out = sorted(set(result.model_labels + result.data_labels) - set(result.scored_labels))
        note = f" (left out: {', '.join(left_out)}; choose with --labels)" if left_out else ""
        msg.info(f"Scoring the types {', '.join(result.scored_labels) or '(none)'}{note}")
    rows = [(label, s.precision, s.recall, s.fscore, s.tp + s.fn) for label, s in result.primary.per_type.items()]
    micro = result.primary.micro
    rows.append(("micro", micro.precision, micro.recall, micro.fscore, micro.tp + micro.fn))
    msg.table(
        [(label, f"{100 * p:.2f}", f"{100 * r:.2f}", f"{100 * f:.2f}", n) for label, p, r, f, n in rows],
        header=("type", "P", "R", "F1", "support"),
        aligns=("l", "r", "r", "r", "r"),
        title=f"{match.value} match, {result.n_docs} docs",
    )
    for criterion in CRITERIA:
        msg.text(f"{criterion:>5} F1: {100 * result.scores[criterion].micro.fscore:.2f}")
    if output is not None:
        result.to_disk(output)
        msg.good(f"Wrote {output}")
    if report_dir is not None:
        from ..evaluation.report import write_report

        write_report(result, report_dir, n_html=n_html or None, show_correct=show_correct)
        msg.good(f"Wrote the report to {report_dir} (open examples.html)")


@app.command("cross-corpus")
def cross_corpus_cli(
    output_dir: Path = typer.Option(..., "--output", "--output-dir", "-o", help="Folder for cross_corpus.json/.md/.png"),
    spec: Optional[Path] = typer.Option(None, "--spec", help="JSON/YAML spec (see the module docs)", exists=True),
    models: List[str] = typer.Option([], "--model", "--models", "-m", help="NAME=PATH of a model (repeatable)"),
    corpora: List[str] = typer.Option([], "--corpus", "--corpora", "-c", help="NAME=PATH of test data (repeatable)"),
    groups: List[str] = typer.Option([], "--group", "-g", help="TYPE=CORPUS,CORPUS,... (repeatable); default: from the gold labels"),
    train: List[str] = typer.Option([], "--train", help="MODEL=CORPUS a model was trained on; default: the model's name"),
    label_map: Optional[str] = typer.Option("default", "--label-map", help="JSON map, 'default' (package map) or 'none'"),
) -> None:
    """In-corpus (exact) vs out-of-corpus (right boundary) F1 matrix per entity type (Giorgi & Bader 2019, Table 4)."""
    import srsly

    from ..evaluation.cross_corpus import cross_corpus, merge_spec

    try:
        spec_data = None
        if spec is not None:
            spec_data = srsly.read_yaml(spec) if spec.suffix in (".yml", ".yaml") else srsly.read_json(spec)
        options = merge_spec(
            spec_data,
            models=_pairs(models, "--model"),
            corpora=_pairs(corpora, "--corpus"),
            groups={k: v.split(",") for k, v in _pairs(groups, "--group").items()},
            train_corpus=_pairs(train, "--train"),
            label_map=label_map,
        )
    except ValueError as err:
        fail(f"{spec}: {err}" if spec is not None else err)
    options["label_map"] = _label_map(options["label_map"])
    try:
        result = cross_corpus(output_dir=output_dir, progress=msg.text, **options)
    except (ValueError, OSError) as err:
        fail(err)
    print(result.to_markdown())
    msg.good(f"Wrote cross_corpus.json, .md and .png to {output_dir}")


@app.command("compare")
def compare_cli(
    results_a: List[str] = typer.Argument(..., help="Metrics JSON files (or quoted globs) of method A"),
    vs: List[str] = typer.Option(..., "--vs", help="Metrics JSON file or quoted glob of method B (repeatable)"),
    key: str = typer.Option("ents_f", "--key", help="Score to compare"),
    test: Test = typer.Option(Test.auto, "--test", help="auto: paired when the runs pair up by corpus, seed and fold, else Welch"),
) -> None:
    """Mean difference (A − B) and two-tailed t-test p-value of two sets of runs."""
    from ..evaluation.stats import compare

    paired = {Test.auto: None, Test.paired: True, Test.welch: False}[test]
    try:
        result = compare(_expand(results_a), _expand(vs), key=key, paired=paired)
    except (ValueError, KeyError, OSError) as err:
        fail(err)
    if result.pooled:
        msg.warn(f"Pooled runs across {len(result.corpora)} corpora: {', '.join(result.corpora)}")
    elif result.corpora:
        msg.text(f"All runs on one corpus: {result.corpora[0]}")
    else:
        msg.text("The runs do not say which corpus they were scored on")
    msg.text(f"A: mean {key} {result.mean_a:.4f} over {result.n_a} runs")
    msg.text(f"B: mean {key} {result.mean_b:.4f} over {result.n_b} runs")
    msg.info(f"mean diff (A - B) = {result.mean_diff:+.4f}, p = {result.p_value:.4g} ({result.test} t-test, two-tailed)")
    msg.text(f"{result.test} test: {result.test_reason}")
