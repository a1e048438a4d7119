"""A per-run error report: scores, type confusion, false positives and false
negatives as JSONL, and an HTML page a person reads: the per-type scores, then
the sentences with errors, gold above predicted, errors coloured by kind.

All offsets are character offsets into the gold (reference) text.
"""
import html
from collections import Counter
from pathlib import Path
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

import srsly
from spacy.training import Example

from .evaluate import EvalResult, PathLike, get_doc_id
from .matching import CRITERIA, EntityScores, Mention, example_spans, match_mentions

MISSED = "(missed)"
SPURIOUS = "(spurious)"


def _get_score(span: Any) -> Optional[float]:
    try:  # the model component's confidence; absent for other pipelines
        from ..scores import get_score
    except ImportError:
        return None
    return get_score(span)


def type_confusion(
    examples: Sequence[Example],
    *,
    spans_key: Optional[str] = None,
    label_map: Optional[Mapping[str, str]] = None,
) -> Dict[str, Dict[str, int]]:
    """Count gold type → predicted type over mentions with identical boundaries.

    Off-diagonal entries are type confusions (right span, wrong type). Gold
    mentions without a same-boundary prediction are counted under the
    predicted type "(missed)"; predictions without a same-boundary gold
    mention under the gold type "(spurious)".

    examples (Sequence[Example]): Scored examples.
    spans_key (Optional[str]): Use `doc.spans[spans_key]` instead of `doc.ents`.
    label_map (Optional[Mapping[str, str]]): Harmonizes labels on both sides.
    RETURNS (Dict[str, Dict[str, int]]): confusion[gold][predicted] = count.
    """
    counts: Counter = Counter()
    for example in examples:
        gold, pred = example_spans(example, spans_key=spans_key, label_map=label_map)
        gold_at: Dict[tuple, List[str]] = {}
        pred_at: Dict[tuple, List[str]] = {}
        for mention, _ in gold:
            gold_at.setdefault((mention.start, mention.end), []).append(mention.label)
        for mention, _ in pred:
            pred_at.setdefault((mention.start, mention.end), []).append(mention.label)
        for bounds in set(gold_at) | set(pred_at):
            g = sorted(set(gold_at.get(bounds, [])))
            p = sorted(set(pred_at.get(bounds, [])))
            # Same-type pairs first, so that a correct prediction is never
            # reported as a confusion with another gold mention there.
            for label in set(g) & set(p):
                counts[(label, label)] += 1
                g.remove(label)
                p.remove(label)
            for gold_label, pred_label in zip(g, p):
                counts[(gold_label, pred_label)] += 1
            for gold_label in g[len(p):]:
                counts[(gold_label, MISSED)] += 1
            for pred_label in p[len(g):]:
                counts[(SPURIOUS, pred_label)] += 1
    matrix: Dict[str, Dict[str, int]] = {}
    for (gold_label, pred_label), n in sorted(counts.items()):
        matrix.setdefault(gold_label, {})[pred_label] = n
    return matrix


def error_records(
    examples: Sequence[Example],
    *,
    match: str = "exact",
    spans_key: Optional[str] = None,
    label_map: Optional[Mapping[str, str]] = None,
) -> Iterator[Dict[str, Any]]:
    """False positives and false negatives, one record each.

    examples (Sequence[Example]): Scored examples.
    match (str): The criterion that decides what is an error.
    spans_key (Optional[str]): Use `doc.spans[spans_key]` instead of `doc.ents`.
    label_map (Optional[Mapping[str, str]]): Harmonizes labels on both sides.
    YIELDS (Dict[str, Any]): `kind` ("fp"/"fn"), `doc_id`, `doc_index`, `text`
        (the gold text), `span` (its text), `start_char`, `end_char`, `label`,
        `score` (predictions of components that store one, else None) and
        `other_type` (the type on the other side at the same boundaries, if any).
    """
    for index, example in enumerate(examples):
        gold, pred = example_spans(example, spans_key=spans_key, label_map=label_map)
        result = match_mentions([m for m, _ in gold], [m for m, _ in pred], match)
        pred_spans = {mention: span for mention, span in pred}
        gold_types = {(m.start, m.end): m.label for m, _ in gold}
        pred_types = {(m.start, m.end): m.label for m, _ in pred}
        text = example.reference.text
        doc_id = get_doc_id(example.reference, index)
        for kind, mentions, other in (("fn", result.missed, pred_types), ("fp", result.spurious, gold_types)):
            for mention in mentions:
                other_type = other.get((mention.start, mention.end))
                yield {
                    "kind": kind,
                    "doc_id": doc_id,
                    "doc_index": index,
                    "match": match,
                    "label": mention.label,
                    "span": text[mention.start : mention.end],
                    "start_char": mention.start,
                    "end_char": mention.end,
                    "score": _get_score(pred_spans[mention]) if kind == "fp" else None,
                    "other_type": other_type if other_type != mention.label else None,
                    "text": text,
                }


