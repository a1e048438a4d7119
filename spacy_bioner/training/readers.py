"""Training corpus reader for `spacy train`: CoNLL/TSV files (or DocBins)
with optional entity-type harmonization.

    [corpora.train]
    @readers = "spacy-bioner.TsvCorpus.v1"
    path = ${paths.train}
    label_map = "default"
"""
import itertools
import random
from pathlib import Path
from typing import Callable, Dict, Iterable, Iterator, List, Optional

import spacy
from spacy.language import Language
from spacy.tokens import Doc, DocBin
from spacy.training import Example

from ..corpora.conll import SCHEMES, PER, read_conll
from ..corpora.labels import load_label_map
from ..corpora.util import ConversionReport, LabelFilter, find_files, get_doc_id, set_doc_id

CONLL_SUFFIXES = (".tsv", ".conll", ".iob")


def corpus_files(path: Path) -> List[Path]:
    """A file, or the sorted .tsv/.conll/.iob/.spacy files under a folder.

    path (Path): File or folder.
    RETURNS (List[Path]): The files.
    """
    try:
        return find_files(path, CONLL_SUFFIXES + (".spacy",))
    except FileNotFoundError as err:
        # spaCy reports bad config values (here `paths.train`) as ValueError.
        raise ValueError(f"Corpus path does not exist or has no corpus files: {err}") from None


def _relabel(doc: Doc, labels: LabelFilter, report: ConversionReport, path: Path) -> Doc:
    # DocBin input carries its own labels; harmonize them like TSV labels.
    ents = []
    for ent in doc.ents:
        out = labels(ent.label_, report, path)
        if out is not None:
            ents.append(doc.char_span(ent.start_char, ent.end_char, label=out, kb_id=ent.kb_id_))
    doc.ents = ents
    return doc


@spacy.registry.readers("spacy-bioner.TsvCorpus.v1")
def create_tsv_corpus(
    path: Optional[Path],
    label_map: Optional[str] = None,
    keep_labels: Optional[List[str]] = None,
    scheme: str = "auto",
    per: str = "sentence",
    limit: int = 0,
    shuffle: bool = False,
) -> Callable[[Language], Iterator[Example]]:
    """Create a TsvCorpus reader (see `TsvCorpus`).

    path (Optional[Path]): A .tsv/.conll/.iob file, a .spacy DocBin, or a folder of them.
    label_map (Optional[str]): Path of a JSON label map, "default" for the package map,
        or None to keep the labels as they are.
    keep_labels (Optional[List[str]]): Keep only these (harmonized) labels; others become O.
    scheme (str): Tagging scheme of the TSV files: "auto", "iob1", "iob2" or "iobes".
    per (str): One example per "sentence" or per "document" (`-DOCSTART-`).
    limit (int): Use at most this many examples (0: all).
    shuffle (bool): Shuffle the examples on every pass.
    RETURNS (Callable[[Language], Iterator[Example]]): The reader.
    """
    if path is None:
        raise ValueError("spacy-bioner.TsvCorpus.v1 needs a path (is paths.train set?)")
    return TsvCorpus(path, label_map=label_map, keep_labels=keep_labels, scheme=scheme,
                     per=per, limit=limit, shuffle=shuffle)


class TsvCorpus:
    """Iterate over Examples from CoNLL/TSV or DocBin files, like spaCy's
    `Corpus`: the files are read again on every call, so memory stays flat.

    The reference Doc holds the file's tokens, entities and sentence starts.
    The predicted Doc has the same words (no re-tokenization, so the
    alignment is one-to-one) and the same sentence starts, since the
    component reads sentences and the gold boundaries are all there is.
    """

    def __init__(
        self,
        path: Path,
        *,
        label_map: Optional[str] = None,
        keep_labels: Optional[Iterable[str]] = None,
        scheme: str = "auto",
        per: str = "sentence",
        limit: int = 0,
        shuffle: bool = False,
    ) -> None:
        if scheme not in SCHEMES:
            raise ValueError(f"scheme must be one of {SCHEMES}, not {scheme!r}")
        if per not in PER:
            raise ValueError(f"per must be one of {PER}, not {per!r}")
        self.path = Path(path)
        self.label_map: Optional[Dict[str, str]] = (
            None if label_map is None else load_label_map(label_map)
        )
        self.keep_labels = list(keep_labels) if keep_labels else None
        self.scheme = scheme
        self.per = per
        self.limit = limit
        self.shuffle = shuffle
        self.report = ConversionReport()

    def read_docs(self, nlp: Language) -> Iterator[Doc]:
        """The gold Docs of all files, on `nlp.vocab`.

        nlp (Language): The pipeline.
        YIELDS (Doc): Reference Docs.
        """
        self.report = ConversionReport()
        labels = LabelFilter(self.label_map, self.keep_labels)
        for path in corpus_files(self.path):
            if path.suffix == ".spacy":
                for n, doc in enumerate(DocBin().from_disk(path).get_docs(nlp.vocab)):
                    if get_doc_id(doc) is None:
                        set_doc_id(doc, f"{path.stem}-{n}")
                    if self.label_map is not None or self.keep_labels:
                        doc = _relabel(doc, labels, self.report, path)
                    self.report.add_doc(doc)
                    yield doc
            else:
                docs, _ = read_conll(path, nlp.vocab, scheme=self.scheme, per=self.per,
                                     label_map=self.label_map, keep_labels=self.keep_labels,
                                     report=self.report)
                yield from docs

    def __call__(self, nlp: Language) -> Iterator[Example]:
        """Yield Examples.

        nlp (Language): The pipeline whose vocab the Docs use.
        YIELDS (Example): Examples with predicted Docs of the same words.
        """
        docs: Iterable[Doc] = self.read_docs(nlp)
        if self.limit:
            # As in spaCy's Corpus: the limit picks the first examples, then
            # shuffling reorders them, so every epoch sees the same subset.
            docs = itertools.islice(docs, self.limit)
        if self.shuffle:
            docs = list(docs)
            random.shuffle(docs)  # seeded by spaCy's fix_random_seed
        for gold in docs:
            yield make_example(gold)


def make_example(gold: Doc) -> Example:
    """An Example whose predicted Doc has the gold words, spaces and
    sentence starts, and nothing else.

    gold (Doc): The reference Doc.
    RETURNS (Example): The Example.
    """
    words = [t.text for t in gold]
    spaces = [bool(t.whitespace_) for t in gold]
    sent_starts = None
    if gold.has_annotation("SENT_START"):
        sent_starts = [bool(t.is_sent_start) for t in gold]
    predicted = Doc(gold.vocab, words=words, spaces=spaces, sent_starts=sent_starts)
    return Example(predicted, gold)
