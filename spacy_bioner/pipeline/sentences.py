"""A sentence splitter for biomedical text that does not cut names.

spaCy's rule-based `sentencizer` ends a sentence at every "." token. In
biomedical text many of those are abbreviations: genus initials ("E. coli",
and "E . coli" in pre-tokenized corpora), "Fig.", "et al.", "sp.", "spp.",
"approx.". Cutting there splits entities across segments that the BiLSTM-CRF
reads separately, and the CRF cannot join them again. Splitting too little
costs almost nothing (the component reads long segments in overlapping
windows), so where in doubt this splitter does not split.
"""
from functools import lru_cache
from typing import Callable, FrozenSet, Iterable, List, Optional, Sequence

import numpy
from spacy.attrs import IS_SPACE, ORTH, SENT_START
from spacy.language import Language
from spacy.pipeline import Sentencizer
from spacy.strings import get_string_id
from spacy.tokens import Doc, Token

# Lowercased, without the final ".". Abbreviations that are followed by a
# capitalized word or a number inside a sentence in biomedical writing.
DEFAULT_ABBREVIATIONS: FrozenSet[str] = frozenset(
    """
    al approx bp ca cf cfr co corp cv dept dr e.g eg eq eqs etc fig figs gen i.e
    ie inc jr ltd mr mrs ms no nos nov nr pp prof ref refs resp sp spec spp ssp
    st str subsp suppl syn tab var viz vol vs
    """.split()
)
# Tokens that can end a sentence. "." is the only one that abbreviations and
# initials share; "!" and "?" always end one.
DEFAULT_PUNCT: FrozenSet[str] = frozenset(Sentencizer.default_punct_chars)
# Tokens after the final punctuation that still belong to the sentence.
CLOSING = frozenset(")]}\"'»”’")
# What a sentence can start with besides a letter or a digit.
OPENING = frozenset("([{\"'«“‘")


@lru_cache(maxsize=8)
def _hashes(strings: FrozenSet[str]) -> FrozenSet[int]:
    """The ORTH hashes of `strings`, as `Doc.to_array` gives them."""
    return frozenset(get_string_id(text) for text in strings)


def _is_abbreviation(token: Token, abbreviations: FrozenSet[str]) -> bool:
    text = token.text.rstrip(".").lower()
    # A single letter is a genus initial ("E. coli") or a person's initial;
    # neither ends a sentence often enough to risk cutting a name.
    return (len(text) == 1 and text.isalpha()) or text in abbreviations


def split_sentences(
    doc: Doc,
    *,
    punct_chars: FrozenSet[str] = DEFAULT_PUNCT,
    abbreviations: FrozenSet[str] = DEFAULT_ABBREVIATIONS,
) -> List[bool]:
    """Decide where sentences start.

    A sentence ends after a line break (titles and headings have no full
    stop) and after a run of sentence-final punctuation (plus closing
    brackets or quotes), unless the punctuation is a "." that closes an
    abbreviation or a single-letter initial, or the next token cannot start a
    sentence: a lowercase word (sentences in this domain almost never start
    with one; the species name after a genus initial always does) or
    punctuation other than an opening bracket or quote.

    doc (Doc): The tokenized document.
    punct_chars (FrozenSet[str]): Tokens that can end a sentence.
    abbreviations (FrozenSet[str]): Lowercased abbreviations without the ".".
    RETURNS (List[bool]): One flag per token: whether a sentence starts there.
    """
    n = len(doc)
    starts = [False] * n
    if not n:
        return starts
    starts[0] = True
    # Only line breaks and punctuation can end a sentence: find them on the
    # token arrays, so that Python only visits those few tokens (a Token
    # object per token cost a fifth of the pipeline's time).
    # (A set lookup per hash: numpy.isin costs ~60 us a call, more than the
    # whole loop on a sentence.)
    orths, spaces = doc.to_array([ORTH, IS_SPACE]).T.tolist()
    hashes = _hashes(punct_chars)
    candidates = [i for i, (orth, space) in enumerate(zip(orths, spaces)) if space or orth in hashes]
    resume = 0
    for i in candidates:
        if i < resume:
            continue  # inside a run of punctuation already handled
        token = doc[i]
        if token.is_space:
            if "\n" in token.text and i + 1 < n and not doc[i + 1].text[:1].islower():
                # A line break ends a title or a heading, which has no full stop.
                starts[i + 1] = True
            continue
        if token.text not in punct_chars:
            continue  # a hash collision (never seen, but cheap to rule out)
        end = i
        # A closing bracket or quote belongs to the sentence when it is
        # attached to it ('cells.)' but not 'cells. "Next').
        while end + 1 < n and (
            doc[end + 1].text in punct_chars or (doc[end + 1].text in CLOSING and not doc[end].whitespace_)
        ):
            end += 1
        nxt = end + 1
        if nxt >= n:
            break
        only_periods = all(doc[k].text == "." for k in range(i, end + 1) if doc[k].text in punct_chars)
        after_abbreviation = only_periods and i > 0 and _is_abbreviation(doc[i - 1], abbreviations)
        first = doc[nxt].text[:1]
        # "coli" after "E ." and "," after "gen ." continue the sentence.
        can_start = first.isupper() or first.isdigit() or first in OPENING
        if can_start and not after_abbreviation:
            starts[nxt] = True
        resume = nxt
    return starts


