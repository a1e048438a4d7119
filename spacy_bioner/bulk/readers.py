"""Input readers for bulk annotation: JSON Lines, PubTator and plain text,
gzip allowed, read as bytes so that one bad record costs one error record.

Lines are split on b"\\n" only (never on what `str.splitlines` also splits
on: \\r, U+2028, U+0085 ...), each line is decoded on its own, and a file that
breaks off (a truncated gzip) ends with an error record for the rest, after
every record that could still be read.
"""
import json
import re
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Iterator, List, Optional, Sequence, Tuple, Union

from ..files import InputFileError, open_binary

# "text": one document per line; "paragraphs": documents separated by blank
# lines (hard-wrapped abstracts); "document": the whole file is one document.
FORMATS = ("auto", "jsonl", "pubtator", "medline", "text", "paragraphs", "document")
_XML_START = (b"<?xml", b"<!DOCTYPE PubmedArticleSet", b"<PubmedArticleSet")
# How a PubTator title/abstract line starts: "PMID|t|" or "PMID|a|".
_PUBTATOR_TEXT = re.compile(rb"^([^|\t\n]+)\|([ta])\|")
# JSON escapes can spell lone surrogates ("\ud800"): not text, and spaCy's
# string store cannot encode them.
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass
class Record:
    """One input document, or the reason it could not be read.

    id (str): The document id (from the record, else "SOURCE:LINE").
    file (str): The input file, as given.
    line (int): The line the record starts on (1-based).
    text (Optional[str]): The text to annotate; None for an error record.
    error (Optional[str]): "file:line: problem" when the record is unusable.
    """

    id: str
    file: str
    line: int
    text: Optional[str] = None
    error: Optional[str] = None
    deleted: Optional[List[str]] = None  # a MEDLINE <DeleteCitation>: the PMIDs it withdraws


@dataclass
class InputFile:
    """An input of a run: its path, resolved format and the name that
    generated ids start with (the file name, or the path where two inputs
    share a file name)."""

    path: Path
    fmt: str
    source: str


def sniff_format(path: Path) -> Tuple[str, int]:
    """The format a file's content looks like, from its first non-blank line.

    RETURNS (Tuple[str, int]): "jsonl", "pubtator", "text" or "empty", and the
        line that decided it.
    """
    with open_binary(path) as f:
        try:
            for n, line in enumerate(f, start=1):
                stripped = line.strip()
                if not stripped:
                    continue
                if stripped.startswith(b"{"):
                    return "jsonl", n
                if stripped.startswith(_XML_START):
                    return "medline", n
                if _PUBTATOR_TEXT.match(line):
                    return "pubtator", n
                return "text", n
        except (EOFError, OSError, zlib.error) as err:
            raise InputFileError(f"{path}: cannot read ({err})") from None
    return "empty", 0


def detect_format(path: Path) -> str:
    """jsonl or pubtator when the content looks like it, else from the file
    name (.jsonl, .json, .pubtator), else text. Opening the file here also
    checks that it can be read (a `.gz` that is not gzip fails)."""
    sniffed, _ = sniff_format(path)
    if sniffed in ("jsonl", "pubtator", "medline"):
        return sniffed
    name = path.name[:-3] if path.name.endswith(".gz") else path.name
    if name.endswith(".xml"):
        return "medline"
    if name.endswith((".jsonl", ".json")):
        return "jsonl"
    if name.endswith((".pubtator", ".pubtator.txt")):
        return "pubtator"
    return "paragraphs" if _has_blank_line_between_text(path) else "text"


def _has_blank_line_between_text(path: Path, limit: int = 1 << 20) -> bool:
    # Plain text with blank lines between its lines holds paragraphs (a
    # hard-wrapped abstract must not become a document per line); without
    # any, it is a list of one document per line.
    seen_text = seen_blank = False
    read = 0
    with open_binary(path) as f:
        try:
            for line in f:
                read += len(line)
                if line.strip():
                    if seen_blank and seen_text:
                        return True
                    seen_text = True
                elif seen_text:
                    seen_blank = True
                if read > limit:
                    break
        except (EOFError, OSError, zlib.error):
            pass
    return False


