"""PubMed/MEDLINE XML (the yearly baseline and the daily update files).

A file is a `<PubmedArticleSet>` of `<PubmedArticle>` (and
`<PubmedBookArticle>`) records, and update files also hold
`<DeleteCitation>` blocks listing PMIDs withdrawn since the baseline.

The file is cut into records by their tags and every record is parsed on
its own. So memory holds one record at a time whatever the file size, each
record's line is known, and a malformed record costs one error item while
the records after it are still read. A file that breaks off (a truncated
download or gzip) ends with an error item for the record it broke in.
"""
import re
import xml.etree.ElementTree as ET
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, List, Optional, Union

PathLike = Union[str, Path]
_RECORD_TAGS = (b"PubmedArticle", b"PubmedBookArticle", b"DeleteCitation")
_START = re.compile(rb"<(PubmedArticle|PubmedBookArticle|DeleteCitation)(?=[\s>/])")


@dataclass
class MedlineItem:
    """One record of a MEDLINE file.

    pmid (Optional[str]): The PMID (None where it could not be read).
    line (int): The line the record starts on.
    text (Optional[str]): Title and abstract, one paragraph per line.
    error (Optional[str]): "file:line: problem" for an unusable record.
    deleted (List[str]): For a `<DeleteCitation>`: the PMIDs it withdraws.
    """

    pmid: Optional[str]
    line: int
    text: Optional[str] = None
    error: Optional[str] = None
    deleted: List[str] = field(default_factory=list)


def iter_lines(path: Path, chunk_size: int = 1 << 16) -> Iterator[bytes]:
    """The lines of a file (gzip decompressed), each ending in b"\\n" but
    maybe the last. A gzip stream that breaks off still yields every complete
    line before the break, then raises EOFError: a buffered GzipFile would
    drop what sits in its last buffer.
    """
    gzipped = path.name.endswith(".gz")
    pending = b""
    with path.open("rb") as f:
        decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS) if gzipped else None
        while True:
            chunk = f.read(chunk_size)
            if decompressor is not None:
                data = decompressor.decompress(chunk) if chunk else decompressor.flush()
                # Concatenated gzip members: start over on what is left.
                while decompressor.eof and decompressor.unused_data:
                    rest = decompressor.unused_data
                    decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
                    data += decompressor.decompress(rest)
            else:
                data = chunk
            pending += data
            *lines, pending = pending.split(b"\n")
            for line in lines:
                yield line + b"\n"
            if not chunk:
                break
        if pending:
            yield pending
        if decompressor is not None and not decompressor.eof:
            raise EOFError("compressed file ended before the end-of-stream marker")


def read_medline(path: PathLike) -> Iterator[MedlineItem]:
    """Stream the records of a PubMed/MEDLINE XML file (gzip allowed).

    path (PathLike): The file.
    YIELDS (MedlineItem): Articles (with text), deletions, and error items.
    """
    path = Path(path)
    buffer: List[bytes] = []
    tag: Optional[bytes] = None
    start_line = 0
    n = 0
    try:
        for n, line in enumerate(iter_lines(path), start=1):
            rest = line
            while rest:
                if tag is None:
                    match = _START.search(rest)
                    if match is None:
                        break
                    tag, start_line, rest = match.group(1), n, rest[match.start():]
                    buffer = []
                end = rest.find(b"</" + tag + b">")
                if end < 0:
                    buffer.append(rest)
                    break
                stop = end + len(tag) + 3
                buffer.append(rest[:stop])
                yield _parse(b"".join(buffer), tag, path, start_line)
                tag, buffer, rest = None, [], rest[stop:]
    except (EOFError, OSError, zlib.error) as err:
        yield MedlineItem(None, n + 1, error=f"{path}:{n + 1}: the file breaks off ({err}); records after this are lost")
        return
    if tag is not None:
        yield MedlineItem(None, start_line, error=f"{path}:{start_line}: <{tag.decode()}> is never closed (truncated file)")


def _parse(data: bytes, tag: bytes, path: Path, line: int) -> MedlineItem:
    try:
        element = ET.fromstring(data)
    except ET.ParseError as err:
        pmid = re.search(rb"<PMID[^>]*>\s*(\d+)\s*</PMID>", data)
        return MedlineItem(
            pmid.group(1).decode() if pmid else None,
            line,
            error=f"{path}:{line + err.position[0] - 1}: malformed <{tag.decode()}> ({err})",
        )
    if tag == b"DeleteCitation":
        return MedlineItem(None, line, deleted=[(p.text or "").strip() for p in element.iter("PMID") if (p.text or "").strip()])
    pmid_element = element.find(".//PMID")
    pmid = (pmid_element.text or "").strip() if pmid_element is not None else ""
    if not pmid:
        return MedlineItem(None, line, error=f"{path}:{line}: <{tag.decode()}> has no PMID")
    paragraphs = []
    title = element.find(".//ArticleTitle")
    if title is None:
        title = element.find(".//BookTitle")
    if title is not None:
        paragraphs.append(_text(title))
    abstract = element.find(".//Abstract")
    if abstract is not None:
        paragraphs.extend(_text(part) for part in abstract.iter("AbstractText"))
    paragraphs = [p for p in paragraphs if p]
    if not paragraphs:
        return MedlineItem(pmid, line, error=f"{path}:{line}: PMID {pmid} has no title or abstract text")
    return MedlineItem(pmid, line, text="\n".join(paragraphs))


def _text(element: ET.Element) -> str:
    # Inline markup (<i>, <sup>, <sub>, MathML) keeps its text; runs of
    # whitespace from the XML layout become one space.
    return " ".join("".join(element.itertext()).split())
