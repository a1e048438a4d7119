"""Read and write CoNLL-style token-per-line files (`token<TAB>tag`).

A blank line ends a sentence and a `-DOCSTART-` line ends a document. Docs
are built from the file's tokens with `Doc(vocab, words=..., ents=...)` and are
never re-tokenized; `doc.text` is the tokens joined by single spaces.
"""
import re
from pathlib import Path
from typing import Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

from spacy.tokens import Doc
from spacy.vocab import Vocab

from .util import (
    ConversionReport, CorpusFormatError, LabelFilter, PathLike, atomic_path, find_files, read_text, set_doc_id,
)

SCHEMES = ("auto", "iob1", "iob2", "iobes")
PER = ("sentence", "document")
DOCSTART = "-DOCSTART-"
# Doc.user_data flag set on Docs read per document from a file with
# -DOCSTART- lines, so that writers can put the lines back.
DOCSTART_KEY = "conll_docstart"
_TAG_RE = re.compile(r"^(?:O|([BIES])-(\S.*))$")

# One token row: (token, tag, line number).
Row = Tuple[str, str, int]
Sentence = List[Row]


def parse_conll(
    path: PathLike, *, token_col: int = 0, tag_col: int = -1, delimiter: Optional[str] = "\t"
) -> Tuple[List[List[Sentence]], bool]:
    """Parse a CoNLL file into documents of sentences of (token, tag, line)
    rows, checking the column count and the tag syntax.

    path (PathLike): The file.
    token_col (int): Column of the token.
    tag_col (int): Column of the tag (negative counts from the end).
    delimiter (Optional[str]): Column separator; None splits on any whitespace.
    RETURNS (Tuple[List[List[Sentence]], bool]): Documents (a file without
        `-DOCSTART-` is one document), and whether the file had `-DOCSTART-` lines.
    """
    path = Path(path)
    docs: List[List[Sentence]] = [[]]
    sentence: Sentence = []
    n_cols: Optional[int] = None
    has_docstart = False
    for lineno, raw in enumerate(read_text(path).split("\n"), 1):
        line = raw.rstrip("\r")
        if not line.strip():
            if sentence:
                docs[-1].append(sentence)
                sentence = []
            continue
        cols = line.split(delimiter)
        if cols[0] == DOCSTART:
            has_docstart = True
            if sentence:
                docs[-1].append(sentence)
                sentence = []
            if docs[-1]:
                docs.append([])
            continue
        if n_cols is None:
            n_cols = len(cols)
            if n_cols < 2 or max(token_col, tag_col % n_cols) >= n_cols:
                raise CorpusFormatError(path, lineno, f"found {n_cols} column(s), need the token "
                                        f"column {token_col} and the tag column {tag_col}")
        elif len(cols) != n_cols:
            raise CorpusFormatError(path, lineno, f"expected {n_cols} columns, found {len(cols)}")
        token, tag = cols[token_col], cols[tag_col].strip()
        if not token.strip():
            raise CorpusFormatError(path, lineno, "empty token")
        if not _TAG_RE.match(tag):
            raise CorpusFormatError(path, lineno, f"bad tag {tag!r} (expected O, B-X, I-X, E-X or S-X)")
        sentence.append((token, tag, lineno))
    if sentence:
        docs[-1].append(sentence)
    if n_cols is None:
        raise CorpusFormatError(path, 1, "no tokens found (empty file)")
    return [doc for doc in docs if doc], has_docstart


def _split(tag: str) -> Tuple[str, Optional[str]]:
    return ("O", None) if tag == "O" else (tag[0], tag[2:])


def detect_scheme(sentences: Iterable[Sentence]) -> str:
    """Guess the tagging scheme of a file.

    IOBES if any E-/S- tag occurs. IOB1 if some I- tag starts an entity and
    no B- tag does (in IOB1, B- only separates two adjacent entities of the
    same type). Otherwise IOB2, where an entity-initial I- is an error.

    sentences (Iterable[Sentence]): The parsed rows.
    RETURNS (str): "iob1", "iob2" or "iobes".
    """
    i_starts = b_starts = 0
    for sentence in sentences:
        prev: Optional[str] = None
        for _, tag, _ in sentence:
            prefix, label = _split(tag)
            if prefix in ("E", "S"):
                return "iobes"
            if prefix == "I" and label != prev:
                i_starts += 1
            elif prefix == "B" and label != prev:
                b_starts += 1
            prev = label
    return "iob1" if i_starts and not b_starts else "iob2"


