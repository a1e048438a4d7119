"""The resumable JSON Lines output of bulk annotation.

One record per line, appended and flushed as it goes. On resume the file is
streamed (never read whole) and only a count per id is kept; a last line
without its newline (a crash mid-write) is cut off first. A file that is not
annotate's own output is never appended to, emptied or replaced.
"""
import json
import os
from collections import Counter
from pathlib import Path
from typing import Any, BinaryIO, Dict, Iterator, Optional, Tuple

from ..files import InputFileError

# Every record annotate writes has "id" and one of these keys.
RECORD_KEYS = ("entities", "error")
# How every line annotate writes starts ("id" is always the first key): a
# last line cut off by a crash is only dropped when it starts like this.
RECORD_START = b'{"id": '


class OutputFileError(InputFileError):
    """An output that cannot be appended to. The message starts with the path."""


def encode_record(record: Dict[str, Any]) -> bytes:
    """One output line. Text stays readable (ensure_ascii=False) unless it
    holds lone surrogates (from JSON escapes such as "\\ud800"), which UTF-8
    cannot encode: that record is written with ASCII escapes, still valid
    JSON that reads back to the same string."""
    try:
        return (json.dumps(record, ensure_ascii=False) + "\n").encode("utf8")
    except UnicodeEncodeError:
        return (json.dumps(record) + "\n").encode("ascii")


def _cut_partial_last_line(path: Path) -> None:
    # Scan back from the end in blocks: the file may be gigabytes.
    with path.open("r+b") as f:
        size = f.seek(0, os.SEEK_END)
        if size == 0:
            return
        f.seek(size - 1)
        if f.read(1) == b"\n":
            return
        pos = size
        while pos > 0:
            step = min(65536, pos)
            pos -= step
            f.seek(pos)
            block = f.read(step)
            cut = block.rfind(b"\n")
            if cut >= 0:
                f.truncate(pos + cut + 1)
                return
        f.truncate(0)


def iter_output(path: Path) -> Iterator[Tuple[int, Dict[str, Any]]]:
    """Stream the records of an annotate output, checking each one.

    path (Path): The output file.
    YIELDS (Tuple[int, Dict[str, Any]]): Line number and record.
    """
    with path.open("rb") as f:
        for n, raw in enumerate(f, start=1):
            if not raw.strip():
                continue
            if not raw.endswith(b"\n") and raw.startswith(RECORD_START):
                return  # half-written by a crash; cut off before appending
            try:
                record = json.loads(raw.decode("utf8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as err:
                raise OutputFileError(
                    f"{path}:{n}: not an annotate record ({type(err).__name__}); refusing to "
                    f"append to a file that annotate did not write"
                ) from None
            if not (isinstance(record, dict) and isinstance(record.get("id"), str)
                    and any(k in record for k in RECORD_KEYS)):
                raise OutputFileError(
                    f'{path}:{n}: not an annotate record (no "id" with "entities" or "error"); '
                    f"refusing to append to a file that annotate did not write"
                )
            yield n, record


def done_counts(path: Path) -> Counter:
    """How many records of each id the output already holds; memory grows
    with the number of ids, not with the size of the file.

    path (Path): The output file (it may not exist).
    RETURNS (Counter): Records per id.
    """
    counts: Counter = Counter()
    if not path.exists():
        return counts
    for _, record in iter_output(path):
        counts[record["id"]] += 1
    return counts


class JsonlOutput:
    """Appends records to an annotate output.

    path (Path): The output file.
    resume (bool): Keep what is there (and report it via `done`); if False,
        empty the file first, which is only done to annotate's own output.
    """

    def __init__(self, path: Path, resume: bool = True) -> None:
        self.path = Path(path)
        if self.path.is_dir():
            raise OutputFileError(f"{self.path}: output is a folder; give a .jsonl file name")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Validates every line, whether resuming or starting afresh, before
        # anything is cut or appended.
        self.done = done_counts(self.path)
        if self.path.exists():
            _cut_partial_last_line(self.path)
        if not resume:
            self.done = Counter()
            if self.path.exists():
                self.path.open("wb").close()
        self._file: Optional[BinaryIO] = None

    def __enter__(self) -> "JsonlOutput":
        self._file = self.path.open("ab")
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def write(self, record: Dict[str, Any]) -> None:
        assert self._file is not None, "use JsonlOutput as a context manager"
        self._file.write(encode_record(record))

    def flush(self) -> None:
        if self._file is not None:
            self._file.flush()
