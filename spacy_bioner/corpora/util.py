"""Shared pieces of the corpus readers and writers: the error class, the
conversion report, the document-id convention, entity filtering, building a
Doc from character offsets (atomic output lives in `spacy_bioner.files`)."""
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, Iterable, List, NamedTuple, Optional, Sequence, Tuple, Union

from spacy.tokens import Doc, Span
from spacy.util import filter_spans

from ..files import atomic_path  # noqa: F401 - the writers import it from here
from ..scores import set_score
from .labels import harmonize

# The document id of every format (CoNLL file stem + index, Brat file stem,
# PubTator PMID, JSONL "id") is kept in `doc.user_data[DOC_ID_KEY]`: user_data
# needs no extension registration and survives DocBin(store_user_data=True).
DOC_ID_KEY = "id"

PathLike = Union[str, Path]


class CorpusFormatError(ValueError):
    """Bad corpus input. The message always starts with `file:line:`."""

    def __init__(self, path: PathLike, line: int, message: str) -> None:
        self.path = str(path)
        self.line = line
        super().__init__(f"{path}:{line}: {message}")


@dataclass
class ConversionReport:
    """What a reader did besides the plain conversion, counted by kind and by
    file, so that nothing is changed or dropped silently.

    Kinds used: "iob_repaired", "unmapped_label" and "label_not_kept" (entity
    turned into O), "misaligned_split" / "misaligned_expanded" /
    "misaligned_dropped", "overlap_dropped", "discontinuous_joined",
    "text_mismatch", "ignored_line" (Brat R/E/A/... or PubTator relation lines),
    "missing_ann".
    """

    counts: Counter = field(default_factory=Counter)
    by_file: Dict[str, Counter] = field(default_factory=dict)
    dropped_labels: Counter = field(default_factory=Counter)
    schemes: Dict[str, str] = field(default_factory=dict)
    docs: int = 0
    sentences: int = 0
    tokens: int = 0
    entities: int = 0

    def add(self, kind: str, path: PathLike, n: int = 1) -> None:
        """Count `n` events of `kind` in file `path`."""
        self.counts[kind] += n
        self.by_file.setdefault(str(path), Counter())[kind] += n

    def add_doc(self, doc: Doc) -> None:
        """Count a produced Doc's sentences, tokens and entities."""
        self.docs += 1
        self.tokens += len(doc)
        self.entities += len(doc.ents)
        if doc.has_annotation("SENT_START"):
            self.sentences += sum(1 for _ in doc.sents)
        elif len(doc):
            self.sentences += 1

    def summary(self) -> str:
        """One line: totals, then the non-zero counts by kind."""
        parts = [f"{self.docs} docs", f"{self.sentences} sentences",
                 f"{self.tokens} tokens", f"{self.entities} entities"]
        parts += [f"{kind}: {n}" for kind, n in sorted(self.counts.items()) if n]
        return ", ".join(parts)


def read_text(path: PathLike) -> str:
    """Read a UTF-8 file as is (no newline translation, so character offsets
    into it stay valid); a leading BOM is dropped.

    path (PathLike): The file.
    RETURNS (str): Its text.
    """
    path = Path(path)
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise CorpusFormatError(path, line, f"not valid UTF-8 (byte 0x{data[err.start]:02x})") from None
    return text[1:] if text.startswith("\ufeff") else text


def get_doc_id(doc: Doc, default: Optional[str] = None) -> Optional[str]:
    """The document id stored by a reader (see DOC_ID_KEY)."""
    value = doc.user_data.get(DOC_ID_KEY, default)
    return None if value is None else str(value)


def set_doc_id(doc: Doc, doc_id: str) -> None:
    """Store a document id (see DOC_ID_KEY)."""
    doc.user_data[DOC_ID_KEY] = str(doc_id)


class LabelFilter:
    """Harmonize labels with an optional label map, then keep only the listed
    labels. Entities whose label is dropped are counted in the report."""

    def __init__(
        self,
        label_map: Optional[Dict[str, str]] = None,
        keep_labels: Optional[Iterable[str]] = None,
    ) -> None:
        self.label_map = label_map
        self.keep_labels = set(keep_labels) if keep_labels else None

    def __call__(self, label: str, report: ConversionReport, path: PathLike) -> Optional[str]:
        """The label to use, or None to turn the entity into O.

        label (str): The corpus label.
        report (ConversionReport): Where drops are counted.
        path (PathLike): The file, for the report.
        RETURNS (Optional[str]): The output label or None.
        """
        out: Optional[str] = label
        if self.label_map is not None:
            out = harmonize(label, self.label_map)
            if out is None:
                report.add("unmapped_label", path)
                report.dropped_labels[label] += 1
                return None
        if self.keep_labels is not None and out not in self.keep_labels:
            report.add("label_not_kept", path)
            report.dropped_labels[label] += 1
            return None
        return out


class CharEntity(NamedTuple):
    """A character-offset annotation read from a file."""

    start: int
    end: int
    label: str
    line: int  # line number in its file, for errors
    kb_id: str = ""
    score: Optional[float] = None


