"""Bulk annotation: a corpus of documents in, one JSON line per document out.

Input is JSON Lines (`{"id", "text"}`, or `{"pmid", "title", "abstract"}`),
PubTator (title and abstract lines), or plain text (one document per line),
gzip allowed. Every input record yields exactly one output line: its
entities with character offsets into the record's text, labels and
confidences, or an error record (`{"id", "line", "error"}`) when the record
cannot be read or annotated. The output is appended to and flushed as it
goes; re-running the same command skips the ids already written (a line
left half-written by a crash is dropped first), so a job over PubMed-sized
input can be stopped and resumed anywhere.
"""
import gzip
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Dict, Iterable, Iterator, List, Optional, Set, Tuple

from spacy.language import Language
from spacy.tokens import Doc

from .scores import get_score

FORMATS = ("auto", "jsonl", "pubtator", "text")


@dataclass
class Record:
    """One input document, or the reason it could not be read."""

    id: str
    line: int
    text: Optional[str] = None
    error: Optional[str] = None


@dataclass
class Summary:
    """What one run of `annotate` did."""

    written: int = 0
    errors: int = 0
    skipped: int = 0
    entities: int = 0
    error_ids: List[str] = field(default_factory=list)


def _open(path: Path) -> IO[str]:
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf8")
    return path.open(encoding="utf8")


def detect_format(path: Path) -> str:
    """jsonl, pubtator or text, from the file name and else the first line."""
    name = path.name[:-3] if path.name.endswith(".gz") else path.name
    if name.endswith((".jsonl", ".json")):
        return "jsonl"
    if name.endswith((".pubtator", ".pubtator.txt")):
        return "pubtator"
    with _open(path) as f:
        first = f.readline()
    if first.lstrip().startswith("{"):
        return "jsonl"
    if "|t|" in first:
        return "pubtator"
    return "text"