# Colours of the HTML report: what was right, what the model added, what it missed.
COLOURS = {"tp": "#b7e4c7", "fp": "#ffadad", "fn": "#ffd166"}
LEGEND = {"tp": "correct", "fp": "false positive (predicted, not in gold)", "fn": "missed (in gold, not predicted)"}
_STYLE = """
body { font-family: sans-serif; margin: 2em; max-width: 70em; }
table { border-collapse: collapse; margin-bottom: 1em; }
td, th { border: 1px solid #ccc; padding: 0.2em 0.6em; text-align: right; }
td:first-child, th:first-child { text-align: left; }
.sent { margin: 0.8em 0; padding: 0.5em; border-left: 4px solid #999; }
.side { margin: 0.2em 0; line-height: 1.9; }
.side b { display: inline-block; width: 6.5em; }
mark { padding: 0.1em 0.3em; border-radius: 0.3em; }
mark sup { font-size: 0.7em; font-weight: bold; margin-left: 0.3em; }
"""


def _marked(text: str, marks: List[Tuple[Mention, str]]) -> str:
    # Overlapping marks cannot be nested in one line of text: keep the first
    # of each overlapping run (span groups may overlap; ents never do).
    parts, pos = [], 0
    for mention, kind in sorted(marks, key=lambda m: (m[0].start, m[0].end)):
        if mention.start < pos:
            continue
        parts.append(html.escape(text[pos : mention.start]))
        parts.append(
            f'<mark class="{kind}" style="background:{COLOURS[kind]}" title="{LEGEND[kind]}">'
            f"{html.escape(text[mention.start : mention.end])}<sup>{html.escape(mention.label)}</sup></mark>"
        )
        pos = mention.end
    parts.append(html.escape(text[pos:]))
    return "".join(parts)


def render_html(
    examples: Sequence[Example],
    *,
    n: Optional[int] = 200,
    match: str = "exact",
    spans_key: Optional[str] = None,
    label_map: Optional[Mapping[str, str]] = None,
    title: str = "Evaluation errors",
    scores: Optional[EntityScores] = None,
    show_correct: bool = False,
) -> str:
    """An HTML error report: per-type scores at the top, a legend, then the
    sentences with errors (most errors first), each as gold above predicted,
    with correct entities, false positives and misses in distinct colours.

    examples (Sequence[Example]): Scored examples.
    n (Optional[int]): Sentences with errors to show at most (None: all).
    match (str): The criterion that decides what is an error.
    spans_key (Optional[str]): Use `doc.spans[spans_key]` instead of `doc.ents`.
    label_map (Optional[Mapping[str, str]]): Harmonizes labels on both sides.
    title (str): The page title; name the model and the data.
    scores (Optional[EntityScores]): Scores for the summary table.
    show_correct (bool): Also show the sentences without errors, after the others.
    RETURNS (str): A full HTML page.
    """
    rows = []
    for index, example in enumerate(examples):
        gold, pred = example_spans(example, spans_key=spans_key, label_map=label_map)
        result = match_mentions([m for m, _ in gold], [m for m, _ in pred], match)
        rows.append((len(result.missed) + len(result.spurious), index, example, result))
    with_errors = sorted((r for r in rows if r[0]), key=lambda r: (-r[0], r[1]))
    correct = [r for r in rows if not r[0]]
    shown = with_errors if n is None else with_errors[:n]
    body = [f"<h1>{html.escape(title)}</h1>"]
    if scores is not None:
        body.append(_summary_table(scores))
    legend = " ".join(
        f'<mark style="background:{COLOURS[kind]}">{LEGEND[kind]}</mark>' for kind in ("tp", "fp", "fn")
    )
    body.append(f"<p>Legend ({html.escape(match)} match): {legend}</p>")
    body.append(
        f"<p>{len(with_errors)} of {len(rows)} sentences have errors; showing {len(shown)}, most errors first."
        + ("" if show_correct else " Sentences without errors are left out (ask for them with --show-correct).")
        + "</p>"
    )
    body.append("<h2>Sentences with errors</h2>")
    body.extend(_sentence_html(*row[1:], match) for row in shown)
    if show_correct:
        body.append("<h2>Sentences without errors</h2>")
        body.extend(_sentence_html(*row[1:], match) for row in correct)
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{_STYLE}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n"
    )


