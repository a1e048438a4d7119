"""CLI: `spacy-bioner convert INPUT OUTPUT --from FORMAT --to FORMAT`."""
from pathlib import Path
from typing import List, Optional

import typer
from wasabi import msg

from . import app, fail


@app.command("convert")
def convert_cli(
    input_path: Path = typer.Argument(..., help="Input file or folder"),
    output_path: Path = typer.Argument(..., help="Output file (a folder for --to brat)"),
    from_format: str = typer.Option(..., "--from", "-f", help="conll, brat, pubtator or jsonl"),
    to_format: str = typer.Option(..., "--to", "-t", help="spacy, conll, brat, pubtator or jsonl"),
    label_map: Optional[str] = typer.Option(None, "--label-map", "-m", help="Label map JSON, or 'default' for the package map; unmapped types become O"),
    keep_labels: List[str] = typer.Option([], "--keep-labels", "-k", help="Keep only this (harmonized) label; repeatable or comma-separated"),
    per: str = typer.Option("sentence", "--per", help="CoNLL input: one Doc per 'sentence' or 'document'"),
    repair: bool = typer.Option(False, "--repair", help="CoNLL input: turn an I- tag that continues no entity into B- (counted) instead of failing"),
    scheme: str = typer.Option("auto", "--scheme", help="CoNLL input scheme: auto, iob1, iob2, iobes"),
    out_scheme: str = typer.Option("iob2", "--out-scheme", help="CoNLL output scheme: iob2 or iobes"),
    misaligned: str = typer.Option("split", "--misaligned", help="Text input: entity not on token boundaries: split, expand or error"),
    lang: str = typer.Option("en", "--lang", help="Tokenizer language for text input"),
) -> None:
    """Convert a corpus between formats, harmonizing entity types on the way.
    Prints what was repaired, dropped or changed; exits non-zero with
    'file:line: problem' on bad input."""
    from ..corpora.convert import read_corpus, write_corpus
    from ..corpora.util import ConversionReport

    if output_path.exists() and input_path.exists() and (
        output_path.resolve() == input_path.resolve() or input_path.resolve() in output_path.resolve().parents
    ):
        fail(f"{output_path}: the output is the input or inside it; refusing to write over it")
    keep = [label.strip() for value in keep_labels for label in value.split(",") if label.strip()]
    report = ConversionReport()
    try:
        docs = read_corpus(input_path, from_format, lang=lang, label_map=label_map,
                           keep_labels=keep or None, per=per, scheme=scheme, repair=repair,
                           misaligned=misaligned, report=report)
        write_corpus(docs, output_path, to_format, scheme=out_scheme)
    except (ValueError, OSError) as err:
        fail(str(err) or type(err).__name__)
    msg.good(f"Wrote {output_path}: {report.summary()}")
    if report.dropped_labels:
        msg.info("Entities turned into O, by source label: "
                 + ", ".join(f"{k}: {v}" for k, v in report.dropped_labels.most_common()))
