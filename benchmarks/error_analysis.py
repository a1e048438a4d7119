"""What an in-corpus model still gets wrong, with counts.

Every false negative and false positive (exact match, official test split,
gold segments) is put in one class, checked in this order:

* boundary: it overlaps a prediction (or gold mention) of the other side,
  i.e. the entity was found with other boundaries;
* seen as entity: its text (case-folded) is annotated as an entity in the
  training split;
* seen, never annotated: the text occurs in the training split only outside
  entities (an annotation-convention or context question);
* unseen: the text never occurs in the training split.

Each class is also split by shape: an abbreviation (at most 6 characters
with an upper-case letter after the first, or a digit) or not. The report
adds recall by how often a mention's text is an entity in training.

    python benchmarks/error_analysis.py training/recipe2/baseline/Linnaeus/seed0/model-best \\
        ../shared/corpora/Linnaeus --output docs/error_analysis_linnaeus.json
"""
import datetime
import json
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any, Dict, List, Tuple

import spacy
import typer

from spacy_bioner.corpora.conll import read_conll
from spacy_bioner.evaluation.evaluate import evaluate_pipeline
from spacy_bioner.evaluation.matching import example_spans, match_mentions

ABBREVIATION = re.compile(r"^(?=.{1,6}$)(.[^a-z]*[A-Z0-9].*|.*\d.*)$")


def training_lexicon(path: Path) -> Tuple[Counter, Counter]:
    """Case-folded entity texts of the training split (with counts) and the
    case-folded n-grams (n <= 6) that occur outside entities."""
    docs, _ = read_conll(path, spacy.blank("en").vocab)
    entities: Counter = Counter()
    outside: Counter = Counter()
    for doc in docs:
        inside = set()
        for ent in doc.ents:
            entities[ent.text.lower()] += 1
            inside.update(range(ent.start, ent.end))
        words = [t.text.lower() for t in doc]
        for n in range(1, 7):
            for i in range(len(words) - n + 1):
                if not inside.intersection(range(i, i + n)):
                    outside[" ".join(words[i:i + n])] += 1
    return entities, outside


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def classify(text: str, overlaps: bool, entities: Counter, outside: Counter) -> str:
    if overlaps:
        return "boundary"
    key = _norm(text)
    if entities[key]:
        return "seen as entity"
    if outside[key]:
        return "seen, never annotated"
    return "unseen"


def analyse(model: Path, corpus: Path) -> Dict[str, Any]:
    entities, outside = training_lexicon(corpus / "train.tsv")
    result = evaluate_pipeline(str(model), corpus / "test.tsv", match="exact")
    counts: Dict[str, Counter] = {"fn": Counter(), "fp": Counter()}
    examples: Dict[str, Dict[str, Counter]] = {"fn": {}, "fp": {}}
    by_frequency: Dict[str, List[int]] = {}
    for example in result.examples:
        gold, pred = example_spans(example)
        gold_m, pred_m = [m for m, _ in gold], [m for m, _ in pred]
        matched = match_mentions(gold_m, pred_m, "exact")
        text = example.reference.text
        for kind, mentions, others in (("fn", matched.missed, pred_m), ("fp", matched.spurious, gold_m)):
            for m in mentions:
                overlaps = any(o.start < m.end and m.start < o.end for o in others)
                span = text[m.start:m.end]
                cls = classify(span, overlaps, entities, outside)
                shape = "abbreviation" if ABBREVIATION.match(span) else "word(s)"
                counts[kind][f"{cls} / {shape}"] += 1
                examples[kind].setdefault(cls, Counter())[span] += 1
        found = {(p.start, p.end, p.label) for p in pred_m}
        for m in gold_m:
            n = entities[_norm(text[m.start:m.end])]
            band = "0" if n == 0 else "1" if n == 1 else "2-9" if n < 10 else "10+"
            hit = by_frequency.setdefault(band, [0, 0])
            hit[0] += (m.start, m.end, m.label) in found
            hit[1] += 1
    micro = result.primary.micro
    return {
        "model": str(model),
        "corpus": corpus.name,
        "test_exact": {"precision": micro.precision, "recall": micro.recall, "f1": micro.fscore,
                       "tp": micro.tp, "fp": micro.fp, "fn": micro.fn},
        "errors": {kind: dict(c.most_common()) for kind, c in counts.items()},
        "top_examples": {kind: {cls: c.most_common(12) for cls, c in per.items()} for kind, per in examples.items()},
        "recall_by_training_frequency": {band: {"found": f, "gold": g, "recall": round(f / g, 4) if g else None}
                                         for band, (f, g) in sorted(by_frequency.items())},
    }


def main(
    model: Path = typer.Argument(..., help="A trained pipeline"),
    corpus: Path = typer.Argument(..., help="Folder with train.tsv and test.tsv"),
    output: Path = typer.Option(..., help="Report JSON"),
) -> None:
    report = analyse(model, corpus)
    report["command"] = " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])
    report["date"] = datetime.datetime.now().isoformat(timespec="seconds")
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps({k: report[k] for k in ("test_exact", "errors", "recall_by_training_frequency")}, indent=1))


if __name__ == "__main__":
    typer.run(main)
