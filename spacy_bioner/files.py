"""File handling shared by the whole package: the one gzip-aware opener and
the one atomic writer.

Atomic outputs are written under a hidden temporary name that says whose it
is (`.NAME.spacy-bioner-PID.tmp`) and renamed into place when complete. A
process killed mid-write leaves its temporary behind; the next write of the
same output removes the temporaries of processes that no longer run.
Folders that an atomic write created carry a marker file, and only such a
folder (or an empty one) is ever replaced: a writer never deletes what it did
not create.
"""
import gzip
import io
import os
import re
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Iterator, TextIO, Union

PathLike = Union[str, Path]

GZIP_MAGIC = b"\x1f\x8b"
# Left in every folder written by `atomic_path(..., is_dir=True)`.
OUTPUT_MARKER = ".spacy-bioner-output"
_TMP_TAG = "spacy-bioner"


class InputFileError(ValueError):
    """A file that cannot be read at all. The message starts with the path."""


def is_gzip(path: PathLike) -> bool:
    """Whether a file's name ends in .gz (its content is then checked on opening)."""
    return str(path).endswith(".gz")


def open_binary(path: PathLike) -> BinaryIO:
    """Open a file for reading bytes, decompressing `.gz` files.

    A `.gz` file that is not gzip fails here, naming the file, rather than at
    the first read somewhere else.

    path (PathLike): The file.
    RETURNS (BinaryIO): A binary stream.
    """
    path = Path(path)
    if path.is_dir():
        raise InputFileError(f"{path}: is a folder, not a file")
    try:
        raw = path.open("rb")
    except OSError as err:
        raise InputFileError(f"{path}: cannot open ({err.strerror or err})") from None
    if not is_gzip(path):
        return raw
    if raw.read(2) != GZIP_MAGIC:
        raw.close()
        raise InputFileError(f"{path}: not a gzip file (the name ends in .gz)")
    raw.seek(0)
    return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]


def open_text(path: PathLike) -> TextIO:
    """Open a UTF-8 text file (gzip allowed) for reading, newlines untranslated.

    path (PathLike): The file.
    RETURNS (TextIO): A text stream.
    """
    return io.TextIOWrapper(open_binary(path), encoding="utf8", newline="")


def pid_alive(pid: int) -> bool:
    """Whether a process with this id runs (one of another user counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def temp_name(output: PathLike) -> Path:
    """The temporary sibling this process writes `output` under."""
    output = Path(output)
    return output.with_name(f".{output.name}.{_TMP_TAG}-{os.getpid()}.tmp")


def remove_stale_temps(output: PathLike) -> int:
    """Remove temporaries of `output` left by processes that no longer run.

    output (PathLike): The final file or folder.
    RETURNS (int): How many were removed.
    """
    output = Path(output)
    pattern = re.compile(re.escape(f".{output.name}.{_TMP_TAG}-") + r"(\d+)(\.old)?\.tmp")
    removed = 0
    if not output.parent.is_dir():
        return 0
    for sibling in output.parent.iterdir():
        match = pattern.fullmatch(sibling.name)
        if match and int(match.group(1)) != os.getpid() and not pid_alive(int(match.group(1))):
            shutil.rmtree(sibling, ignore_errors=True) if sibling.is_dir() else sibling.unlink(missing_ok=True)
            removed += 1
    return removed


def check_replaceable(output: PathLike, *, is_dir: bool = False) -> None:
    """Raise FileExistsError if writing `output` would destroy something that
    this package did not write: a folder that is neither empty nor marked as
    ours, a file where a folder goes or the reverse.

    output (PathLike): The final file or folder.
    is_dir (bool): Whether the output is a folder.
    """
    output = Path(output)
    if not output.exists():
        return
    if is_dir:
        if not output.is_dir():
            raise FileExistsError(f"{output}: exists and is not a folder; refusing to replace it")
        if any(output.iterdir()) and not (output / OUTPUT_MARKER).exists():
            raise FileExistsError(
                f"{output}: folder exists, is not empty and was not written by spacy-bioner; "
                f"refusing to replace it (choose a new or empty folder)"
            )
        if Path.cwd().resolve().is_relative_to(output.resolve()):
            raise FileExistsError(f"{output}: is the current folder or contains it; refusing to replace it")
    elif output.is_dir():
        raise FileExistsError(f"{output}: is a folder; give a file name")


@contextmanager
def atomic_path(output: PathLike, *, is_dir: bool = False) -> Iterator[Path]:
    """Yield a temporary sibling of `output`; on success it is renamed to
    `output` (replacing it), on error removed. So a half-written output never
    looks complete. See the module docstring for what may be replaced.

    output (PathLike): The final file or folder.
    is_dir (bool): Whether the output is a folder (the temp path is created).
    YIELDS (Path): The path to write to.
    """
    output = Path(output)
    check_replaceable(output, is_dir=is_dir)
    output.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(output)
    tmp = temp_name(output)
    if is_dir:
        tmp.mkdir()
        (tmp / OUTPUT_MARKER).touch()
    else:
        # Created with the usual permissions (umask applies).
        tmp.open("wb").close()
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True) if tmp.is_dir() else tmp.unlink(missing_ok=True)
        raise
    if is_dir and output.exists():
        old = output.with_name(f".{output.name}.{_TMP_TAG}-{os.getpid()}.old.tmp")
        output.rename(old)
        tmp.rename(output)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, output)