def _summary_table(scores: EntityScores) -> str:
    lines = ["<table><tr><th>type</th><th>P</th><th>R</th><th>F1</th><th>tp</th><th>fp</th><th>fn</th></tr>"]
    rows = [(label, scores.per_type[label]) for label in scores.labels] + [("micro", scores.micro)]
    for label, s in rows:
        lines.append(
            f"<tr><td>{html.escape(label)}</td><td>{100 * s.precision:.2f}</td><td>{100 * s.recall:.2f}</td>"
            f"<td>{100 * s.fscore:.2f}</td><td>{s.tp}</td><td>{s.fp}</td><td>{s.fn}</td></tr>"
        )
    return "\n".join(lines) + "</table>"


def _sentence_html(index: int, example: Example, result: Any, match: str) -> str:
    text = example.reference.text
    doc_id = html.escape(str(get_doc_id(example.reference, index)))
    gold_marks = [(g, "tp") for g, _ in result.pairs] + [(m, "fn") for m in result.missed]
    pred_marks = [(p, "tp") for _, p in result.pairs] + [(m, "fp") for m in result.spurious]
    counts = f"{len(result.pairs)} tp, {len(result.spurious)} fp, {len(result.missed)} fn ({match})"
    return (
        f'<div class="sent" id="doc-{doc_id}"><div>{doc_id} · {counts}</div>'
        f'<div class="side"><b>gold</b>{_marked(text, gold_marks)}</div>'
        f'<div class="side"><b>predicted</b>{_marked(text, pred_marks)}</div></div>'
    )


def _markdown(result: EvalResult, confusion: Dict[str, Dict[str, int]]) -> str:
    lines = ["# Evaluation report", "", f"{result.n_docs} docs; headline match: {result.match}.", ""]
    for criterion in CRITERIA:
        scores = result.scores[criterion]
        lines += [f"## {criterion} match", "", "| type | P | R | F1 | tp | fp | fn | support |", "|---|---|---|---|---|---|---|---|"]
        rows = [(label, scores.per_type[label]) for label in scores.labels] + [("**micro**", scores.micro)]
        for label, s in rows:
            lines.append(
                f"| {label} | {100 * s.precision:.2f} | {100 * s.recall:.2f} | {100 * s.fscore:.2f} "
                f"| {s.tp} | {s.fp} | {s.fn} | {s.tp + s.fn} |"
            )
        lines.append("")
    columns = sorted({p for row in confusion.values() for p in row})
    lines += ["## Type confusion (same boundaries; rows gold, columns predicted)", ""]
    lines += ["| gold \\ pred | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for gold_label, row in confusion.items():
        lines.append(f"| {gold_label} | " + " | ".join(str(row.get(c, 0)) for c in columns) + " |")
    return "\n".join(lines) + "\n"


def write_report(
    result: EvalResult,
    output_dir: PathLike,
    *,
    n_html: Optional[int] = 200,
    show_correct: bool = False,
) -> Dict[str, Path]:
    """Write a run's report files to a folder.

    Files: `metrics.json` (all scores and counts), `confusion.json`,
    `errors.jsonl` (false positives and negatives under `result.match`),
    `report.md` (tables) and `examples.html` (per-type scores, then the
    sentences with errors, gold vs predicted, errors coloured by kind).

    result (EvalResult): A result of `evaluate_pipeline` (with examples).
    output_dir (PathLike): The folder (created).
    n_html (Optional[int]): Sentences with errors in the HTML page at most
        (None: all).
    show_correct (bool): Also put the sentences without errors in the HTML.
    RETURNS (Dict[str, Path]): The written files by name.
    """
    if not result.examples:
        raise ValueError("The result carries no examples; pass one straight from evaluate_pipeline.")
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    options = {"spans_key": result.spans_key, "label_map": result.label_map}
    confusion = type_confusion(result.examples, **options)
    paths = {
        name: output_dir / name
        for name in ("metrics.json", "confusion.json", "errors.jsonl", "report.md", "examples.html")
    }
    result.to_disk(paths["metrics.json"])
    srsly.write_json(paths["confusion.json"], confusion)
    srsly.write_jsonl(paths["errors.jsonl"], error_records(result.examples, match=result.match, **options))
    paths["report.md"].write_text(_markdown(result, confusion), encoding="utf8")
    model, data = result.meta.get("model"), result.meta.get("data")
    title = f"Errors of {model or 'the model'} on {data or 'the data'}"
    page = render_html(result.examples, n=n_html, match=result.match, title=title, scores=result.primary,
                       show_correct=show_correct, **options)
    paths["examples.html"].write_text(page, encoding="utf8")
    return paths
