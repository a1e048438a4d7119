"""Model integrity: checksums of a component's saved files, written at save
time and verified at load time, so that damaged weights fail loudly, naming
the file, instead of loading as a different model.

A component folder gets `checksums.json` ({"model": "sha256:...", "cfg":
...}). A folder without it (saved before this check existed) loads as
before; any failure while loading the weights is reported with the file.
"""
import hashlib
import json
from contextlib import contextmanager
from pathlib import Path
from typing import Dict, Iterator, Sequence, Union

CHECKSUMS = "checksums.json"
CHECKED_FILES = ("cfg", "model")


class ModelIntegrityError(ValueError):
    """A saved model file that is damaged or does not fit. Starts with the path."""


def sha256(path: Path) -> str:
    """The file's SHA-256, read in blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return f"sha256:{digest.hexdigest()}"


def write_checksums(folder: Union[str, Path], names: Sequence[str] = CHECKED_FILES) -> Dict[str, str]:
    """Write `checksums.json` for the files `names` of a component folder.

    folder (Union[str, Path]): The component's folder.
    names (Sequence[str]): Files to cover (those that exist).
    RETURNS (Dict[str, str]): File name to checksum.
    """
    folder = Path(folder)
    sums = {name: sha256(folder / name) for name in names if (folder / name).is_file()}
    (folder / CHECKSUMS).write_text(json.dumps(sums, indent=2, sort_keys=True) + "\n", encoding="utf8")
    return sums


def verify_checksums(folder: Union[str, Path]) -> None:
    """Raise ModelIntegrityError naming the first file whose content is not
    what was saved (or that is missing). No `checksums.json`: nothing to check.

    folder (Union[str, Path]): The component's folder.
    """
    folder = Path(folder)
    listing = folder / CHECKSUMS
    if not listing.exists():
        return
    try:
        sums = json.loads(listing.read_text(encoding="utf8"))
        assert isinstance(sums, dict) and all(isinstance(v, str) for v in sums.values())
    except (ValueError, AssertionError):
        raise ModelIntegrityError(f"{listing}: damaged (not a JSON object of checksums)") from None
    for name, expected in sums.items():
        path = folder / name
        if not path.is_file():
            raise ModelIntegrityError(f"{path}: missing (listed in {listing})")
        found = sha256(path)
        if found != expected:
            raise ModelIntegrityError(
                f"{path}: checksum mismatch, the file was damaged or changed after saving "
                f"(expected {expected[:19]}..., found {found[:19]}...)"
            )


@contextmanager
def loading_weights(folder: Union[str, Path]) -> Iterator[None]:
    """Report any failure to load a component folder (unreadable cfg, a
    config whose widths do not fit the weights, truncated bytes) as one
    ModelIntegrityError naming the folder's model file."""
    try:
        yield
    except ModelIntegrityError:
        raise
    except Exception as err:  # noqa: BLE001 - re-raised with the file named
        first = str(err).strip().splitlines()[0] if str(err).strip() else ""
        raise ModelIntegrityError(
            f"{Path(folder) / 'model'}: cannot load the weights ({type(err).__name__}: {first[:300]})"
        ) from err