MISALIGNED_POLICIES = ("split", "expand", "error")


def _tokenize(
    tokenizer: Callable[[str], Doc], text: str, boundaries: Iterable[int]
) -> Tuple[Doc, List[str], List[bool]]:
    """Tokenize, then split every token that an entity boundary falls inside,
    so that each entity becomes an exact token span. Returns the plain
    tokenization too, to count which entities needed a split."""
    plain = tokenizer(text)
    cuts = sorted(set(boundaries))
    words: List[str] = []
    spaces: List[bool] = []
    for token in plain:
        start, end = token.idx, token.idx + len(token.text)
        pieces = [start] + [c for c in cuts if start < c < end] + [end]
        for i, (a, b) in enumerate(zip(pieces, pieces[1:])):
            words.append(text[a:b])
            # Only the last piece keeps the token's trailing whitespace.
            spaces.append(bool(token.whitespace_) and i == len(pieces) - 2)
    return plain, words, spaces


def doc_from_char_entities(
    tokenizer: Callable[[str], Doc],
    text: str,
    entities: List[CharEntity],
    path: PathLike,
    report: ConversionReport,
    *,
    labels: Optional[LabelFilter] = None,
    misaligned: str = "split",
) -> Tuple[Doc, List[Span]]:
    """Tokenize a text and add character-offset entities as doc.ents.

    Policies, all counted in the report: an entity that does not start and
    end on token boundaries is handled by `misaligned` ("split": the tokens it
    cuts are split so the entity is kept exactly (the default, lossless);
    "expand": the span grows to the enclosing tokens; "error": raise).
    Overlapping or nested entities keep the longest (spaCy's `filter_spans`),
    and every other one is counted as "overlap_dropped".

    tokenizer (Callable[[str], Doc]): e.g. `nlp.tokenizer` or `nlp.make_doc`.
    text (str): The original text; doc.text equals it.
    entities (List[CharEntity]): (start, end, label, line) tuples.
    path (PathLike): The source file, for errors and the report.
    report (ConversionReport): Where events are counted.
    labels (Optional[LabelFilter]): Label harmonization / filtering.
    misaligned (str): "split", "expand" or "error".
    RETURNS (Tuple[Doc, List[Span]]): The Doc and the spans set as entities,
        each with its source line in the report order.
    """
    if misaligned not in MISALIGNED_POLICIES:
        raise ValueError(f"misaligned must be one of {MISALIGNED_POLICIES}, not {misaligned!r}")
    kept: List[CharEntity] = []
    for ent in entities:
        out = labels(ent.label, report, path) if labels is not None else ent.label
        if out is not None:
            kept.append(ent._replace(label=out))
    boundaries = [c for ent in kept for c in (ent.start, ent.end)] if misaligned == "split" else []
    plain, words, spaces = _tokenize(tokenizer, text, boundaries)
    edges = {t.idx for t in plain} | {t.idx + len(t.text) for t in plain}
    doc = Doc(plain.vocab, words=words, spaces=spaces)
    spans: List[Span] = []
    scores: Dict[int, float] = {}
    for start, end, label, line, kb_id, score in kept:
        span = doc.char_span(start, end, label=label, kb_id=kb_id, alignment_mode="strict")
        if span is None:
            if misaligned == "error":
                raise CorpusFormatError(path, line, f"entity {start}-{end} "
                                        f"{text[start:end]!r} is not on token boundaries")
            span = doc.char_span(start, end, label=label, kb_id=kb_id, alignment_mode="expand")
            if span is None or not len(span):
                # Only whitespace: no token to attach it to.
                report.add("misaligned_dropped", path)
                continue
            report.add("misaligned_expanded", path)
        elif span.start_char not in edges or span.end_char not in edges:
            report.add("misaligned_split", path)
        spans.append(span)
        if score is not None:
            scores[id(span)] = score
    chosen = filter_spans(spans)
    if len(chosen) < len(spans):
        report.add("overlap_dropped", path, len(spans) - len(chosen))
    doc.ents = chosen
    for span in chosen:
        if id(span) in scores:
            set_score(span, scores[id(span)])
    return doc, chosen


def sentencize_outside_entities(doc: Doc, sentencizer: Callable[[Doc], Doc]) -> Doc:
    """Run a sentence splitter, then undo any sentence start inside an
    entity: CoNLL output cannot represent an entity that crosses sentences."""
    ents = list(doc.ents)
    doc = sentencizer(doc)
    for ent in ents:
        for token in ent[1:]:
            token.is_sent_start = False
    return doc


def find_files(path: PathLike, suffixes: Sequence[str]) -> List[Path]:
    """A file, or the sorted files with one of `suffixes` under a folder
    (recursive).

    path (PathLike): File or folder.
    suffixes (Sequence[str]): Suffixes to collect from folders.
    RETURNS (List[Path]): The files.
    """
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in suffixes)
        if not files:
            raise FileNotFoundError(f"No {'/'.join(suffixes)} files in {path}")
        return files
    if not path.exists():
        raise FileNotFoundError(f"No such file or folder: {path} (it does not exist)")
    return [path]
