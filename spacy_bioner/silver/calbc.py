"""Read the CALBC silver-standard corpora (IeXML) for users who have them.

CALBC delivers MEDLINE citations whose title and abstract carry inline
entity elements, e.g.

    <document><MedlineCitation><PMID>10022392</PMID>
      <ArticleTitle>Mutations in <e id="UMLS:C0021368:T047:DISO">colitis</e> ...</ArticleTitle>
      <AbstractText>...</AbstractText></MedlineCitation></document>

The semantic group of an entity (CHED, DISO, LIVB, PRGE) is found in its
`id` (any `:`/`|`-separated part) or in a `sem`, `type` or `group`
attribute. The file is parsed incrementally, one document at a time, so a
100k-abstract file needs no more memory than one abstract. The 2018 paper's
brat release of CALBC is read by `convert --from brat`.
"""
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import TYPE_CHECKING, Dict, Iterator, List, Optional, Tuple, Union

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc

    from ..corpora.util import ConversionReport

from ..files import open_binary

PathLike = Union[str, Path]
GROUPS = ("CHED", "DISO", "LIVB", "PRGE")
DOCUMENT_TAGS = ("document", "medlinecitation")
TEXT_TAGS = ("articletitle", "abstracttext", "title", "abstract", "text")
_SPLIT = re.compile(r"[:|;,\s]+")


class CalbcDocument:
    """One citation: its id, plain text and (start, end, group) entities."""

    def __init__(self, doc_id: str, text: str, entities: List[Tuple[int, int, str]]) -> None:
        self.id = doc_id
        self.text = text
        self.entities = entities

    def __repr__(self) -> str:
        return f"CalbcDocument({self.id!r}, {len(self.text)} chars, {len(self.entities)} entities)"


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1].lower()


def entity_group(element: ET.Element) -> Optional[str]:
    """The CALBC semantic group of an `<e>` element, if it names one."""
    for attr in ("sem", "type", "group"):
        value = element.get(attr)
        if value and value.upper() in GROUPS:
            return value.upper()
    for part in _SPLIT.split(element.get("id", "")):
        if part.upper() in GROUPS:
            return part.upper()
    return None


def _flatten(element: ET.Element, parts: List[str], entities: List[Tuple[int, int, str]], offset: int) -> int:
    """Append the element's text to `parts`, recording `<e>` spans; returns
    the new offset. Nested entities are all recorded (overlaps are resolved
    when the doc is built)."""
    if element.text:
        parts.append(element.text)
        offset += len(element.text)
    for child in element:
        start = offset
        offset = _flatten(child, parts, entities, offset)
        if _local(child.tag) == "e":
            group = entity_group(child)
            if group is not None and offset > start:
                entities.append((start, offset, group))
        if child.tail:
            parts.append(child.tail)
            offset += len(child.tail)
    return offset


def read_calbc(path: PathLike) -> Iterator[CalbcDocument]:
    """Stream the documents of a CALBC IeXML file (gzip allowed).

    path (PathLike): The file.
    YIELDS (CalbcDocument): Title and abstract joined by a newline, with
        character offsets of the entities into that text.
    RAISES (ValueError): `file:line:` of malformed XML.
    """
    path = Path(path)
    count = 0
    open_documents = 0  # document-level elements open around the parser
    with open_binary(path) as f:
        try:
            for event, element in ET.iterparse(f, events=("start", "end")):
                if _local(element.tag) not in DOCUMENT_TAGS:
                    continue
                if event == "start":
                    open_documents += 1
                    continue
                open_documents -= 1
                if open_documents:
                    continue  # a <MedlineCitation> inside a <document>: read with it
                doc = _document(element, path, count)
                count += 1
                element.clear()
                if doc is not None:
                    yield doc
        except ET.ParseError as err:
            line, _ = err.position
            raise ValueError(f"{path}:{line}: malformed XML ({err})") from None


def _document(element: ET.Element, path: Path, n: int) -> Optional[CalbcDocument]:
    pmid = next((e.text.strip() for e in element.iter() if _local(e.tag) == "pmid" and e.text), None)
    doc_id = pmid or element.get("id") or element.get("pmid") or f"{path.name}:{n}"
    parts: List[str] = []
    entities: List[Tuple[int, int, str]] = []
    offset = 0
    text_elements = [e for e in element.iter() if _local(e.tag) in TEXT_TAGS]
    # Only the outermost text elements (a <text> may hold a <title>).
    outer = [e for e in text_elements if not any(e is not o and e in list(o.iter()) for o in text_elements)]
    for i, part in enumerate(outer):
        if i:
            parts.append("\n")
            offset += 1
        offset = _flatten(part, parts, entities, offset)
    text = "".join(parts)
    if not text.strip():
        return None
    return CalbcDocument(doc_id, text, sorted(entities))


def read_calbc_docs(
    path: PathLike,
    nlp: "Language",
    *,
    label_map: Optional[Dict[str, str]] = None,
    report: Optional["ConversionReport"] = None,
) -> Iterator["Doc"]:
    """CALBC documents as Docs with harmonized entities (CHED → Chemical,
    DISO → Disease, LIVB → Species, PRGE → Gene) and the PMID as doc id.

    path (PathLike): The IeXML file.
    nlp (Language): Its tokenizer (and sentence splitter, if any) is used.
    label_map (Optional[Dict[str, str]]): Default: the package map.
    report (Optional[ConversionReport]): Counts misaligned and overlapping
        entities (nested CALBC annotations keep the longest).
    YIELDS (Doc): One per citation.
    """
    from ..corpora.labels import load_label_map
    from ..corpora.util import CharEntity, ConversionReport, LabelFilter, doc_from_char_entities, set_doc_id

    report = report if report is not None else ConversionReport()
    labels = LabelFilter(label_map if label_map is not None else load_label_map())
    for document in read_calbc(path):
        entities = [CharEntity(s, e, group, 0) for s, e, group in document.entities]
        doc, _ = doc_from_char_entities(nlp.make_doc, document.text, entities, path, report, labels=labels)
        for _, proc in nlp.pipeline:
            doc = proc(doc)
        set_doc_id(doc, document.id)
        report.add_doc(doc)
        yield doc
