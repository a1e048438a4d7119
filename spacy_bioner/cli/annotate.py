"""`spacy-bioner annotate`: bulk annotation with progress, resume and error records."""
from pathlib import Path
from typing import List

import typer
from wasabi import msg

from . import app


@app.command("annotate")
def annotate_cli(
    model: str = typer.Argument(..., help="Pipeline name or folder"),
    paths: List[Path] = typer.Argument(..., help="Input files (JSONL, PubTator or text; .gz allowed), then the OUTPUT .jsonl"),
    fmt: str = typer.Option("auto", "--format", help="auto | jsonl | pubtator | text"),
    batch_size: int = typer.Option(64, "--batch-size", help="Documents per nlp.pipe batch"),
    n_process: int = typer.Option(1, "--n-process", help="Processes for nlp.pipe"),
    resume: bool = typer.Option(True, "--resume/--no-resume", help="Skip ids already in OUTPUT"),
    gpu_id: int = typer.Option(-1, "--gpu-id", help="GPU to use, -1 for CPU"),
) -> None:
    """Annotate every document into OUTPUT, one JSON line each: entities with
    character offsets, labels and confidences, or an error record."""
    import spacy

    from ..annotate import annotate

    if len(paths) < 2:
        msg.fail("Give at least one input file and the output file.", exits=1)
    *inputs, output = paths
    missing = [str(p) for p in inputs if not p.exists()]
    if missing:
        msg.fail(f"Input not found: {', '.join(missing)}", exits=1)
    if gpu_id >= 0:
        spacy.require_gpu(gpu_id)
    nlp = spacy.load(model)
    summary = annotate(nlp, inputs, output, fmt=fmt, batch_size=batch_size, n_process=n_process, resume=resume)
    msg.good(
        f"{summary.written} documents annotated ({summary.entities} entities), "
        f"{summary.errors} error records, {summary.skipped} already done -> {output}"
    )
