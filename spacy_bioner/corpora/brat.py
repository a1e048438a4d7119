"""Read and write Brat standoff (`<id>.txt` + `<id>.ann`).

Only text-bound annotations (T lines) become entities. Doc text is the .txt
file unchanged, so every offset indexes the original text. Policies (all
counted in the ConversionReport, by kind and by file):

- misaligned spans: see `util.doc_from_char_entities` (default: split tokens
  so the entity is kept exactly);
- overlapping or nested entities: keep the longest;
- discontinuous entities (`T1 Disease 0 5;10 15`): joined into the span that
  covers all fragments ("discontinuous_joined"), since doc.ents cannot hold gaps;
- other lines (R, E, A, M, N, #, *): ignored ("ignored_line");
- a .txt without .ann: a Doc without entities ("missing_ann").
"""
import re
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Optional, Set, Tuple

from spacy.tokens import Doc

from .util import (
    CharEntity, ConversionReport, CorpusFormatError, LabelFilter, PathLike, atomic_path,
    doc_from_char_entities, get_doc_id, read_text, set_doc_id,
)

_FRAGMENT_RE = re.compile(r"^(\d+) (\d+)$")


def parse_ann(ann_path: PathLike, text: str, report: ConversionReport) -> List[CharEntity]:
    """Parse the T lines of an .ann file, checking offsets against the text.

    ann_path (PathLike): The .ann file.
    text (str): The text of the matching .txt file.
    report (ConversionReport): Where events are counted.
    RETURNS (List[CharEntity]): The entities, discontinuous ones joined.
    """
    entities: List[CharEntity] = []
    for lineno, raw in enumerate(read_text(ann_path).split("\n"), 1):
        line = raw.rstrip("\r")
        if not line.strip():
            continue
        if line[0] != "T":
            if line[0] in "REAMN#*":
                report.add("ignored_line", ann_path)
                continue
            raise CorpusFormatError(ann_path, lineno, f"unknown annotation line {line[:40]!r}")
        fields = line.split("\t")
        if len(fields) < 2 or " " not in fields[1]:
            raise CorpusFormatError(ann_path, lineno, "malformed T line, expected "
                                    "'T<n><TAB><label> <start> <end><TAB><text>'")
        label, offsets = fields[1].split(" ", 1)
        fragments: List[Tuple[int, int]] = []
        for fragment in offsets.split(";"):
            match = _FRAGMENT_RE.match(fragment.strip())
            if not match:
                raise CorpusFormatError(ann_path, lineno, f"bad offsets {offsets!r}")
            start, end = int(match.group(1)), int(match.group(2))
            if end > len(text):
                raise CorpusFormatError(ann_path, lineno, f"offset {end} past the end of the "
                                        f"text ({len(text)} characters)")
            if start >= end:
                raise CorpusFormatError(ann_path, lineno, f"empty or reversed span {start}-{end}")
            fragments.append((start, end))
        if len(fields) > 2 and fields[2] != " ".join(text[a:b] for a, b in fragments):
            report.add("text_mismatch", ann_path)
        if len(fragments) > 1:
            report.add("discontinuous_joined", ann_path)
        start = min(a for a, _ in fragments)
        end = max(b for _, b in fragments)
        entities.append(CharEntity(start, end, label, lineno))
    return entities


def _pairs(path: Path, report: ConversionReport) -> List[Tuple[Path, Optional[Path]]]:
    if path.is_dir():
        txts = sorted(path.rglob("*.txt"))
        anns = sorted(path.rglob("*.ann"))
    elif path.suffix in (".txt", ".ann"):
        txts = [path.with_suffix(".txt")] if path.with_suffix(".txt").exists() else []
        anns = [path.with_suffix(".ann")] if path.with_suffix(".ann").exists() else []
        if not txts and not anns:
            raise FileNotFoundError(f"No such file: {path}")
    else:
        raise ValueError(f"Expected a folder, a .txt or an .ann file, not {path}")
    for ann in anns:
        if not ann.with_suffix(".txt").exists():
            raise CorpusFormatError(ann, 1, f"no matching text file {ann.with_suffix('.txt').name}")
    pairs: List[Tuple[Path, Optional[Path]]] = []
    for txt in txts:
        ann = txt.with_suffix(".ann")
        if not ann.exists():
            report.add("missing_ann", txt)
        pairs.append((txt, ann if ann.exists() else None))
    return pairs