def resolve_format(path: Path, fmt: str) -> str:
    """The format to read `path` in. An explicit format that contradicts the
    content (a JSONL file read as PubTator or text, ...) is an error: it would
    annotate nothing, or the markup, without a word.

    path (Path): The input file.
    fmt (str): One of FORMATS.
    RETURNS (str): "jsonl", "pubtator" or "text".
    """
    if fmt not in FORMATS:
        raise InputFileError(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    if fmt == "auto":
        return detect_format(path)
    sniffed, line = sniff_format(path)
    if sniffed in ("jsonl", "pubtator", "medline") and sniffed != fmt:
        raise InputFileError(f"{path}:{line}: looks like {sniffed}, not {fmt} (--format {fmt}); use --format {sniffed} or auto")
    return fmt


def plan_inputs(paths: Sequence[Union[str, Path]], fmt: str = "auto") -> List[InputFile]:
    """Check the inputs before anything is written, and name their sources.

    paths (Sequence[Union[str, Path]]): Input files.
    fmt (str): One of FORMATS.
    RETURNS (List[InputFile]): The inputs, in order.
    """
    files = [Path(p) for p in paths]
    for path in files:
        if not path.exists():
            raise InputFileError(f"{path}: input not found")
        if path.is_dir():
            raise InputFileError(f"{path}: input is a folder; give the files in it")
    names = [p.name for p in files]
    return [
        InputFile(path, resolve_format(path, fmt), path.name if names.count(path.name) == 1 else str(path))
        for path in files
    ]


def read_records(source: Union[InputFile, Path], fmt: str = "auto") -> Iterator[Record]:
    """Yield the documents of an input, and an error record for each one that
    cannot be read (naming the file and the line it starts on).

    source (Union[InputFile, Path]): An input from `plan_inputs`, or a path.
    fmt (str): The format when a path is given.
    YIELDS (Record): Records in file order.
    """
    if not isinstance(source, InputFile):
        source = plan_inputs([source], fmt)[0]
    if source.fmt == "medline":
        yield from _read_medline(source)
        return
    reader = {"jsonl": _read_jsonl, "pubtator": _read_pubtator, "text": _read_text,
              "paragraphs": _read_paragraphs, "document": _read_document}[source.fmt]
    with open_binary(source.path) as f:
        yield from reader(_lines(f, source), source)


class _Broken(Exception):
    """Raised inside the line stream where a file breaks off."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(reason)
        self.line = line


def _lines(f: BinaryIO, source: InputFile) -> Iterator[Tuple[int, bytes]]:
    n = 0
    try:
        for n, raw in enumerate(f, start=1):
            yield n, raw
    except (EOFError, OSError, zlib.error) as err:
        raise _Broken(n + 1, f"file breaks off after line {n} ({err or type(err).__name__})") from None


def _error(source: InputFile, line: int, problem: str, doc_id: Optional[str] = None) -> Record:
    return Record(doc_id or f"{source.source}:{line}", str(source.path), line,
                  error=f"{source.path}:{line}: {problem}")


def _decode(raw: bytes) -> Union[str, UnicodeDecodeError]:
    try:
        return raw.decode("utf8")
    except UnicodeDecodeError as err:
        return err


def _broken_tail(reader):
    """Turn the stream breaking off into a final error record."""

    def read(lines: Iterator[Tuple[int, bytes]], source: InputFile) -> Iterator[Record]:
        try:
            yield from reader(lines, source)
        except _Broken as err:
            yield _error(source, err.line, str(err))

    return read


def _doc_id(value: Any, source: InputFile, line: int) -> Union[str, Record, None]:
    for key in ("id", "pmid"):
        if key in value:
            raw = value[key]
            # bool is an int to Python, and 1.0 / "1" would make ids that
            # compare unequal yet print alike: only strings and integers.
            if isinstance(raw, bool) or not isinstance(raw, (str, int)) or not str(raw).strip():
                return _error(source, line, f'field "{key}": expected a non-empty string or integer, got {json.dumps(raw)[:40]}')
            return str(raw).strip()
    return None


@_broken_tail
def _read_jsonl(lines: Iterator[Tuple[int, bytes]], source: InputFile) -> Iterator[Record]:
    for n, raw in lines:
        if not raw.strip():
            continue
        line = _decode(raw)
        if isinstance(line, UnicodeDecodeError):
            yield _error(source, n, f"not valid UTF-8 (byte 0x{raw[line.start]:02x} at column {line.start + 1})")
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as err:
            yield _error(source, n, f"invalid JSON ({err.msg}, column {err.colno})")
            continue
        if not isinstance(value, dict):
            yield _error(source, n, f"expected a JSON object, got {type(value).__name__}")
            continue
        doc_id = _doc_id(value, source, n)
        if isinstance(doc_id, Record):
            yield doc_id
            continue
        doc_id = doc_id or f"{source.source}:{n}"
        text = value.get("text")
        if "text" in value:
            surrogate = _SURROGATE.search(text) if isinstance(text, str) else None
            if surrogate:
                yield _error(source, n, f'field "text": lone surrogate U+{ord(surrogate.group()):04X} at '
                                        f"character {surrogate.start()} is not valid Unicode", doc_id)
            elif isinstance(text, str):
                yield Record(doc_id, str(source.path), n, text)
            else:
                yield _error(source, n, f'field "text": expected a string, got {type(text).__name__}', doc_id)
            continue
        parts = [value.get("title"), value.get("abstract")]
        wrong = [k for k, v in zip(("title", "abstract"), parts) if v is not None and not isinstance(v, str)]
        if wrong:
            yield _error(source, n, f'field "{wrong[0]}": expected a string, got {type(value[wrong[0]]).__name__}', doc_id)
        elif any(parts) and _SURROGATE.search(" ".join(p for p in parts if p)):
            yield _error(source, n, 'field "title" or "abstract": a lone surrogate is not valid Unicode', doc_id)
        elif any(parts):
            yield Record(doc_id, str(source.path), n, " ".join(p for p in parts if p))
        else:
            yield _error(source, n, 'no "text" (or "title"/"abstract") string field', doc_id)


@_broken_tail
def _read_pubtator(lines: Iterator[Tuple[int, bytes]], source: InputFile) -> Iterator[Record]:
    # The document being read, kept outside the generator so that it can be
    # reported when the file breaks off in the middle of it.
    box: List[Optional[Record]] = [None]
    try:
        yield from _pubtator_docs(lines, source, box)
    except _Broken:
        if box[0] is not None:
            # Its abstract may be what was cut off: not annotated half.
            yield _error(source, box[0].line, "document cut off where the file breaks off", box[0].id)
        raise


def _pubtator_docs(lines: Iterator[Tuple[int, bytes]], source: InputFile, box: List[Optional[Record]]) -> Iterator[Record]:
    for n, raw in lines:
        body = raw.rstrip(b"\r\n")
        match = _PUBTATOR_TEXT.match(body)
        current = box[0]
        if match:
            doc_id = match.group(1).decode("utf8", "replace").strip()
            if current is not None and current.id != doc_id:
                box[0] = None
                yield current
                current = None
            text = _decode(body[match.end():])
            if current is None:
                current = box[0] = Record(doc_id, str(source.path), n, "")
            if isinstance(text, UnicodeDecodeError):
                current.text = None
                current.error = f"{source.path}:{n}: not valid UTF-8 (byte 0x{body[match.end() + text.start]:02x})"
            elif current.error is None:
                current.text = text if not current.text else f"{current.text} {text}"
        elif not body.strip():
            if current is not None:
                box[0] = None
                yield current
        elif current is not None and body.startswith(current.id.encode("utf8") + b"\t"):
            continue  # an annotation or relation line of the current document
        else:
            yield _error(source, n, "not a PubTator line (expected ID|t|, ID|a|, an annotation "
                                    "of the current document, or a blank line)")
    if box[0] is not None:
        current, box[0] = box[0], None
        yield current


@_broken_tail
def _read_text(lines: Iterator[Tuple[int, bytes]], source: InputFile) -> Iterator[Record]:
    for n, raw in lines:
        body = raw[:-1] if raw.endswith(b"\n") else raw
        body = body[:-1] if body.endswith(b"\r") else body
        if not body.strip():
            continue
        text = _decode(body)
        if isinstance(text, UnicodeDecodeError):
            yield _error(source, n, f"not valid UTF-8 (byte 0x{body[text.start]:02x} at column {text.start + 1})")
        else:
            yield Record(f"{source.source}:{n}", str(source.path), n, text)


def _text_record(source: InputFile, line: int, body: bytes) -> Record:
    text = _decode(body)
    if isinstance(text, UnicodeDecodeError):
        return _error(source, line, f"not valid UTF-8 (byte 0x{body[text.start]:02x} at offset {text.start})")
    return Record(f"{source.source}:{line}", str(source.path), line, text)


@_broken_tail
def _read_paragraphs(lines: Iterator[Tuple[int, bytes]], source: InputFile) -> Iterator[Record]:
    # Lines up to a blank line are one document, their line breaks kept, so
    # offsets index the file's own text of that paragraph.
    body: List[bytes] = []
    start = 0
    for n, raw in lines:
        if raw.strip():
            if not body:
                start = n
            body.append(raw)
        elif body:
            yield _text_record(source, start, b"".join(body).rstrip(b"\r\n"))
            body = []
    if body:
        yield _text_record(source, start, b"".join(body).rstrip(b"\r\n"))


@_broken_tail
def _read_document(lines: Iterator[Tuple[int, bytes]], source: InputFile) -> Iterator[Record]:
    body = b"".join(raw for _, raw in lines)
    if body.strip():
        record = _text_record(source, 1, body)
        record.id = source.source
        yield record


def _read_medline(source: InputFile) -> Iterator[Record]:
    from ..corpora.medline import read_medline

    for item in read_medline(source.path):
        doc_id = item.pmid or f"{source.source}:{item.line}"
        if item.deleted:
            yield Record(f"{source.source}:{item.line}:delete", str(source.path), item.line, deleted=item.deleted)
        elif item.error is not None:
            yield Record(doc_id, str(source.path), item.line, error=item.error)
        else:
            yield Record(doc_id, str(source.path), item.line, item.text)
