"""Read and write PubTator: `PMID|t|title`, `PMID|a|abstract`, then mention
lines `PMID<TAB>start<TAB>end<TAB>mention<TAB>type[<TAB>id...]`, documents
separated by blank lines.

The Doc text is `title + " " + abstract` (the text PubTator offsets index),
the PMID is the Doc id (`util.get_doc_id`) and the concept id goes to the
entity's `kb_id_`. Relation lines (`PMID<TAB>CID<TAB>id<TAB>id...`) are counted as
"ignored_line". A mention whose text differs from the text at its offsets
(other than in case: some tools lowercase mentions) is kept, trusting the
offsets, and counted as "text_mismatch".
"""
import re
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Optional, Tuple

from spacy.tokens import Doc

from .util import (
    CharEntity, ConversionReport, CorpusFormatError, LabelFilter, PathLike, atomic_path,
    doc_from_char_entities, get_doc_id, read_text, set_doc_id,
)

_TEXT_RE = re.compile(r"^([^|\t]+)\|([ta])\|(.*)$")
# Doc.user_data key of the title length, so the writer can split title and abstract again.
TITLE_LENGTH_KEY = "pubtator_title_length"


# The second column of a relation line: a type name such as "CID".
_RELATION_TYPE = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


def read_pubtator(
    path: PathLike,
    tokenizer: Callable[[str], Doc],
    *,
    label_map: Optional[Dict[str, str]] = None,
    keep_labels: Optional[Iterable[str]] = None,
    misaligned: str = "split",
    report: Optional[ConversionReport] = None,
) -> Tuple[List[Doc], ConversionReport]:
    """Read a PubTator file.

    path (PathLike): The file.
    tokenizer (Callable[[str], Doc]): e.g. `nlp.tokenizer`.
    label_map (Optional[Dict[str, str]]): Harmonize labels; unmapped ones are dropped.
    keep_labels (Optional[Iterable[str]]): Keep only these (output) labels.
    misaligned (str): "split", "expand" or "error" (see `doc_from_char_entities`).
    report (Optional[ConversionReport]): Report to add to.
    RETURNS (Tuple[List[Doc], ConversionReport]): The Docs, in file order, and the report.
    """
    path = Path(path)
    report = report if report is not None else ConversionReport()
    titles: Dict[str, str] = {}
    abstracts: Dict[str, str] = {}
    mentions: Dict[str, List[CharEntity]] = {}
    mention_text: Dict[Tuple[str, int], str] = {}
    for lineno, raw in enumerate(read_text(path).split("\n"), 1):
        line = raw.rstrip("\r")
        if not line.strip():
            continue
        match = _TEXT_RE.match(line)
        if match:
            pmid, kind, value = match.groups()
            target = titles if kind == "t" else abstracts
            if pmid in target:
                raise CorpusFormatError(path, lineno, f"second '{kind}' line for document {pmid}")
            target[pmid] = value
            mentions.setdefault(pmid, [])
            continue
        cols = line.split("\t")
        if len(cols) >= 4 and _RELATION_TYPE.fullmatch(cols[1]) and not cols[2].isdigit():
            # A relation line (PMID, type, id, id[, ...]): its second column
            # is a name. Offsets that are not plain numbers ("-3", "12.5",
            # "1O") are not a relation type and fail below.
            report.add("ignored_line", path)
            continue
        if len(cols) >= 5 and not (cols[1].isdigit() and cols[2].isdigit()):
            field = "start" if not cols[1].isdigit() else "end"
            raise CorpusFormatError(path, lineno, f"mention {field} offset {cols[1 if field == 'start' else 2]!r} "
                                    "is not a non-negative integer")
        if len(cols) < 5:
            raise CorpusFormatError(path, lineno, "expected 'PMID|t|title', 'PMID|a|abstract' or "
                                    "'PMID<TAB>start<TAB>end<TAB>mention<TAB>type[<TAB>id]'")
        pmid = cols[0]
        if pmid not in titles:
            raise CorpusFormatError(path, lineno, f"mention of document {pmid} before its title line")
        kb_id = cols[5].strip() if len(cols) > 5 else ""
        entity = CharEntity(int(cols[1]), int(cols[2]), cols[4], lineno, kb_id)
        mentions[pmid].append(entity)
        mention_text[(pmid, lineno)] = cols[3]
    if not titles:
        raise CorpusFormatError(path, 1, "no 'PMID|t|title' line found")
    labels = LabelFilter(label_map, keep_labels)
    docs: List[Doc] = []
    for pmid, entities in mentions.items():
        title = titles[pmid]
        abstract = abstracts.get(pmid, "")
        text = f"{title} {abstract}" if abstract else title
        for ent in entities:
            if ent.end > len(text) or ent.start >= ent.end:
                raise CorpusFormatError(path, ent.line, f"offsets {ent.start}-{ent.end} outside "
                                        f"the text of {pmid} ({len(text)} characters)")
            if text[ent.start:ent.end].lower() != mention_text[(pmid, ent.line)].lower():
                report.add("text_mismatch", path)
        doc, _ = doc_from_char_entities(tokenizer, text, entities, path, report,
                                        labels=labels, misaligned=misaligned)
        set_doc_id(doc, pmid)
        doc.user_data[TITLE_LENGTH_KEY] = len(title)
        report.add_doc(doc)
        docs.append(doc)
    return docs, report


def doc_to_pubtator(doc: Doc, default_id: str, spans_key: Optional[str] = None) -> str:
    """One PubTator block (with its trailing blank line) for a Doc.

    A Doc read from PubTator is split into title and abstract where it was;
    any other Doc is written as a title only. Line breaks become spaces (same
    length, so offsets stay valid): PubTator text lines cannot hold them.

    doc (Doc): The Doc.
    default_id (str): The PMID to use when the Doc has no id.
    spans_key (Optional[str]): Write `doc.spans[spans_key]` instead of doc.ents.
    RETURNS (str): The block.
    """
    pmid = get_doc_id(doc) or default_id
    text = re.sub(r"[\r\n]", " ", doc.text)
    title_length = doc.user_data.get(TITLE_LENGTH_KEY)
    if isinstance(title_length, int) and text[title_length:title_length + 1] == " ":
        title, abstract = text[:title_length], text[title_length + 1:]
    else:
        title, abstract = text, ""
    lines = [f"{pmid}|t|{title}\n", f"{pmid}|a|{abstract}\n"]
    spans = doc.ents if spans_key is None else doc.spans[spans_key]
    for span in spans:
        mention = text[span.start_char:span.end_char]
        lines.append(f"{pmid}\t{span.start_char}\t{span.end_char}\t{mention}\t{span.label_}\t{span.kb_id_}\n")
    return "".join(lines) + "\n"


def write_pubtator(docs: Iterable[Doc], path: PathLike, *, spans_key: Optional[str] = None) -> Path:
    """Write Docs as a PubTator file, which appears only once complete.

    docs (Iterable[Doc]): The Docs; ids from `util.get_doc_id`, else their index.
    path (PathLike): The output file.
    spans_key (Optional[str]): Write this span group instead of doc.ents.
    RETURNS (Path): The file.
    """
    with atomic_path(path) as tmp:
        with tmp.open("w", encoding="utf-8", newline="\n") as f:
            for n, doc in enumerate(docs):
                f.write(doc_to_pubtator(doc, str(n), spans_key))
    return Path(path)
