"""`spacy-bioner annotate`: bulk annotation with progress, resume and error records."""
from pathlib import Path
from typing import List

import typer
from wasabi import msg

from . import app, fail
from .util import load_pipeline


@app.command("annotate")
def annotate_cli(
    model: str = typer.Argument(..., help="Pipeline name or folder"),
    paths: List[Path] = typer.Argument(..., help="Input files (JSONL, PubTator or text; .gz allowed), then the OUTPUT .jsonl"),
    fmt: str = typer.Option("auto", "--format", help="auto | jsonl | pubtator | text"),
    batch_size: int = typer.Option(64, "--batch-size", help="Documents per nlp.pipe batch"),
    n_process: int = typer.Option(1, "--n-process", help="Processes for nlp.pipe"),
    resume: bool = typer.Option(True, "--resume/--no-resume", help="Skip records already in OUTPUT; --no-resume empties OUTPUT first (only annotate's own output)"),
    gpu_id: int = typer.Option(-1, "--gpu-id", help="GPU to use, -1 for CPU"),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar"),
) -> None:
    """Annotate every document into OUTPUT, one JSON line each: entities with
    character offsets, labels and confidences, or an error record. Exits 1
    (after writing everything) when any record became an error record."""
    from ..bulk.readers import plan_inputs
    from ..bulk.runner import annotate, check_output
    from ..files import InputFileError

    if len(paths) < 2:
        fail("Give at least one input file and then the output .jsonl file.")
    *inputs, output = paths
    try:
        # Checked before the model loads, so that a typo costs no waiting.
        if batch_size < 1 or n_process < 1:
            raise InputFileError(f"--{'batch-size' if batch_size < 1 else 'n-process'} must be at least 1")
        check_output(plan_inputs(inputs, fmt), output)
    except InputFileError as err:
        fail(str(err))
    if gpu_id >= 0:
        import spacy

        spacy.require_gpu(gpu_id)
    nlp = load_pipeline(model)
    try:
        summary = annotate(nlp, inputs, output, fmt=fmt, batch_size=batch_size, n_process=n_process,
                           resume=resume, progress=progress)
    except InputFileError as err:
        fail(str(err))
    except OSError as err:
        fail(f"{err.filename or output}: {err.strerror or err}")
    text = (f"{summary.written} documents annotated ({summary.entities} entities), "
            f"{summary.errors} error records, {summary.skipped} already done -> {output}")
    if summary.errors:
        msg.warn(text)
        fail(f"{summary.errors} records could not be annotated; first: {summary.first_error}")
    msg.good(text)