def tags_to_spans(
    sentence: Sentence, scheme: str, path: PathLike, report: ConversionReport, *, repair: bool = False
) -> List[Tuple[int, int, str]]:
    """Decode the tags of one sentence into (start, end, label) token spans.

    An invalid sequence (IOB2/IOBES: an I-/E- that continues no entity; IOBES:
    an entity not closed by E-) raises, or with `repair` is fixed (the tag
    starts, or the entity ends, there) and counted as "iob_repaired".

    sentence (Sentence): The rows.
    scheme (str): "iob1", "iob2" or "iobes".
    path (PathLike): The file, for errors and the report.
    report (ConversionReport): Where repairs are counted.
    repair (bool): Fix invalid sequences instead of raising.
    RETURNS (List[Tuple[int, int, str]]): Token spans, end exclusive.
    """
    spans: List[Tuple[int, int, str]] = []
    start: Optional[int] = None
    label: Optional[str] = None

    def violation(line: int, message: str) -> None:
        if not repair:
            raise CorpusFormatError(path, line, f"invalid {scheme.upper()}: {message} (repair=True fixes it)")
        report.add("iob_repaired", path)

    def close(end: int) -> None:
        nonlocal start
        if start is not None and label is not None:
            spans.append((start, end, label))
        start = None

    prev_tag = "O"
    for i, (_, tag, line) in enumerate(sentence):
        prefix, tag_label = _split(tag)
        continues = start is not None and tag_label == label and prefix in ("I", "E")
        if scheme == "iobes" and start is not None and not continues:
            violation(line, f"entity {label} is not closed by E-{label} before {tag}")
        if continues:
            if prefix == "E":
                close(i + 1)
            prev_tag = tag
            continue
        close(i)
        if prefix != "O":
            if prefix in ("I", "E") and scheme != "iob1":
                violation(line, f"{tag} after {prev_tag} continues no entity")
            start, label = i, tag_label
            if prefix in ("S", "E"):
                close(i + 1)
        prev_tag = tag
    if start is not None and scheme == "iobes":
        violation(sentence[-1][2], f"entity {label} is not closed by E-{label} at sentence end")
    close(len(sentence))
    return spans


def read_conll(
    path: PathLike,
    vocab: Vocab,
    *,
    token_col: int = 0,
    tag_col: int = -1,
    delimiter: Optional[str] = "\t",
    scheme: str = "auto",
    per: str = "sentence",
    label_map: Optional[Dict[str, str]] = None,
    keep_labels: Optional[Iterable[str]] = None,
    repair: bool = False,
    report: Optional[ConversionReport] = None,
) -> Tuple[List[Doc], ConversionReport]:
    """Read a CoNLL/TSV file into Docs with entities and sentence starts.

    Each Doc gets the id "<file stem>-<n>" (`util.get_doc_id`), n counting
    sentences or documents in the file from 0.

    path (PathLike): The file.
    vocab (Vocab): The vocab of the Docs (e.g. `nlp.vocab`).
    token_col (int): Column of the token.
    tag_col (int): Column of the tag (negative counts from the end).
    delimiter (Optional[str]): Column separator; None splits on any whitespace.
    scheme (str): "auto", "iob1", "iob2" or "iobes".
    per (str): One Doc per "sentence" or per "document" (`-DOCSTART-`).
    label_map (Optional[Dict[str, str]]): Harmonize labels with this map;
        unmapped labels become O.
    keep_labels (Optional[Iterable[str]]): Keep only these (output) labels.
    repair (bool): Fix invalid tag sequences instead of raising.
    report (Optional[ConversionReport]): Report to add to (e.g. over many files).
    RETURNS (Tuple[List[Doc], ConversionReport]): The Docs and the report.
    """
    if scheme not in SCHEMES:
        raise ValueError(f"scheme must be one of {SCHEMES}, not {scheme!r}")
    if per not in PER:
        raise ValueError(f"per must be one of {PER}, not {per!r}")
    path = Path(path)
    report = report if report is not None else ConversionReport()
    labels = LabelFilter(label_map, keep_labels)
    documents, has_docstart = parse_conll(path, token_col=token_col, tag_col=tag_col, delimiter=delimiter)
    if scheme == "auto":
        scheme = detect_scheme(s for d in documents for s in d)
    groups = [[s] for d in documents for s in d] if per == "sentence" else documents
    docs: List[Doc] = []
    for n, group in enumerate(groups):
        words: List[str] = []
        sent_starts: List[bool] = []
        ents: List[str] = []
        for sentence in group:
            sent_tags = ["O"] * len(sentence)
            for start, end, label in tags_to_spans(sentence, scheme, path, report, repair=repair):
                out = labels(label, report, path)
                if out is not None:
                    sent_tags[start:end] = [f"B-{out}"] + [f"I-{out}"] * (end - start - 1)
            words.extend(row[0] for row in sentence)
            sent_starts.extend(i == 0 for i in range(len(sentence)))
            ents.extend(sent_tags)
        spaces = [True] * (len(words) - 1) + [False]
        doc = Doc(vocab, words=words, spaces=spaces, sent_starts=sent_starts, ents=ents)
        set_doc_id(doc, f"{path.stem}-{n}")
        if per == "document" and has_docstart:
            doc.user_data[DOCSTART_KEY] = True
        report.add_doc(doc)
        docs.append(doc)
    report.schemes[str(path)] = scheme
    return docs, report