class BioSentencizer:
    """Sets sentence starts with `split_sentences`. Like spaCy's sentencizer,
    with `overwrite=False` it keeps sentence starts that are already set (the
    gold segments of training and evaluation data)."""

    def __init__(
        self,
        name: str = "bio_sentencizer",
        *,
        punct_chars: Optional[Sequence[str]] = None,
        abbreviations: Optional[Iterable[str]] = None,
        extra_abbreviations: Iterable[str] = (),
        overwrite: bool = False,
    ) -> None:
        self.name = name
        self.punct_chars = frozenset(punct_chars) if punct_chars else DEFAULT_PUNCT
        base = frozenset(abbreviations) if abbreviations is not None else DEFAULT_ABBREVIATIONS
        self.abbreviations = base | {a.rstrip(".").lower() for a in extra_abbreviations}
        self.overwrite = overwrite

    def __call__(self, doc: Doc) -> Doc:
        if not self.overwrite and doc.has_annotation("SENT_START"):
            return doc
        starts = split_sentences(doc, punct_chars=self.punct_chars, abbreviations=self.abbreviations)
        if starts:
            # One array write instead of a Token per token; -1 is "not a start".
            doc.from_array([SENT_START], numpy.where(starts, 1, -1).astype("int64").astype("uint64"))
        return doc

    def pipe(self, docs: Iterable[Doc], batch_size: int = 128) -> Iterable[Doc]:
        for doc in docs:
            yield self(doc)


@Language.factory(
    "bio_sentencizer",
    assigns=["token.is_sent_start", "doc.sents"],
    default_config={"punct_chars": None, "abbreviations": None, "extra_abbreviations": [], "overwrite": False},
    default_score_weights={"sents_f": 0.0, "sents_p": None, "sents_r": None},
)
def make_bio_sentencizer(
    nlp: Language,
    name: str,
    punct_chars: Optional[List[str]],
    abbreviations: Optional[List[str]],
    extra_abbreviations: List[str],
    overwrite: bool,
) -> Callable[[Doc], Doc]:
    """A sentence splitter that knows biomedical abbreviations and genus
    initials, so that it never cuts "E. coli" or "S. cerevisiae".

    punct_chars (Optional[List[str]]): Sentence-final tokens; default spaCy's.
    abbreviations (Optional[List[str]]): Replace the built-in abbreviation list.
    extra_abbreviations (List[str]): Add to it.
    overwrite (bool): Replace sentence starts that are already set.
    """
    return BioSentencizer(
        name,
        punct_chars=punct_chars,
        abbreviations=abbreviations,
        extra_abbreviations=extra_abbreviations,
        overwrite=overwrite,
    )


def replace_plain_sentencizer(nlp: Language) -> List[str]:
    """Swap spaCy's plain `sentencizer` for `bio_sentencizer` in a pipeline.

    Pipelines trained before `bio_sentencizer` existed split raw text after
    every "." token and so cut "E. coli"-style names; bulk annotation calls
    this so that they read raw text as new pipelines do. Sentence starts set
    on the input docs are kept as before (`overwrite` is carried over).

    nlp (Language): The pipeline, changed in place.
    RETURNS (List[str]): The names of the components replaced.
    """
    replaced = []
    for name in list(nlp.pipe_names):
        if nlp.get_pipe_meta(name).factory != "sentencizer":
            continue
        old = nlp.get_pipe(name)
        config = {"overwrite": bool(getattr(old, "overwrite", False))}
        nlp.replace_pipe(name, "bio_sentencizer", config=config)
        replaced.append(name)
    return replaced
