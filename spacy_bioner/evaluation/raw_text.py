"""Gold data as a user's raw text, for evaluating segmentation and tokenization.

CoNLL corpora store tokens, not text: joined with spaces, "E. coli" reads
"E . coli". Users' abstracts arrive as ordinary text, which the pipeline
tokenizes and segments itself. `raw_text_docs` rebuilds such text from gold
sentences (detokenized, several sentences per document) while keeping the
gold entities and sentence starts as character-aligned annotations, so the
whole raw-text path can be scored against gold and every place where a
predicted segment cuts a gold mention can be counted.
"""
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterable, Iterator, List, Sequence

from spacy.tokens import Doc, Span

# No space before these tokens, and none after the openers: the usual
# spacing of English and biomedical text. Hyphens and slashes join words
# ("IL-2", "mg/kg"), as they mostly do in this domain. Straight quotes are
# left spaced: whether one opens or closes cannot be told from the tokens.
NO_SPACE_BEFORE = frozenset(".,;:!?)]}%-/") | {"'s", "n't"}
NO_SPACE_AFTER = frozenset("([{-/")


def detokenize(words: Sequence[str]) -> List[bool]:
    """Whether each token is followed by a space in plausible raw text.

    words (Sequence[str]): The tokens of one document.
    RETURNS (List[bool]): One flag per token (the last is False).
    """
    spaces = []
    for i, word in enumerate(words):
        nxt = words[i + 1] if i + 1 < len(words) else None
        prev = words[i - 1] if i else ""
        # "PU . 1", "2 . 2 kb", "EC 3 . 4 . 22": a point inside a name or a number.
        inner_point = word in ".," and prev[-1:].isalnum() and (nxt or "")[:1].isdigit()
        spaces.append(
            nxt is not None and not inner_point and word not in NO_SPACE_AFTER and nxt not in NO_SPACE_BEFORE
        )
    return spaces


def raw_text_docs(docs: Iterable[Doc], sentences_per_doc: int = 10, *, detokenized: bool = True) -> Iterator[Doc]:
    """Join consecutive gold sentences into documents of detokenized text.

    docs (Iterable[Doc]): Gold docs of one sentence (or one document) each,
        with entities and, optionally, sentence starts.
    sentences_per_doc (int): Sentences per output document (about an
        abstract); 0 keeps each input doc as one document.
    YIELDS (Doc): Docs whose text is detokenized, with the gold entities and
        gold sentence starts.
    """
    batch: List[Doc] = []
    for doc in docs:
        if not len(doc):
            continue
        batch.append(doc)
        if len(batch) >= max(1, sentences_per_doc):
            yield _join(batch, detokenized)
            batch = []
    if batch:
        yield _join(batch, detokenized)


def _join(docs: Sequence[Doc], detokenized: bool) -> Doc:
    words: List[str] = []
    spaces: List[bool] = []
    sent_starts: List[bool] = []
    ents = []
    for doc in docs:
        offset = len(words)
        starts = [bool(t.is_sent_start) for t in doc] if doc.has_annotation("SENT_START") else [False] * len(doc)
        starts[0] = True
        words.extend(t.text for t in doc)
        spaces.extend(bool(t.whitespace_) for t in doc[:-1])
        spaces.append(True)
        sent_starts.extend(starts)
        ents.extend((offset + e.start, offset + e.end, e.label_) for e in doc.ents)
    spaces[-1] = False
    out = Doc(docs[0].vocab, words=words, spaces=detokenize(words) if detokenized else spaces, sent_starts=sent_starts)
    out.ents = [Span(out, start, end, label=label) for start, end, label in ents]
    for key, value in docs[0].user_data.items():
        if isinstance(key, str):
            out.user_data[key] = value
    return out


@dataclass
class CutCount:
    """Gold mentions against the segments and tokens of a raw-text pipeline.

    mentions (int): Gold mentions seen.
    cut (int): Mentions with a predicted segment start strictly inside.
    misaligned (int): Mentions whose boundaries fall inside a predicted token
        (the tokenizer, not the segmenter, prevents an exact match).
    examples (List[str]): A few cut mentions, in context.
    """

    mentions: int = 0
    cut: int = 0
    misaligned: int = 0
    examples: List[str] = field(default_factory=list)

    def to_dict(self) -> Dict[str, object]:
        return {"mentions": self.mentions, "cut": self.cut, "misaligned": self.misaligned, "examples": self.examples}


def count_cuts(gold_docs: Iterable[Doc], segment: Callable[[str], Doc], max_examples: int = 5) -> CutCount:
    """Count gold mentions that a tokenizer + segmenter would cut.

    gold_docs (Iterable[Doc]): Gold docs (their text is what the pipeline reads).
    segment (Callable[[str], Doc]): Tokenizes and segments a text (e.g. a
        pipeline with only a sentence splitter); a doc without sentence
        starts is one segment.
    max_examples (int): Cut mentions to keep as examples.
    RETURNS (CutCount): The counts.
    """
    counts = CutCount()
    for gold in gold_docs:
        doc = segment(gold.text)
        starts = {t.idx for t in doc if t.is_sent_start and t.i > 0} if doc.has_annotation("SENT_START") else set()
        token_starts = {t.idx for t in doc}
        token_ends = {t.idx + len(t) for t in doc}
        for ent in gold.ents:
            counts.mentions += 1
            if any(ent.start_char < s < ent.end_char for s in starts):
                counts.cut += 1
                if len(counts.examples) < max_examples:
                    left = gold.text[max(0, ent.start_char - 30):ent.start_char]
                    right = gold.text[ent.end_char:ent.end_char + 30]
                    counts.examples.append(f"{left}[{ent.text}]{right}")
            if ent.start_char not in token_starts or ent.end_char not in token_ends:
                counts.misaligned += 1
    return counts
