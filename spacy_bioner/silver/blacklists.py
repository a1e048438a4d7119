"""The papers' de-noising lists: PMIDs of gold-corpus documents, and
single-token entities that gold corpora never annotate.

Formats read (those of `../shared/corpora/blacklists/`):
- PMID lists: one id per line (a file, or a folder of `*.txt` files);
- entity lists of Towards-reliable-BioNER: `token<TAB>B-TYPE` lines, TYPE one
  of CHED, DISO, LIVB, PRGE;
- the 2018 CALBC lists: one lower-cased word per line, the type in the file
  name (`blacklist_calbc_diso.txt`).
Types are harmonized with the package label map (CHED → Chemical, ...).
"""
import re
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Set, Union

from ..corpora.labels import harmonize, load_label_map

PathLike = Union[str, Path]
_TYPE_IN_NAME = re.compile(r"(ched|diso|livb|prge)", re.I)


def _files(paths: Iterable[PathLike]) -> List[Path]:
    files: List[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            files.extend(sorted(p for p in path.glob("*.txt") if p.name.lower() != "readme.txt"))
        elif path.exists():
            files.append(path)
        else:
            raise FileNotFoundError(f"Blacklist not found: {path}")
    return files


def load_pmid_blacklist(paths: Iterable[PathLike]) -> Set[str]:
    """All ids of the PMID lists (files or folders of `*.txt`).

    paths (Iterable[PathLike]): Files or folders.
    RETURNS (Set[str]): The ids, as strings without whitespace.
    """
    ids: Set[str] = set()
    for path in _files(paths):
        for line in path.read_text(encoding="utf8").splitlines():
            if line.strip():
                ids.add(line.strip())
    return ids


def load_entity_blacklist(
    paths: Iterable[PathLike], label_map: Optional[Dict[str, str]] = None
) -> Dict[str, Set[str]]:
    """Lower-cased blacklisted words per harmonized entity type.

    paths (Iterable[PathLike]): Files or folders of either format.
    label_map (Optional[Dict[str, str]]): Harmonizes CHED/DISO/...; default:
        the package map.
    RETURNS (Dict[str, Set[str]]): Type → words.
    """
    label_map = label_map if label_map is not None else load_label_map()
    words: Dict[str, Set[str]] = {}
    for path in _files(paths):
        name_type = _TYPE_IN_NAME.search(path.stem)
        for n, line in enumerate(path.read_text(encoding="utf8").splitlines(), start=1):
            if not line.strip():
                continue
            word, _, tag = line.partition("\t")
            raw_type = tag.strip().split("-", 1)[-1] if tag.strip() else (name_type.group(1) if name_type else None)
            if raw_type is None:
                raise ValueError(f"{path}:{n}: no entity type (expected 'word<TAB>B-TYPE' or a type in the file name)")
            label = harmonize(raw_type.upper(), label_map)
            if label is not None:
                words.setdefault(label, set()).add(word.strip().lower())
    return words
