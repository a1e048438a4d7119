"""Entity-type harmonization: map the tag suffixes of many corpora onto the
four canonical classes used across spacy-bioner.

The package map (`label_map.json`) covers every type in the shared corpora,
the Saber/CALBC types (CHED, DISO, LIVB, PRGE) and the PubTator types. Types
that are none of the four classes (DNA, RNA, cell_line, Anatomy, GO, SO, CL,
Complex, Amino_acid, ...) are deliberately absent, so `harmonize` returns None
for them and readers turn them into O.
"""
import json
from pathlib import Path
from typing import Dict, Optional, Union

import srsly

CANONICAL_LABELS = ("Chemical", "Disease", "Species", "Gene")
DEFAULT_LABEL_MAP_PATH = Path(__file__).parent / "label_map.json"


def load_label_map(path: Optional[Union[str, Path]] = None) -> Dict[str, str]:
    """Load the package label map, extended or overridden by a user JSON file.

    The user file is a JSON object {source_label: target_label}. Its entries
    replace package entries with the same key; a value of null removes the
    package entry, so a type can be switched off without editing the package.
    The string "default" is the same as None.

    path (Optional[Union[str, Path]]): User JSON file, or None for the package map.
    RETURNS (Dict[str, str]): Source label → target label.
    """
    label_map: Dict[str, str] = dict(srsly.read_json(DEFAULT_LABEL_MAP_PATH))
    if path is None or str(path) == "default":
        return label_map
    try:
        user = srsly.read_json(Path(path))
    except (ValueError, json.JSONDecodeError) as err:
        raise ValueError(f"Label map {path} is not valid JSON: {err}") from err
    if not isinstance(user, dict) or not all(
        isinstance(k, str) and (v is None or isinstance(v, str)) for k, v in user.items()
    ):
        raise ValueError(f"Label map {path} must be a JSON object of strings (or null)")
    for key, value in user.items():
        if value is None:
            label_map.pop(key, None)
        else:
            label_map[key] = value
    return label_map


def harmonize(label: str, label_map: Dict[str, str]) -> Optional[str]:
    """Map a corpus label onto its harmonized class.

    An exact (case-sensitive) match wins, so a user map may tell "GENE" and
    "Gene" apart; otherwise the lookup ignores case (PubTator writes "gene",
    BC2GM writes "GENE").

    label (str): The label as found in the corpus (without B-/I- prefix).
    label_map (Dict[str, str]): The map from `load_label_map`.
    RETURNS (Optional[str]): The harmonized label, or None when unmapped.
    """
    if label in label_map:
        return label_map[label]
    folded = label.casefold()
    # The folded index is rebuilt per call on purpose: maps are small (tens of
    # entries) and callers may mutate them between calls.
    for key, value in label_map.items():
        if key.casefold() == folded:
            return value
    return None
