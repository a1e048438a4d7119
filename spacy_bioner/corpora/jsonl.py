"""Read and write JSONL: one `{"id", "text", "entities": [{"start", "end",
"label", "score"?, "kb_id"?}]}` object per line, character offsets into
"text". Scores go through `spacy_bioner.scores` (get_score / set_score)."""
import json
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

from spacy.tokens import Doc, Span

from ..pipeline.scores import DOC_ENTS_ATTR, get_heads, get_score
from .util import (
    CharEntity, ConversionReport, CorpusFormatError, LabelFilter, PathLike, atomic_path,
    doc_from_char_entities, get_doc_id, read_text, set_doc_id,
)


def _entity(value: Any, text: str, path: Path, lineno: int) -> CharEntity:
    if not isinstance(value, dict):
        raise CorpusFormatError(path, lineno, "an entity must be an object")
    start, end, label = value.get("start"), value.get("end"), value.get("label")
    # bool is an int to Python; `true` is not an offset.
    integers = all(isinstance(v, int) and not isinstance(v, bool) for v in (start, end))
    if not (integers and isinstance(label, str) and label):
        raise CorpusFormatError(path, lineno, 'an entity needs integer "start", "end" and a "label"')
    if not 0 <= start < end <= len(text):
        raise CorpusFormatError(path, lineno, f"entity offsets {start}-{end} outside the text "
                                f"({len(text)} characters)")
    score = value.get("score")
    if score is not None and (isinstance(score, bool) or not isinstance(score, (int, float))):
        raise CorpusFormatError(path, lineno, '"score" must be a number')
    return CharEntity(start, end, label, lineno, str(value.get("kb_id") or ""),
                      None if score is None else float(score))


def read_jsonl(
    path: PathLike,
    tokenizer: Callable[[str], Doc],
    *,
    label_map: Optional[Dict[str, str]] = None,
    keep_labels: Optional[Iterable[str]] = None,
    misaligned: str = "split",
    report: Optional[ConversionReport] = None,
) -> Tuple[List[Doc], ConversionReport]:
    """Read a JSONL file. A missing "id" becomes "<file stem>-<line>".

    path (PathLike): The file.
    tokenizer (Callable[[str], Doc]): e.g. `nlp.tokenizer`.
    label_map (Optional[Dict[str, str]]): Harmonize labels; unmapped ones are dropped.
    keep_labels (Optional[Iterable[str]]): Keep only these (output) labels.
    misaligned (str): "split", "expand" or "error" (see `doc_from_char_entities`).
    report (Optional[ConversionReport]): Report to add to.
    RETURNS (Tuple[List[Doc], ConversionReport]): The Docs and the report.
    """
    path = Path(path)
    report = report if report is not None else ConversionReport()
    labels = LabelFilter(label_map, keep_labels)
    docs: List[Doc] = []
    for lineno, line in enumerate(read_text(path).split("\n"), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise CorpusFormatError(path, lineno, f"invalid JSON: {err.msg}") from None
        if not isinstance(record, dict) or not isinstance(record.get("text"), str):
            raise CorpusFormatError(path, lineno, 'each line must be an object with a "text" string')
        text = record["text"]
        raw_entities = record.get("entities")
        raw_entities = [] if raw_entities is None else raw_entities
        doc_id = record.get("id", f"{path.stem}-{lineno}")
        if isinstance(doc_id, bool) or not isinstance(doc_id, (str, int)):
            raise CorpusFormatError(path, lineno, '"id" must be a string or an integer')
        if not isinstance(raw_entities, list):
            raise CorpusFormatError(path, lineno, '"entities" must be a list')
        entities = [_entity(value, text, path, lineno) for value in raw_entities]
        doc, _ = doc_from_char_entities(tokenizer, text, entities, path, report,
                                        labels=labels, misaligned=misaligned)
        set_doc_id(doc, str(doc_id))
        report.add_doc(doc)
        docs.append(doc)
    if not docs:
        raise CorpusFormatError(path, 1, "no documents found (empty file)")
    return docs, report


def doc_to_record(
    doc: Doc,
    default_id: str,
    spans_key: Optional[str] = None,
    *,
    span_groups: bool = False,
    keep_text: bool = True,
    entity_text: bool = True,
) -> Dict[str, Any]:
    """The JSON object of a Doc: the one record format of `convert --to
    jsonl`, `annotate` and the web service, read back by `convert --from jsonl`.

    Every entity has character offsets into the text, its label and text,
    its confidence when one was stored and, for `doc.ents` set by a
    multi-head component, the heads that found it.

    doc (Doc): The Doc.
    default_id (str): The id to use when the Doc has none.
    spans_key (Optional[str]): Write `doc.spans[spans_key]` as "entities"
        instead of doc.ents.
    span_groups (bool): Also write every span group (each head's entities)
        under "spans".
    keep_text (bool): Write the text, so the record can be read back.
    entity_text (bool): Give each entity its text too (for readers of
        annotate's output; the corpus format leaves it out, as the offsets
        into "text" say it).
    RETURNS (Dict[str, Any]): {"id", "text", "entities"[, "spans"]}.
    """
    ents_keys = [k for k, g in doc.spans.items() if g.attrs.get(DOC_ENTS_ATTR)]

    def entity(span: Span, key: Optional[str]) -> Dict[str, Any]:
        out: Dict[str, Any] = {"start": span.start_char, "end": span.end_char, "label": span.label_}
        if entity_text:
            out["text"] = span.text
        score = get_score(span, key)
        if score is not None:
            out["score"] = score
        if span.kb_id_:
            out["kb_id"] = span.kb_id_
        if key is None:
            heads = next((h for h in (get_heads(span, k) for k in ents_keys) if h), None)
            if heads:
                out["heads"] = heads
        return out

    group = doc.ents if spans_key is None else doc.spans[spans_key]
    record: Dict[str, Any] = {"id": get_doc_id(doc) or default_id}
    if keep_text:
        record["text"] = doc.text
    record["entities"] = [entity(span, spans_key) for span in group]
    if span_groups:
        record["spans"] = {
            key: [entity(span, key) for span in spans]
            for key, spans in doc.spans.items()
            if not spans.attrs.get(DOC_ENTS_ATTR)
        }
    return record


def write_jsonl(docs: Iterable[Doc], path: PathLike, *, spans_key: Optional[str] = None) -> Path:
    """Write Docs as JSONL, a file that appears only once complete.

    docs (Iterable[Doc]): The Docs.
    path (PathLike): The output file.
    spans_key (Optional[str]): Write this span group instead of doc.ents.
    RETURNS (Path): The file.
    """
    with atomic_path(path) as tmp:
        with tmp.open("w", encoding="utf-8", newline="\n") as f:
            for n, doc in enumerate(docs):
                record = doc_to_record(doc, str(n), spans_key, entity_text=False)
                f.write(json.dumps(record, ensure_ascii=False) + "\n")
    return Path(path)
