"""Run bulk annotation: inputs in, every record out exactly once.

The runner is the only place that decides what is annotated: it reads
records (`readers`), skips what the output already holds (`writer`), turns
duplicate ids into error records, feeds `nlp.pipe` in chunks and writes one
line per record in input order. A different backend (Ray, issue 15) reuses
`readers`, `writer` and `annotate_chunk` and replaces only this loop.
"""
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Sequence, Tuple, Union

from spacy.language import Language
from spacy.tokens import Doc

from ..files import InputFileError
from ..corpora import jsonl
from ..pipeline.sentences import replace_plain_sentencizer
from .readers import InputFile, Record, plan_inputs, read_records
from .workers import workers_die_with_parent
from .writer import JsonlOutput, OutputFileError


@dataclass
class Summary:
    """What one run of `annotate` did."""

    written: int = 0
    errors: int = 0
    skipped: int = 0
    entities: int = 0
    error_ids: List[str] = field(default_factory=list)
    first_error: str = ""


def doc_to_record(doc: Doc, doc_id: str, keep_text: bool = True) -> Dict[str, Any]:
    """The output line of an annotated document (the JSONL corpus record, so
    `convert --from jsonl` reads it back): `doc.ents` with offsets, labels,
    confidences and the heads that found them, and every head's span group."""
    record = jsonl.doc_to_record(doc, doc_id, span_groups=True, keep_text=keep_text)
    record["id"] = doc_id  # the input record's id, whatever the doc carries
    return record


def deletion_record(record: Record) -> Dict[str, Any]:
    """The output line of a MEDLINE `<DeleteCitation>`: the PMIDs that an
    update file withdraws. Earlier outputs are not touched (nothing is
    deleted that this run did not write); consumers apply the list."""
    return {"id": record.id, "file": record.file, "line": record.line, "deleted": record.deleted}


def error_record(record: Record) -> Dict[str, Any]:
    """The output line of a record that could not be read or annotated."""
    return {"id": record.id, "file": record.file, "line": record.line, "error": record.error}


def check_output(inputs: Sequence[InputFile], output: Path) -> None:
    """Refuse an output that is one of the inputs, or looks like an input
    given where the output was meant (a forgotten output path)."""
    if output.is_dir():
        raise OutputFileError(f"{output}: output is a folder; give a .jsonl file name")
    name = output.name
    if not name.endswith(".jsonl"):
        raise OutputFileError(
            f"{output}: the output (the last path) must end in .jsonl; was the output path forgotten?"
        )
    for source in inputs:
        same = output.exists() and source.path.exists() and output.resolve() == source.path.resolve()
        if same:
            raise OutputFileError(f"{output}: the output is also an input; refusing to write over it")


def annotate(
    nlp: Language,
    inputs: Iterable[Union[str, Path]],
    output: Union[str, Path],
    *,
    fmt: str = "auto",
    batch_size: int = 64,
    n_process: int = 1,
    resume: bool = True,
    progress: bool = True,
) -> Summary:
    """Annotate every document of `inputs` into the JSONL file `output`.

    Every input record gets exactly one output line: its entities, or an
    error record {"id", "file", "line", "error"}. A record whose id was seen
    before in this run's inputs is an error record too. Everything about the
    inputs and the output is checked before anything is written.

    nlp (Language): The pipeline.
    inputs (Iterable[Union[str, Path]]): Input files (see `readers`).
    output (Union[str, Path]): Output .jsonl, appended to.
    fmt (str): Input format, or "auto" per file.
    batch_size (int): Documents per `nlp.pipe` batch (>= 1).
    n_process (int): Processes for `nlp.pipe` (>= 1).
    resume (bool): Skip records already in the output; if False, start
        afresh (only annotate's own output is ever emptied).
    progress (bool): Show a progress bar (tqdm).
    RETURNS (Summary): Counts of what was written.
    """
    from tqdm import tqdm

    if batch_size < 1:
        raise InputFileError(f"--batch-size must be at least 1, not {batch_size}")
    if n_process < 1:
        raise InputFileError(f"--n-process must be at least 1, not {n_process}")
    output = Path(output)
    # Pipelines trained with spaCy's plain sentencizer would cut "E. coli"
    # in raw text; read it as new pipelines do (docs/segmentation.md).
    replace_plain_sentencizer(nlp)
    planned = plan_inputs(list(inputs), fmt)
    check_output(planned, output)
    writer = JsonlOutput(output, resume=resume)
    summary = Summary()
    records = _todo(planned, writer.done, summary)
    with writer, tqdm(disable=not progress, unit="doc") as bar, workers_die_with_parent(n_process > 1):
        for chunk in _chunks(records, batch_size * n_process * 4):
            for record, result in annotate_chunk(nlp, chunk, batch_size, n_process):
                if "error" in result:
                    summary.errors += 1
                    summary.error_ids.append(record.id)
                    summary.first_error = summary.first_error or result["error"]
                else:
                    summary.written += 1
                    summary.entities += len(result.get("entities", ()))
                writer.write(result)
                bar.update(1)
            writer.flush()
    return summary


def _todo(inputs: Sequence[InputFile], done: Counter, summary: Summary) -> Iterator[Record]:
    # The k-th record with a given id is done when the output holds at least
    # k records of that id; so duplicates resume exactly, too.
    seen: Counter = Counter()
    first: Dict[str, str] = {}
    for source in inputs:
        for record in read_records(source):
            seen[record.id] += 1
            if done[record.id] >= seen[record.id]:
                summary.skipped += 1
                continue
            where = f"{record.file}:{record.line}"
            if seen[record.id] > 1 and record.error is None:
                record.text = None
                record.error = f"{where}: duplicate id {record.id!r} (first at {first.get(record.id, 'an earlier run')})"
            first.setdefault(record.id, where)
            yield record


def _chunks(records: Iterator[Record], size: int) -> Iterator[List[Record]]:
    chunk: List[Record] = []
    for record in records:
        chunk.append(record)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def annotate_chunk(
    nlp: Language, chunk: List[Record], batch_size: int, n_process: int
) -> Iterator[Tuple[Record, Dict[str, Any]]]:
    """Annotate a chunk of records; yield each with its output line, in order.

    nlp (Language): The pipeline.
    chunk (List[Record]): Records, error records included.
    batch_size (int): Documents per `nlp.pipe` batch.
    n_process (int): Processes for `nlp.pipe`.
    YIELDS (Tuple[Record, Dict[str, Any]]): Record and output line.
    """
    readable = [r for r in chunk if r.error is None and r.deleted is None]
    results: Dict[int, Dict[str, Any]] = {}
    try:
        docs = nlp.pipe((r.text for r in readable), batch_size=batch_size, n_process=n_process)
        for record, doc in zip(readable, docs):
            results[id(record)] = doc_to_record(doc, record.id)
    except Exception:  # noqa: BLE001 - retried one by one below
        # Find the documents that fail, one at a time, so that one bad
        # document costs one error record and not its whole batch.
        for record in readable:
            if id(record) in results:
                continue
            try:
                results[id(record)] = doc_to_record(nlp(record.text), record.id)
            except Exception as err:  # noqa: BLE001 - every failure becomes a record
                record.error = f"{record.file}:{record.line}: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
    for record in chunk:
        if record.error is not None:
            yield record, error_record(record)
        elif record.deleted is not None:
            yield record, deletion_record(record)
        else:
            yield record, results[id(record)]