def _entity_index(doc: Doc, spans_key: Optional[str]) -> List[Optional[int]]:
    index: List[Optional[int]] = [None] * len(doc)
    spans = doc.ents if spans_key is None else doc.spans[spans_key]
    for k, span in enumerate(spans):
        for i in range(span.start, span.end):
            index[i] = k
    return index


def doc_to_rows(
    doc: Doc, *, scheme: str = "iob2", spans_key: Optional[str] = None
) -> Iterator[List[Tuple[str, str]]]:
    """The (token, tag) rows of each sentence of a Doc.

    Whitespace tokens (which spaCy's tokenizer makes from newlines or double
    spaces) have no place in a token-per-line file and are left out; the
    tags are computed over the remaining tokens, so they stay valid.

    doc (Doc): The Doc (one sentence when it has no sentence starts).
    scheme (str): "iob2" or "iobes".
    spans_key (Optional[str]): Write `doc.spans[spans_key]` instead of doc.ents
        (overlapping spans there are written as the later one).
    YIELDS (List[Tuple[str, str]]): One sentence's rows.
    """
    if scheme not in ("iob2", "iobes"):
        raise ValueError(f"Can only write iob2 or iobes, not {scheme!r}")
    index = _entity_index(doc, spans_key)
    labels = doc.ents if spans_key is None else doc.spans[spans_key]
    sents = doc.sents if doc.has_annotation("SENT_START") else [doc[:]]
    for sent in sents:
        kept = [t for t in sent if not t.is_space and t.text.strip()]
        rows: List[Tuple[str, str]] = []
        for j, token in enumerate(kept):
            k = index[token.i]
            if any(c in token.text for c in "\t\n\r"):
                raise ValueError(f"Token {token.text!r} contains a tab or newline")
            if k is None:
                rows.append((token.text, "O"))
                continue
            first = j == 0 or index[kept[j - 1].i] != k
            last = j == len(kept) - 1 or index[kept[j + 1].i] != k
            if scheme == "iobes":
                prefix = "S" if first and last else "B" if first else "E" if last else "I"
            else:
                prefix = "B" if first else "I"
            rows.append((token.text, f"{prefix}-{labels[k].label_}"))
        if rows:
            yield rows


def write_conll(
    docs: Iterable[Doc],
    path: PathLike,
    *,
    scheme: str = "iob2",
    docstart: Optional[bool] = None,
    spans_key: Optional[str] = None,
) -> Path:
    """Write Docs as `token<TAB>tag` lines, a blank line after each sentence.
    The file appears only once it is complete.

    docs (Iterable[Doc]): The Docs.
    path (PathLike): The output file.
    scheme (str): "iob2" or "iobes".
    docstart (Optional[bool]): Write a `-DOCSTART-<TAB>O` line (and a blank
        line) before each Doc; None: before the Docs that were read per
        document from a file with such lines (DOCSTART_KEY).
    spans_key (Optional[str]): Write this span group instead of doc.ents.
    RETURNS (Path): The output file.
    """
    with atomic_path(path) as tmp:
        with tmp.open("w", encoding="utf-8", newline="\n") as f:
            for doc in docs:
                if docstart or (docstart is None and doc.user_data.get(DOCSTART_KEY)):
                    f.write(f"{DOCSTART}\tO\n\n")
                for rows in doc_to_rows(doc, scheme=scheme, spans_key=spans_key):
                    f.write("".join(f"{token}\t{tag}\n" for token, tag in rows))
                    f.write("\n")
    return Path(path)


def conll_files(path: PathLike, suffixes: Sequence[str] = (".tsv", ".conll", ".iob")) -> List[Path]:
    """A file, or the sorted files with a CoNLL suffix in a folder (recursive)."""
    return find_files(path, suffixes)
