"""Small file helpers shared across the package."""
import gzip
from pathlib import Path
from typing import IO, Any, Union

PathLike = Union[str, Path]


def open_file(path: PathLike, mode: str = "rt") -> IO[Any]:
    """Open a file, through gzip when its name ends in `.gz`.

    path (PathLike): The file.
    mode (str): "rt" (UTF-8 text, the default), "rb", "wt" or "wb".
    RETURNS (IO[Any]): The open file.
    """
    path = Path(path)
    if path.suffix == ".gz":
        return gzip.open(path, mode, encoding="utf-8") if "t" in mode else gzip.open(path, mode)
    return path.open(mode, encoding="utf-8") if "t" in mode else path.open(mode)
