"""A per-run error report: scores, type confusion, false positives and false
negatives as JSONL, and displaCy HTML of gold vs predicted entities.

All offsets are character offsets into the gold (reference) text.
"""
import random
from collections import Counter
from pathlib import Path
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence

import srsly
from spacy import displacy
from spacy.training import Example

from .evaluate import EvalResult, PathLike, get_doc_id
from .matching import CRITERIA, Mention, example_spans, match_mentions

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


def render_html(
    examples: Sequence[Example],
    *,
    n: int = 20,
    seed: int = 0,
    match: str = "exact",
    spans_key: Optional[str] = None,
    label_map: Optional[Mapping[str, str]] = None,
) -> str:
    """displaCy HTML page of a random sample of docs, gold above predicted.

    examples (Sequence[Example]): Scored examples.
    n (int): Number of docs to show (all when fewer).
    seed (int): Seed of the sample.
    match (str): Criterion for the tp/fp/fn counts in each title.
    spans_key (Optional[str]): Use `doc.spans[spans_key]` instead of `doc.ents`.
    label_map (Optional[Mapping[str, str]]): Harmonizes labels on both sides.
    RETURNS (str): A full HTML page.
    """
    indices = sorted(random.Random(seed).sample(range(len(examples)), min(n, len(examples))))
    parsed = []
    for index in indices:
        example = examples[index]
        gold, pred = example_spans(example, spans_key=spans_key, label_map=label_map)
        gold_m = [m for m, _ in gold]
        pred_m = [m for m, _ in pred]
        result = match_mentions(gold_m, pred_m, match)
        doc_id = get_doc_id(example.reference, index)
        text = example.reference.text
        counts = f"{len(result.pairs)} tp, {len(result.spurious)} fp, {len(result.missed)} fn ({match})"
        for side, mentions in (("gold", gold_m), (f"predicted: {counts}", pred_m)):
            parsed.append({"text": text, "ents": _displacy_ents(mentions), "title": f"{doc_id} · {side}"})
    return displacy.render(parsed, style="ent", manual=True, page=True, jupyter=False)


def _displacy_ents(mentions: List[Mention]) -> List[Dict[str, Any]]:
    # displaCy cannot draw overlapping entities (possible in span groups):
    # keep the first of each overlapping run.
    ents: List[Dict[str, Any]] = []
    for m in sorted(set(mentions)):
        if not ents or m.start >= ents[-1]["end"]:
            ents.append({"start": m.start, "end": m.end, "label": m.label})
    return ents


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
    n_html: int = 20,
    seed: int = 0,
) -> Dict[str, Path]:
    """Write a run's report files to a folder.

    Files: `metrics.json` (all scores and counts), `confusion.json`,
    `errors.jsonl` (false positives and negatives under `result.match`),
    `report.md` (tables) and `examples.html` (displaCy, gold vs predicted).

    result (EvalResult): A result of `evaluate_pipeline` (with examples).
    output_dir (PathLike): The folder (created).
    n_html (int): Number of docs in the HTML sample.
    seed (int): Seed of the HTML sample.
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
    html = render_html(result.examples, n=n_html, seed=seed, match=result.match, **options)
    paths["examples.html"].write_text(html, encoding="utf8")
    return paths