def read_records(path: Path, fmt: str = "auto") -> Iterator[Record]:
    """Yield the documents of a file, with an error record for each one that
    cannot be read (and the line it starts on)."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, not {fmt!r}")
    fmt = detect_format(path) if fmt == "auto" else fmt
    reader = {"jsonl": _read_jsonl, "pubtator": _read_pubtator, "text": _read_text}[fmt]
    with _open(path) as f:
        yield from reader(f, path)


def _read_jsonl(f: IO[str], path: Path) -> Iterator[Record]:
    for n, line in enumerate(f, start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as err:
            yield Record(f"{path.name}:{n}", n, error=f"{path}:{n}: invalid JSON ({err.msg})")
            continue
        if not isinstance(value, dict):
            yield Record(f"{path.name}:{n}", n, error=f"{path}:{n}: expected a JSON object")
            continue
        doc_id = str(value.get("id", value.get("pmid", f"{path.name}:{n}")))
        if isinstance(value.get("text"), str):
            yield Record(doc_id, n, value["text"])
        elif isinstance(value.get("title"), str) or isinstance(value.get("abstract"), str):
            parts = [value.get("title") or "", value.get("abstract") or ""]
            yield Record(doc_id, n, " ".join(p for p in parts if p))
        else:
            yield Record(doc_id, n, error=f"{path}:{n}: no \"text\" (or \"title\"/\"abstract\") string field")


def _read_pubtator(f: IO[str], path: Path) -> Iterator[Record]:
    current: Optional[Record] = None
    for n, line in enumerate(f, start=1):
        line = line.rstrip("\n")
        parts = line.split("|", 2)
        if len(parts) == 3 and parts[1] in ("t", "a"):
            if current is not None and current.id != parts[0]:
                yield current
                current = None
            if current is None:
                current = Record(parts[0], n, parts[2])
            else:
                current.text = f"{current.text} {parts[2]}"
        elif not line.strip() and current is not None:
            yield current
            current = None
    if current is not None:
        yield current


def _read_text(f: IO[str], path: Path) -> Iterator[Record]:
    for n, line in enumerate(f, start=1):
        if line.strip():
            yield Record(f"{path.name}:{n}", n, line.rstrip("\n"))


def doc_to_record(doc: Doc, doc_id: str) -> Dict[str, Any]:
    """The output line of an annotated document: `doc.ents` and, for
    components with several heads, every span group, with character offsets
    into the input text and confidences."""

    def spans(group: Iterable) -> List[Dict[str, Any]]:
        return [
            {"start": s.start_char, "end": s.end_char, "label": s.label_, "text": s.text, "score": get_score(s)}
            for s in group
        ]

    record: Dict[str, Any] = {"id": doc_id, "entities": spans(doc.ents)}
    if len(doc.spans) > 1:
        record["spans"] = {key: spans(group) for key, group in doc.spans.items()}
    return record


def done_ids(output: Path) -> Set[str]:
    """Ids already in the output. A last line without its newline (a crash
    mid-write) is cut off so that the record is written again."""
    if not output.exists():
        return set()
    data = output.read_bytes()
    if data and not data.endswith(b"\n"):
        cut = data.rfind(b"\n") + 1
        with output.open("r+b") as f:
            f.truncate(cut)
        data = data[:cut]
    return {json.loads(line)["id"] for line in data.decode("utf8").splitlines() if line.strip()}


def annotate(
    nlp: Language,
    inputs: Iterable[Path],
    output: Path,
    *,
    fmt: str = "auto",
    batch_size: int = 64,
    n_process: int = 1,
    resume: bool = True,
    progress: bool = True,
) -> Summary:
    """Annotate every document of `inputs` into the JSONL file `output`.

    nlp (Language): The pipeline.
    inputs (Iterable[Path]): Input files (see module docstring).
    output (Path): Output JSONL, appended to.
    fmt (str): Input format, or "auto" per file.
    batch_size (int): Documents per `nlp.pipe` batch.
    n_process (int): Processes for `nlp.pipe`.
    resume (bool): Skip ids already in the output; if False, start afresh.
    progress (bool): Show a progress bar (tqdm).
    RETURNS (Summary): Counts of what was written.
    """
    from tqdm import tqdm

    output.parent.mkdir(parents=True, exist_ok=True)
    if not resume and output.exists():
        output.unlink()
    seen = done_ids(output)
    summary = Summary()

    def todo() -> Iterator[Record]:
        for path in inputs:
            for record in read_records(Path(path), fmt):
                if record.id in seen:
                    summary.skipped += 1
                    continue
                seen.add(record.id)
                yield record

    with output.open("a", encoding="utf8") as out, tqdm(disable=not progress, unit="doc") as bar:
        for chunk in _chunks(todo(), batch_size * max(1, n_process) * 4):
            for record, result in _annotate_chunk(nlp, chunk, batch_size, n_process):
                if "error" in result:
                    summary.errors += 1
                    summary.error_ids.append(record.id)
                else:
                    summary.written += 1
                    summary.entities += len(result["entities"])
                out.write(json.dumps(result, ensure_ascii=False) + "\n")
                bar.update(1)
            out.flush()
    return summary


def _chunks(records: Iterator[Record], size: int) -> Iterator[List[Record]]:
    chunk: List[Record] = []
    for record in records:
        chunk.append(record)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _annotate_chunk(
    nlp: Language, chunk: List[Record], batch_size: int, n_process: int
) -> Iterator[Tuple[Record, Dict[str, Any]]]:
    readable = [r for r in chunk if r.error is None]
    results: Dict[int, Dict[str, Any]] = {}
    try:
        docs = nlp.pipe((r.text for r in readable), batch_size=batch_size, n_process=n_process)
        for record, doc in zip(readable, docs):
            results[id(record)] = doc_to_record(doc, record.id)
    except Exception:
        # Find the documents that fail, one at a time, so that one bad
        # document costs one error record and not its whole batch.
        for record in readable:
            if id(record) in results:
                continue
            try:
                results[id(record)] = doc_to_record(nlp(record.text), record.id)
            except Exception as err:  # noqa: BLE001 - every failure becomes a record
                results[id(record)] = {"id": record.id, "line": record.line, "error": f"{type(err).__name__}: {err}"}
    for record in chunk:
        if record.error is not None:
            yield record, {"id": record.id, "line": record.line, "error": record.error}
        else:
            yield record, results[id(record)]