def read_brat(
    path: PathLike,
    tokenizer: Callable[[str], Doc],
    *,
    label_map: Optional[Dict[str, str]] = None,
    keep_labels: Optional[Iterable[str]] = None,
    misaligned: str = "split",
    report: Optional[ConversionReport] = None,
) -> Tuple[List[Doc], ConversionReport]:
    """Read Brat documents. Each Doc's id is its file stem.

    path (PathLike): A folder (searched recursively), or one .txt/.ann file.
    tokenizer (Callable[[str], Doc]): e.g. `nlp.tokenizer`.
    label_map (Optional[Dict[str, str]]): Harmonize labels; unmapped ones are dropped.
    keep_labels (Optional[Iterable[str]]): Keep only these (output) labels.
    misaligned (str): "split", "expand" or "error" (see `doc_from_char_entities`).
    report (Optional[ConversionReport]): Report to add to.
    RETURNS (Tuple[List[Doc], ConversionReport]): The Docs and the report.
    """
    report = report if report is not None else ConversionReport()
    labels = LabelFilter(label_map, keep_labels)
    docs: List[Doc] = []
    for txt, ann in _pairs(Path(path), report):
        text = read_text(txt)
        entities = parse_ann(ann, text, report) if ann is not None else []
        doc, _ = doc_from_char_entities(tokenizer, text, entities, ann or txt, report,
                                        labels=labels, misaligned=misaligned)
        set_doc_id(doc, txt.stem)
        report.add_doc(doc)
        docs.append(doc)
    return docs, report


def _safe_stem(doc_id: str) -> str:
    return re.sub(r"[^\w.\-]+", "_", doc_id).strip(".") or "doc"


def doc_to_ann(doc: Doc, spans_key: Optional[str] = None) -> str:
    """The .ann text of a Doc: one T line per entity, offsets into doc.text.
    An entity containing a line break is written as fragments around it, as
    Brat itself does, because the text field of a T line cannot hold one.

    doc (Doc): The Doc.
    spans_key (Optional[str]): Write `doc.spans[spans_key]` instead of doc.ents.
    RETURNS (str): The .ann content.
    """
    spans = doc.ents if spans_key is None else doc.spans[spans_key]
    lines = []
    for n, span in enumerate(spans, 1):
        fragments = []
        offset = span.start_char
        for piece in re.split(r"(\r?\n)", span.text):
            if piece.strip("\r\n"):
                fragments.append((offset, offset + len(piece)))
            offset += len(piece)
        offsets = ";".join(f"{a} {b}" for a, b in fragments)
        covered = " ".join(doc.text[a:b] for a, b in fragments)
        lines.append(f"T{n}\t{span.label_} {offsets}\t{covered}\n")
    return "".join(lines)


def write_brat(docs: Iterable[Doc], output_dir: PathLike, *, spans_key: Optional[str] = None) -> Path:
    """Write Docs as Brat files `<doc id>.txt` + `.ann` into a folder, which
    appears (or is replaced) only once complete.

    docs (Iterable[Doc]): The Docs; ids from `util.get_doc_id`, else "doc-<n>".
    output_dir (PathLike): The folder.
    spans_key (Optional[str]): Write this span group instead of doc.ents.
    RETURNS (Path): The folder.
    """
    # Compared case-folded: "A" and "a" are one file on some file systems.
    used: Set[str] = set()
    with atomic_path(output_dir, is_dir=True) as tmp:
        for n, doc in enumerate(docs):
            stem = base = _safe_stem(get_doc_id(doc) or f"doc-{n}")
            suffix = 0
            # A duplicate id gets "-1", "-2"...; never a name already taken
            # (an id "x-1" may come before the second "x").
            while stem.casefold() in used:
                suffix += 1
                stem = f"{base}-{suffix}"
            used.add(stem.casefold())
            (tmp / f"{stem}.txt").write_bytes(doc.text.encode("utf-8"))
            (tmp / f"{stem}.ann").write_bytes(doc_to_ann(doc, spans_key).encode("utf-8"))
    return Path(output_dir)
