"""Which segmentation of raw text cuts no gold mention, and what each costs in F1.

For every gold corpus in the mirror, the test split's sentences are joined
into abstract-sized documents of detokenized text ("E. coli", not
"E . coli"), tokenized by spaCy's English tokenizer, and segmented by:

- `sentencizer`: spaCy's rule-based splitter (ends a sentence at every ".");
- `bio_sentencizer`: this package's splitter that knows abbreviations and
  genus initials;
- `none`: no splitting; the component reads whole documents in overlapping
  windows (`max_length`, `window_context`).

It counts the gold mentions that a predicted segment boundary cuts, and, as
the evaluation path did before it kept gold segments, those that
`sentencizer` cuts in the gold tokens themselves. With `--model NAME=PATH`
(NAME a corpus), each model is also scored on its corpus's raw-text test
documents under each option (exact match), beside its score on the gold
tokens and segments.

    python benchmarks/segmentation.py --corpora ../shared/corpora \\
        --model S800=training/baseline/S800/seed0/model-best --output docs/benchmarks/segmentation.json
"""
import datetime
import json
import platform
from pathlib import Path
from typing import Dict, List, Optional

import spacy
import typer
from spacy.language import Language
from spacy.tokens import Doc
from spacy.training import Example

from spacy_bioner.corpora.conll import read_conll
from spacy_bioner.evaluation.evaluate import evaluate_pipeline
from spacy_bioner.evaluation.raw_text import count_cuts, raw_text_docs

OPTIONS = ("sentencizer", "bio_sentencizer", "none")
SPLITTERS = ("sentencizer", "bio_sentencizer")


def splitter(option: str) -> Language:
    nlp = spacy.blank("en")
    if option != "none":
        nlp.add_pipe(option)
    return nlp


def with_segmentation(nlp: Language, option: str) -> Language:
    """The pipeline with its sentence splitter replaced by `option`."""
    for name in [n for n in nlp.pipe_names if nlp.get_pipe_meta(n).factory in SPLITTERS]:
        nlp.remove_pipe(name)
    if option != "none":
        first = nlp.pipe_names[0] if nlp.pipe_names else None
        nlp.add_pipe(option, name="segmenter", before=first)
    return nlp


def main(
    corpora: Path = typer.Option(Path("../shared/corpora"), "--corpora", help="The corpus mirror"),
    split: str = typer.Option("test", "--split"),
    sentences_per_doc: int = typer.Option(10, "--sentences-per-doc", help="Gold sentences joined into one raw document"),
    model: List[str] = typer.Option([], "--model", help="CORPUS=PATH of a model trained on CORPUS (repeatable)"),
    output: Optional[Path] = typer.Option(None, "--output", "-o"),
) -> None:
    vocab_nlp = spacy.blank("en")
    nlps = {option: splitter(option) for option in OPTIONS}
    gold_tokens = spacy.blank("en")
    gold_tokens.add_pipe("sentencizer", config={"overwrite": True})
    rows: Dict[str, Dict[str, object]] = {}
    for folder in sorted(p for p in corpora.iterdir() if (p / f"{split}.tsv").exists()):
        docs, _ = read_conll(folder / f"{split}.tsv", vocab_nlp.vocab)
        docs = list(docs)
        raw = list(raw_text_docs(docs, sentences_per_doc))
        # What `evaluate` did before it kept the gold segments: gold tokens,
        # joined with spaces, re-split by spaCy's sentencizer.
        spaced = list(raw_text_docs(docs, sentences_per_doc, detokenized=False))
        row: Dict[str, object] = {
            "gold_tokens_sentencizer": count_cuts(spaced, lambda t: gold_tokens(gold_tokens.make_doc(t))).to_dict()
        }
        for option, nlp in nlps.items():
            row[option] = count_cuts(raw, nlp).to_dict()
        rows[folder.name] = row
        print(folder.name, {k: (v["cut"], v["mentions"]) for k, v in row.items()}, flush=True)
    f1: Dict[str, Dict[str, float]] = {}
    for value in model:
        name, _, path = value.partition("=")
        docs, _ = read_conll(corpora / name / f"{split}.tsv", vocab_nlp.vocab)
        docs = list(docs)
        raw = list(raw_text_docs(docs, sentences_per_doc))
        nlp = spacy.load(path)
        scores = {"gold_segments": evaluate_pipeline(nlp, docs).f}
        # Evaluation v1: gold tokens without their sentence starts, split
        # again by spaCy's sentencizer (what `evaluate` did before).
        v1 = with_segmentation(spacy.load(path), "sentencizer")
        unsegmented = [Example(Doc(v1.vocab, words=[t.text for t in d], spaces=[bool(t.whitespace_) for t in d]), d)
                       for d in docs]
        scores["v1_gold_tokens_sentencizer"] = evaluate_pipeline(v1, unsegmented).f
        for option in OPTIONS:
            nlp = with_segmentation(spacy.load(path), option)
            examples = [Example(nlp.make_doc(d.text), d) for d in raw]
            scores[option] = evaluate_pipeline(nlp, examples).f
        f1[name] = {"model": path, **scores}
        print(name, {k: round(v, 4) for k, v in scores.items() if isinstance(v, float)}, flush=True)
    result = {
        "command": "python benchmarks/segmentation.py " + " ".join(
            [f"--corpora {corpora}", f"--split {split}", f"--sentences-per-doc {sentences_per_doc}"]
            + [f"--model {m}" for m in model]
        ),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "python": platform.python_version(), "spacy": spacy.__version__},
        "cuts": rows,
        "f1_exact": f1,
    }
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf8")
        output.with_suffix(".md").write_text(to_markdown(result), encoding="utf8")
        print(f"Wrote {output} and {output.with_suffix('.md')}")


def to_markdown(result: Dict[str, object]) -> str:
    lines = [
        "# Segmentation of raw text: gold mentions cut, and F1",
        "",
        f"`{result['command']}` — {result['date']}, {result['machine']['platform']}",
        "",
        "Test split of every gold corpus, sentences joined into documents of detokenized text. "
        "A mention is *cut* when a predicted segment starts strictly inside it. "
        "*gold tokens + sentencizer* is what `spacy-bioner evaluate` did before it kept the gold segments.",
        "",
        "| corpus | mentions | gold tokens + sentencizer | sentencizer | bio_sentencizer | none | not token-aligned (tokenizer) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, row in result["cuts"].items():
        lines.append(
            f"| {name} | {row['none']['mentions']} | {row['gold_tokens_sentencizer']['cut']} | {row['sentencizer']['cut']} "
            f"| {row['bio_sentencizer']['cut']} | {row['none']['cut']} | {row['none']['misaligned']} |"
        )
    if result["f1_exact"]:
        lines += [
            "",
            "## Exact-match F1 (%) of in-corpus models on raw-text test documents",
            "",
            "| corpus | gold tokens and segments (evaluation v2) | gold tokens + sentencizer (evaluation v1) | raw text + sentencizer | raw text + bio_sentencizer | raw text, no splitting (windows) |",
            "|---|---|---|---|---|---|",
        ]
        for name, s in result["f1_exact"].items():
            lines.append(
                f"| {name} | {100 * s['gold_segments']:.2f} | {100 * s['v1_gold_tokens_sentencizer']:.2f} | {100 * s['sentencizer']:.2f} "
                f"| {100 * s['bio_sentencizer']:.2f} | {100 * s['none']:.2f} |"
            )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    typer.run(main)
