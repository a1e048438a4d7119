"""Convert corpora between CoNLL/TSV, Brat, PubTator, JSONL and spaCy DocBin."""
from pathlib import Path
from typing import Iterable, List, Optional

import spacy
from spacy.tokens import Doc, DocBin

from .brat import read_brat, write_brat
from .conll import conll_files, read_conll, write_conll
from .jsonl import read_jsonl, write_jsonl
from .labels import load_label_map
from .pubtator import read_pubtator, write_pubtator
from .util import (
    ConversionReport, PathLike, atomic_path, find_files, get_doc_id, sentencize_outside_entities,
)

FROM_FORMATS = ("conll", "brat", "pubtator", "jsonl")
TO_FORMATS = ("spacy", "conll", "brat", "pubtator", "jsonl")


def read_corpus(
    path: PathLike,
    from_format: str,
    *,
    lang: str = "en",
    label_map: Optional[str] = None,
    keep_labels: Optional[Iterable[str]] = None,
    per: str = "sentence",
    scheme: str = "auto",
    repair: bool = False,
    misaligned: str = "split",
    report: Optional[ConversionReport] = None,
) -> List[Doc]:
    """Read a corpus in any supported format.

    Text formats (brat, pubtator, jsonl) are tokenized with `spacy.blank(lang)`
    and get sentence starts from spaCy's sentencizer, never inside an entity,
    so that they can be written as CoNLL. `per` only applies to CoNLL input.

    path (PathLike): File or folder.
    from_format (str): "conll", "brat", "pubtator" or "jsonl".
    lang (str): Language of the tokenizer for text formats.
    label_map (Optional[str]): Label map path, "default", or None (labels unchanged).
    keep_labels (Optional[Iterable[str]]): Keep only these (output) labels.
    per (str): CoNLL: one Doc per "sentence" or "document".
    scheme (str): CoNLL tagging scheme, or "auto".
    repair (bool): CoNLL: repair invalid tag sequences instead of raising.
    misaligned (str): Text formats: "split", "expand" or "error".
    report (Optional[ConversionReport]): Report to add to.
    RETURNS (List[Doc]): The Docs.
    """
    if from_format not in FROM_FORMATS:
        raise ValueError(f"--from must be one of {FROM_FORMATS}, not {from_format!r}")
    path = Path(path)
    report = report if report is not None else ConversionReport()
    mapping = load_label_map(label_map) if label_map else None
    options = dict(label_map=mapping, keep_labels=keep_labels, report=report)
    nlp = spacy.blank(lang)
    docs: List[Doc] = []
    if from_format == "conll":
        for file in conll_files(path):
            docs.extend(read_conll(file, nlp.vocab, scheme=scheme, per=per, repair=repair, **options)[0])
        return docs
    if from_format == "brat":
        docs = read_brat(path, nlp.tokenizer, misaligned=misaligned, **options)[0]
    else:
        reader = read_pubtator if from_format == "pubtator" else read_jsonl
        suffixes = (".pubtator", ".txt") if from_format == "pubtator" else (".jsonl",)
        for file in find_files(path, suffixes):
            docs.extend(reader(file, nlp.tokenizer, misaligned=misaligned, **options)[0])
    sentencizer = nlp.add_pipe("sentencizer")
    docs = [sentencize_outside_entities(doc, sentencizer) for doc in docs]
    # The readers counted each unsplit Doc as one sentence.
    report.sentences += sum(len(list(doc.sents)) - 1 for doc in docs if len(doc))
    return docs


# Characters a label cannot hold in each format: our own reader would split
# the line there and read back a different label (or fail).
_LABEL_BREAKERS = {"conll": " \t\n\r", "brat": " \t\n\r", "pubtator": "\t\n\r"}


def check_labels(docs: Iterable[Doc], path: PathLike, to_format: str) -> None:
    """Raise ValueError if an entity label cannot be written in `to_format`.

    docs (Iterable[Doc]): The Docs to write.
    path (PathLike): The output (named in the message).
    to_format (str): The output format.
    """
    breakers = _LABEL_BREAKERS.get(to_format, "")
    for i, doc in enumerate(docs):
        for ent in doc.ents:
            label = ent.label_
            if not label or any(c in breakers for c in label):
                raise ValueError(
                    f"{path}: label {label!r} of document {get_doc_id(doc, str(i))} "
                    f"(entity {ent.text!r}, characters {ent.start_char}-{ent.end_char}) cannot be "
                    f"written as {to_format}: it is empty or holds whitespace; map it with --label-map"
                )


def write_corpus(docs: List[Doc], path: PathLike, to_format: str, *, scheme: str = "iob2") -> Path:
    """Write Docs in any supported format; the output appears only once complete.

    docs (List[Doc]): The Docs.
    path (PathLike): Output file (a folder for brat).
    to_format (str): "spacy", "conll", "brat", "pubtator" or "jsonl".
    scheme (str): CoNLL output scheme, "iob2" or "iobes".
    RETURNS (Path): The output.
    """
    if to_format not in TO_FORMATS:
        raise ValueError(f"--to must be one of {TO_FORMATS}, not {to_format!r}")
    check_labels(docs, path, to_format)
    if to_format == "spacy":
        with atomic_path(path) as tmp:
            DocBin(docs=docs, store_user_data=True).to_disk(tmp)
        return Path(path)
    if to_format == "conll":
        return write_conll(docs, path, scheme=scheme)
    if to_format == "brat":
        return write_brat(docs, path)
    if to_format == "pubtator":
        return write_pubtator(docs, path)
    if to_format == "jsonl":
        return write_jsonl(docs, path)
    raise ValueError(f"--to must be one of {TO_FORMATS}, not {to_format!r}")
