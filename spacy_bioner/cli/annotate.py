"""`spacy-bioner annotate`: bulk annotation with progress, resume and error records."""
from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer
from wasabi import msg

from . import app, fail
from .util import load_pipeline


class Backend(str, Enum):
    """Where sharded annotation runs."""

    local = "local"
    ray = "ray"


@app.command("annotate")
def annotate_cli(
    model: str = typer.Argument(..., help="Pipeline name or folder"),
    paths: List[Path] = typer.Argument(..., help="Input files (JSONL, PubTator, MEDLINE XML or text; .gz allowed), then the OUTPUT .jsonl (unless --output-dir)"),
    fmt: str = typer.Option("auto", "--format", help="auto | jsonl | pubtator | medline | text (a document per line) | paragraphs (blank-line separated) | document (one per file)"),
    output_dir: Optional[Path] = typer.Option(None, "--output-dir", "-o", help="Sharded output: one .jsonl shard per input file in this folder, each marked complete with a .done file; every PATH is then an input"),
    backend: Backend = typer.Option(Backend.local, "--backend", help="Sharded output on this machine (local) or on a Ray cluster (ray)"),
    ray_actors: int = typer.Option(2, "--ray-actors", min=1, help="Ray: actors in the pool, each holding the pipeline"),
    ray_address: Optional[str] = typer.Option(None, "--ray-address", help="Ray: cluster to join (default RAY_ADDRESS, else a local cluster)"),
    batch_size: int = typer.Option(64, "--batch-size", help="Documents per nlp.pipe batch"),
    n_process: int = typer.Option(1, "--n-process", help="Processes for nlp.pipe"),
    threads: int = typer.Option(0, "--threads", min=0, help="Torch threads in this process (local backend): N > 1 decodes the length groups of each batch in N threads, same output as 1; 0 keeps torch's default (all cores)"),
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

    if gpu_id >= 0 and backend == Backend.local:
        import spacy

        spacy.require_gpu(gpu_id)
    if threads:
        import torch

        torch.set_num_threads(threads)
    if output_dir is not None:
        _annotate_sharded(model, paths, output_dir, fmt, batch_size, n_process, progress, backend, ray_actors, ray_address)
        return
    if backend != Backend.local:
        fail("--backend ray writes sharded output: give --output-dir")
    if len(paths) < 2:
        fail("Give at least one input file and then the output .jsonl file.")
    *inputs, output = paths
    try:
        _check_counts(batch_size, n_process)
        check_output(plan_inputs(inputs, fmt), output)
    except InputFileError as err:
        fail(str(err))
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


def _annotate_sharded(model: str, inputs: List[Path], output_dir: Path, fmt: str, batch_size: int, n_process: int,
                      progress: bool, backend: Backend, actors: int, address: Optional[str]) -> None:
    from ..bulk.shards import annotate_sharded, plan_shards
    from ..files import InputFileError

    try:
        _check_counts(batch_size, n_process)
        plan_shards(inputs, output_dir, fmt)
        if backend == Backend.ray:
            from ..bulk.ray_backend import annotate_ray

            summary = annotate_ray(model, inputs, output_dir, fmt=fmt, batch_size=batch_size, actors=actors, address=address)
        else:
            summary = annotate_sharded(load_pipeline(model), inputs, output_dir, fmt=fmt, batch_size=batch_size,
                                       n_process=n_process, progress=progress)
    except (InputFileError, ImportError) as err:
        fail(str(err))
    except OSError as err:
        fail(f"{err.filename or output_dir}: {err.strerror or err}")
    text = (f"{len(summary.finished)} shard(s) finished, {len(summary.skipped)} already complete: "
            f"{summary.written} documents ({summary.entities} entities), {summary.errors} error records -> {output_dir}")
    if summary.errors:
        msg.warn(text)
        fail(f"{summary.errors} records could not be annotated (see the error records in {output_dir})")
    msg.good(text)


def _check_counts(batch_size: int, n_process: int) -> None:
    # Checked before the model loads, so that a typo costs no waiting.
    from ..files import InputFileError

    if batch_size < 1 or n_process < 1:
        raise InputFileError(f"--{'batch-size' if batch_size < 1 else 'n-process'} must be at least 1")
