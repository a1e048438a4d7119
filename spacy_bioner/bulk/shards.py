"""Sharded, resumable output for runs over many input files.

Each input file gets its own output shard, `OUTPUT_DIR/<input name>.jsonl`,
written by the same runner as a single-file run (so a shard resumes exactly
like `annotate` does), and a completion marker `<shard>.done` (JSON with
the counts) written atomically once the shard holds every record of its
input. A restart skips every shard that has its marker without opening it
and resumes the one it was working on; the resume bookkeeping of a run is
therefore bounded by the size of one shard, whatever the total.
"""
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, List, Sequence, Union

from spacy.language import Language

from ..files import atomic_path
from .readers import InputFile, plan_inputs
from .writer import OutputFileError

MARKER_SUFFIX = ".done"


@dataclass
class ShardSummary:
    """What a sharded run did: shards finished now or before, and totals."""

    finished: List[str] = field(default_factory=list)
    skipped: List[str] = field(default_factory=list)
    written: int = 0
    errors: int = 0
    entities: int = 0


def shard_path(output_dir: Path, source: InputFile) -> Path:
    """The output shard of an input: its source name, made a safe file name."""
    name = source.source[:-3] if source.source.endswith(".gz") else source.source
    return output_dir / (re.sub(r"[^\w.-]+", "_", name).strip("_") + ".jsonl")


def marker_path(shard: Path) -> Path:
    return shard.with_name(shard.name + MARKER_SUFFIX)


def plan_shards(inputs: Sequence[Union[str, Path]], output_dir: Union[str, Path], fmt: str = "auto") -> List[InputFile]:
    """Check inputs and output folder before anything is written.

    RETURNS (List[InputFile]): The inputs, in order.
    """
    output_dir = Path(output_dir)
    if output_dir.exists() and not output_dir.is_dir():
        raise OutputFileError(f"{output_dir}: the output must be a folder for sharded output")
    planned = plan_inputs(list(inputs), fmt)
    for source in planned:
        shard = shard_path(output_dir, source).resolve()
        if source.path.resolve() in (shard, marker_path(shard)):
            raise OutputFileError(f"{source.path}: an input would be its own output shard; choose another --output-dir")
    return planned


def write_marker(shard: Path, counts: dict) -> None:
    """Mark a shard complete (atomically: a marker that exists is whole)."""
    with atomic_path(marker_path(shard)) as tmp:
        tmp.write_text(json.dumps(counts) + "\n", encoding="utf8")


def annotate_sharded(
    nlp: Language,
    inputs: Iterable[Union[str, Path]],
    output_dir: Union[str, Path],
    *,
    fmt: str = "auto",
    batch_size: int = 64,
    n_process: int = 1,
    progress: bool = True,
) -> ShardSummary:
    """Annotate each input file into its own shard under `output_dir`.

    nlp (Language): The pipeline.
    inputs (Iterable[Union[str, Path]]): Input files.
    output_dir (Union[str, Path]): Folder for the shards and markers.
    fmt (str): Input format, or "auto" per file.
    batch_size (int): Documents per `nlp.pipe` batch.
    n_process (int): Processes for `nlp.pipe`.
    progress (bool): Show progress bars.
    RETURNS (ShardSummary): What was done.
    """
    from .runner import annotate

    output_dir = Path(output_dir)
    planned = plan_shards(list(inputs), output_dir, fmt)
    output_dir.mkdir(parents=True, exist_ok=True)
    summary = ShardSummary()
    for source in planned:
        shard = shard_path(output_dir, source)
        if marker_path(shard).exists():
            summary.skipped.append(shard.name)
            continue
        result = annotate(nlp, [source.path], shard, fmt=source.fmt, batch_size=batch_size,
                          n_process=n_process, progress=progress)
        write_marker(shard, {"input": str(source.path), "written": result.written, "errors": result.errors,
                             "entities": result.entities, "skipped_as_done": result.skipped})
        summary.finished.append(shard.name)
        summary.written += result.written
        summary.errors += result.errors
        summary.entities += result.entities
    return summary
