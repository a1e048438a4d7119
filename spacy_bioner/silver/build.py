"""Build a silver-standard corpus by harmonizing several automatic taggers.

CALBC, the papers' silver corpus, was made by letting several taggers
annotate the same abstracts and keeping what enough of them agreed on. This
does the same with spaCy pipelines trained on different gold corpora:

1. documents whose PMID (or MEDLINE UID) is in a gold corpus are dropped;
2. every tagger annotates the same tokens (one tokenization, one
   segmentation, so votes compare like with like);
3. per entity class, a mention is kept when at least `k` taggers of that
   class agree on it: on both boundaries (`exact`) or on the right boundary
   (`right`; the span most of them proposed is kept);
4. kept mentions of different classes that overlap are resolved by votes,
   then length;
5. single-token mentions on the entity blacklist of their class are dropped.

Each tagger's votes can be kept in a folder (`votes_dir`, one JSONL file per
tagger and model version), so that several silver corpora drawn from one pool
of taggers (one per transfer target, each leaving its test corpora out)
annotate the text once per tagger, not once per corpus.

Honesty rule: a silver corpus used to pretrain a model that is then tested
on corpus E must come from taggers none of which was trained on E, or E's
annotation style leaks in through the silver labels. Taggers declare the
corpus they were trained on (`Class:Corpus=path`); `leave_out` refuses
taggers trained on the named corpora, and the report lists them all.
"""
import hashlib
import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Set, Tuple, Union

import spacy
from spacy.language import Language
from spacy.tokens import Doc, DocBin, Span

from ..corpora.labels import harmonize, load_label_map
from ..files import open_text

PathLike = Union[str, Path]
AGREEMENTS = ("exact", "right")


@dataclass
class Tagger:
    """One automatic tagger: a spaCy pipeline that sets `doc.ents`.

    name (str): How the report names it.
    path (str): The pipeline (path or package name).
    entity_class (Optional[str]): The harmonized class it votes for; None:
        every class it predicts.
    trained_on (Optional[str]): The gold corpus it was trained on.
    """

    name: str
    path: str
    entity_class: Optional[str] = None
    trained_on: Optional[str] = None

    @classmethod
    def parse(cls, spec: str) -> "Tagger":
        """Read `[CLASS[:CORPUS]=]PATH`, e.g. `Disease:NCBI-disease=models/ncbi`."""
        head, sep, path = spec.rpartition("=")
        if not sep:
            return cls(name=Path(spec).name, path=spec)
        entity_class, _, corpus = head.partition(":")
        if not path:
            raise ValueError(f"Bad tagger {spec!r}: expected CLASS[:CORPUS]=PATH")
        name = f"{entity_class or '*'}:{corpus or Path(path).name}"
        return cls(name=name, path=path, entity_class=entity_class or None, trained_on=corpus or None)

    def classes(self, label_map: Dict[str, str]) -> Optional[Set[str]]:
        """The harmonized classes this tagger votes for: its `entity_class`,
        or else the classes its pipeline's labels map to (from the labels
        its meta.json lists); None if they cannot be known."""
        if self.entity_class is not None:
            return {self.entity_class}
        meta = Path(self.path) / "meta.json"
        if not meta.is_file():
            return None
        labels = json.loads(meta.read_text(encoding="utf8")).get("labels") or {}
        found = {harmonize(label, label_map) for names in labels.values() for label in names}
        return {c for c in found if c is not None}

    def fingerprint(self) -> str:
        """A key that changes when the model is retrained or its class changes:
        the class, the resolved path and every file's size and mtime."""
        h = hashlib.sha256(f"{self.entity_class}|{Path(self.path).resolve()}".encode("utf8"))
        root = Path(self.path)
        if root.is_dir():
            for f in sorted(root.rglob("*")):
                if f.is_file():
                    stat = f.stat()
                    h.update(f"|{f.relative_to(root)}:{stat.st_size}:{stat.st_mtime_ns}".encode("utf8"))
        return h.hexdigest()[:16]


@dataclass
class SilverReport:
    """What `build_silver` read, kept and dropped, and why."""

    taggers: List[Dict[str, Any]] = field(default_factory=list)
    excluded_taggers: List[Dict[str, Any]] = field(default_factory=list)
    k_per_class: Dict[str, int] = field(default_factory=dict)
    settings: Dict[str, Any] = field(default_factory=dict)
    docs_read: int = 0
    docs_dropped_pmid: int = 0
    docs_dropped_empty: int = 0
    docs_written: int = 0
    sentences_written: int = 0
    proposed: Counter = field(default_factory=Counter)  # class → distinct candidate mentions
    kept: Counter = field(default_factory=Counter)
    dropped_votes: Counter = field(default_factory=Counter)
    dropped_overlap: Counter = field(default_factory=Counter)
    dropped_blacklist: Counter = field(default_factory=Counter)
    votes: Dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))  # class → {n votes: mentions}

    def to_dict(self) -> Dict[str, Any]:
        return {
            "taggers": self.taggers,
            "excluded_taggers": self.excluded_taggers,
            "k_per_class": self.k_per_class,
            "settings": self.settings,
            "documents": {
                "read": self.docs_read,
                "dropped_pmid_blacklist": self.docs_dropped_pmid,
                "dropped_empty": self.docs_dropped_empty,
                "written": self.docs_written,
                "sentences_written": self.sentences_written,
            },
            "mentions": {
                label: {
                    "proposed": self.proposed[label],
                    "dropped_too_few_votes": self.dropped_votes[label],
                    "dropped_overlap": self.dropped_overlap[label],
                    "dropped_entity_blacklist": self.dropped_blacklist[label],
                    "kept": self.kept[label],
                    "votes_histogram": {str(k): v for k, v in sorted(self.votes[label].items())},
                }
                for label in sorted(self.proposed)
            },
        }

    def to_markdown(self) -> str:
        d = self.to_dict()
        docs = d["documents"]
        lines = [
            "# Silver corpus report",
            "",
            f"Settings: {json.dumps(d['settings'])}",
            "",
            "| tagger | votes for | trained on | path |",
            "|---|---|---|---|",
            *[f"| {t['name']} | {', '.join(t.get('classes') or []) or '*'} | {t['trained_on'] or '?'} | {t['path']} |"
              for t in d["taggers"]],
            "",
            "Left out (trained on a left-out corpus): "
            + (", ".join(t["name"] for t in d["excluded_taggers"]) or "none") + ".",
            "",
            "Votes needed per class: " + (", ".join(f"{c} {n}" for c, n in sorted(d["k_per_class"].items())) or "-") + ".",
            "",
            f"Documents: {docs['read']} read, {docs['dropped_pmid_blacklist']} dropped (PMID in a gold corpus), "
            f"{docs['dropped_empty']} empty, {docs['written']} written ({docs['sentences_written']} sentences).",
            "",
            "| class | proposed | too few votes | overlap | entity blacklist | kept | votes: mentions |",
            "|---|---|---|---|---|---|---|",
        ]
        for label, m in d["mentions"].items():
            hist = ", ".join(f"{k}: {v}" for k, v in m["votes_histogram"].items())
            lines.append(
                f"| {label} | {m['proposed']} | {m['dropped_too_few_votes']} | {m['dropped_overlap']} "
                f"| {m['dropped_entity_blacklist']} | {m['kept']} | {hist} |"
            )
        return "\n".join(lines) + "\n"


def read_documents(path: PathLike) -> Iterator[Dict[str, Any]]:
    """JSON Lines documents (`id`, `text`, optional `pmid`/`medline_uid`),
    gzip allowed, as in `../shared/corpora/unlabeled/`."""
    path = Path(path)
    with open_text(path) as f:
        for n, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(f"{path}:{n}: invalid JSON ({err.msg})") from err
            if not isinstance(record, dict) or not isinstance(record.get("text"), str):
                raise ValueError(f"{path}:{n}: expected an object with a \"text\" string")
            record.setdefault("id", f"{path.name}:{n}")
            yield record


def _mentions(doc: Doc, tagger: Tagger, label_map: Dict[str, str]) -> Set[Tuple[str, int, int]]:
    found = set()
    for ent in doc.ents:
        label = harmonize(ent.label_, label_map)
        if label is None or (tagger.entity_class is not None and label != tagger.entity_class):
            continue
        found.add((label, ent.start, ent.end))
    return found


def vote(
    proposals: Sequence[Set[Tuple[str, int, int]]],
    classes: Sequence[Optional[str]],
    k: Union[int, Dict[str, int]],
    agreement: str,
    report: SilverReport,
) -> List[Tuple[str, int, int, int]]:
    """Keep the mentions enough taggers of their class agree on.

    proposals (Sequence[Set[Tuple[str, int, int]]]): Per tagger, its
        (class, start token, end token) mentions.
    classes (Sequence[Optional[str]]): Per tagger, the class it votes for.
    k (Union[int, Dict[str, int]]): Votes needed, or per class (a class
        missing from the dict needs 1).
    agreement (str): "exact" or "right".
    report (SilverReport): Counts are added here.
    RETURNS (List[Tuple[str, int, int, int]]): (class, start, end, votes).
    """
    by_key: Dict[Tuple[str, Any], Counter] = defaultdict(Counter)
    for mentions in proposals:
        for label, start, end in mentions:
            key = (label, (start, end) if agreement == "exact" else end)
            by_key[key][(start, end)] += 1
    kept = []
    for (label, _), spans in by_key.items():
        votes = sum(spans.values())
        report.proposed[label] += 1
        report.votes[label][votes] += 1
        needed = k.get(label, 1) if isinstance(k, dict) else k
        if votes < needed:
            report.dropped_votes[label] += 1
            continue
        # The span most taggers proposed; on a tie the longest (earliest start).
        (start, end), _ = min(spans.items(), key=lambda item: (-item[1], item[0][0]))
        kept.append((label, start, end, votes))
    return kept


def resolve_overlaps(mentions: List[Tuple[str, int, int, int]], report: SilverReport) -> List[Tuple[str, int, int, int]]:
    """Keep non-overlapping mentions, most votes first, then longest."""
    chosen: List[Tuple[str, int, int, int]] = []
    taken: Set[int] = set()
    for mention in sorted(mentions, key=lambda m: (-m[3], -(m[2] - m[1]), m[1])):
        label, start, end, _ = mention
        if taken.intersection(range(start, end)):
            report.dropped_overlap[label] += 1
            continue
        taken.update(range(start, end))
        chosen.append(mention)
    return sorted(chosen, key=lambda m: m[1])


def k_per_class(tagger_classes: Sequence[Optional[Set[str]]], k: int, cap: bool, classes: Iterable[str]) -> Dict[str, int]:
    """Votes each class needs: `k`, or with `cap` at most the number of
    taggers that vote for the class, so that a class with fewer than k
    taggers needs all of them.

    tagger_classes (Sequence[Optional[Set[str]]]): Per tagger, the classes
        it votes for (`Tagger.classes`); None counts for every class.
    """
    result = {}
    for label in classes:
        n = sum(1 for c in tagger_classes if c is None or label in c)
        result[label] = max(1, min(k, n)) if cap else k
    return result


class VotesCache:
    """One tagger's votes on one stream of documents, as JSON Lines
    (`id`, `n_tokens`, `mentions`), read back in order when the same tagger
    annotates the same documents again.

    A file is written as `<name>.part` and renamed when the stream ends, so
    an interrupted build never leaves a cache that looks complete.
    """

    def __init__(self, folder: Path, tagger: Tagger) -> None:
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", tagger.name)
        self.path = Path(folder) / f"{slug}-{tagger.fingerprint()}.jsonl"
        self._reader = None
        self._writer = None
        if self.path.exists():
            self._reader = self.path.open("r", encoding="utf8")
            self._line = 0
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._writer = self.path.with_name(self.path.name + ".part").open("w", encoding="utf8")

    @property
    def cached(self) -> bool:
        return self._reader is not None

    def read(self, doc_id: str, n_tokens: int) -> Set[Tuple[str, int, int]]:
        assert self._reader is not None
        line = self._reader.readline()
        self._line += 1
        if not line:
            raise ValueError(f"{self.path}: votes cache ends before document {doc_id!r}; it was built from "
                             "fewer documents (delete it to annotate again)")
        record = json.loads(line)
        if record["id"] != doc_id or record["n_tokens"] != n_tokens:
            raise ValueError(f"{self.path}:{self._line}: votes cache holds document {record['id']!r} "
                             f"({record['n_tokens']} tokens) where {doc_id!r} ({n_tokens} tokens) was expected; "
                             "it was built from other documents or another tokenization (delete it to annotate again)")
        return {(label, start, end) for label, start, end in record["mentions"]}

    def write(self, doc_id: str, n_tokens: int, mentions: Set[Tuple[str, int, int]]) -> None:
        assert self._writer is not None
        self._writer.write(json.dumps({"id": doc_id, "n_tokens": n_tokens, "mentions": sorted(mentions)}) + "\n")

    def close(self, complete: bool) -> None:
        if self._reader is not None:
            self._reader.close()
        if self._writer is not None:
            self._writer.close()
            if complete:
                self.path.with_name(self.path.name + ".part").replace(self.path)


def build_silver(
    documents: Iterable[Dict[str, Any]],
    taggers: Sequence[Tagger],
    *,
    k: int = 2,
    cap_k: bool = False,
    agreement: str = "exact",
    pmid_blacklist: Iterable[str] = (),
    entity_blacklist: Optional[Dict[str, Set[str]]] = None,
    leave_out: Sequence[str] = (),
    exclude_left_out: bool = False,
    per: str = "sentence",
    batch_size: int = 64,
    label_map: Optional[Dict[str, str]] = None,
    segmenter: Optional[Language] = None,
    votes_dir: Optional[PathLike] = None,
    report: Optional[SilverReport] = None,
) -> Iterator[Doc]:
    """Annotate documents with every tagger and yield the voted silver docs.

    documents (Iterable[Dict[str, Any]]): Records with `text` and optional
        `id`, `pmid`, `medline_uid`.
    taggers (Sequence[Tagger]): The ensemble (or the pool it is drawn from,
        with `exclude_left_out`).
    k (int): Votes needed per mention, among the taggers of its class.
    cap_k (bool): A class with fewer than k taggers needs all of them
        (instead of none of its mentions being kept).
    agreement (str): "exact" (both boundaries) or "right" (right boundary).
    pmid_blacklist (Iterable[str]): Ids of gold-corpus documents to drop.
    entity_blacklist (Optional[Dict[str, Set[str]]]): Class → lower-cased
        words never kept as single-token mentions.
    leave_out (Sequence[str]): Corpora no tagger may have been trained on.
    exclude_left_out (bool): Drop the taggers trained on a left-out corpus
        (listed in the report) instead of refusing them.
    per (str): Yield one doc per "sentence" (what training batches count)
        or per "document".
    batch_size (int): Documents annotated per batch.
    label_map (Optional[Dict[str, str]]): Type harmonization; default the
        package map.
    segmenter (Optional[Language]): Tokenizer and sentence splitter for the
        shared tokenization; default English with `bio_sentencizer`.
    votes_dir (Optional[PathLike]): Folder of per-tagger votes caches
        (`VotesCache`): a tagger whose cache exists is not run again.
    report (Optional[SilverReport]): Filled in as documents are written.
    YIELDS (Doc): Silver docs with `doc.ents`, sentence starts and the
        document id in `user_data["id"]`.
    """
    if agreement not in AGREEMENTS:
        raise ValueError(f"agreement must be one of {AGREEMENTS}, not {agreement!r}")
    if per not in ("sentence", "document"):
        raise ValueError(f"per must be 'sentence' or 'document', not {per!r}")
    report = report if report is not None else SilverReport()
    left_out = set(leave_out)
    if exclude_left_out:
        report.excluded_taggers = [_describe(t, label_map or load_label_map()) for t in taggers if t.trained_on in left_out]
        taggers = [t for t in taggers if t.trained_on not in left_out]
    if not taggers:
        raise ValueError("build_silver needs at least one tagger" + (" that is not left out" if exclude_left_out else ""))
    leaked = [t.name for t in taggers if t.trained_on and t.trained_on in left_out]
    if leaked:
        raise ValueError(f"Taggers {leaked} were trained on a left-out corpus ({', '.join(leave_out)})")
    unknown = [t.name for t in taggers if leave_out and not t.trained_on]
    if unknown:
        raise ValueError(f"Taggers {unknown} do not say which corpus they were trained on (CLASS:CORPUS=PATH), "
                         "so leaving a corpus out cannot be checked")
    label_map = label_map if label_map is not None else load_label_map()
    blacklist = entity_blacklist or {}
    blocked = set(pmid_blacklist)
    segmenter = segmenter or _default_segmenter()
    report.settings = {"k": k, "cap_k": cap_k, "agreement": agreement, "leave_out": list(leave_out), "per": per,
                       "pmid_blacklist_size": len(blocked),
                       "entity_blacklist_size": {c: len(w) for c, w in sorted(blacklist.items())}}
    report.taggers = [_describe(t, label_map) for t in taggers]
    caches = [VotesCache(Path(votes_dir), t) if votes_dir is not None else None for t in taggers]
    # A cached tagger is never loaded: its votes are read back instead.
    pipelines = [None if cache is not None and cache.cached else spacy.load(t.path) for t, cache in zip(taggers, caches)]
    annotator = _Annotator(taggers, pipelines, caches, k, cap_k, agreement, blacklist, per, label_map, report,
                           tagger_classes=[t.classes(label_map) for t in taggers])
    complete = False
    try:
        batch: List[Tuple[Dict[str, Any], Doc]] = []
        for record in documents:
            report.docs_read += 1
            ids = {str(record.get(key)) for key in ("pmid", "medline_uid") if record.get(key)}
            if ids & blocked:
                report.docs_dropped_pmid += 1
                continue
            doc = segmenter(record["text"])
            if not len(doc):
                report.docs_dropped_empty += 1
                continue
            batch.append((record, doc))
            if len(batch) >= batch_size:
                yield from annotator(batch)
                batch = []
        if batch:
            yield from annotator(batch)
        complete = True
    finally:
        for cache in caches:
            if cache is not None:
                cache.close(complete)


def _describe(tagger: Tagger, label_map: Dict[str, str]) -> Dict[str, Any]:
    classes = tagger.classes(label_map)
    return dict(name=tagger.name, path=tagger.path, entity_class=tagger.entity_class, trained_on=tagger.trained_on,
                classes=sorted(classes) if classes is not None else None)


def _default_segmenter() -> Language:
    nlp = spacy.blank("en")
    nlp.add_pipe("bio_sentencizer")
    return nlp


@dataclass
class _Annotator:
    """Votes, overlaps and blacklists for one batch of segmented documents."""

    taggers: Sequence[Tagger]
    pipelines: Sequence[Optional[Language]]
    caches: Sequence[Optional[VotesCache]]
    k: int
    cap_k: bool
    agreement: str
    blacklist: Dict[str, Set[str]]
    per: str
    label_map: Dict[str, str]
    report: SilverReport
    tagger_classes: Sequence[Optional[Set[str]]] = ()

    def __call__(self, batch: List[Tuple[Dict[str, Any], Doc]]) -> Iterator[Doc]:
        report = self.report
        doc_ids = [str(record.get("id")) for record, _ in batch]
        proposals: List[List[Set[Tuple[str, int, int]]]] = [[] for _ in batch]
        for tagger, nlp, cache in zip(self.taggers, self.pipelines, self.caches):
            if nlp is None:
                assert cache is not None
                for i, (_, doc) in enumerate(batch):
                    proposals[i].append(cache.read(doc_ids[i], len(doc)))
                continue
            # Every tagger reads the same tokens and sentences, on its own
            # vocab (its static vectors live there).
            copies = [
                Doc(nlp.vocab, words=[t.text for t in doc], spaces=[bool(t.whitespace_) for t in doc],
                    sent_starts=[bool(t.is_sent_start) for t in doc])
                for _, doc in batch
            ]
            for i, annotated in enumerate(nlp.pipe(copies)):
                found = _mentions(annotated, tagger, self.label_map)
                if cache is not None:
                    cache.write(doc_ids[i], len(annotated), found)
                proposals[i].append(found)
        classes = [t.entity_class for t in self.taggers]
        for (record, doc), doc_id, doc_proposals in zip(batch, doc_ids, proposals):
            labels = {label for mentions in doc_proposals for label, _, _ in mentions}
            k = k_per_class(self.tagger_classes, self.k, self.cap_k, labels)
            for label, needed in k.items():
                report.k_per_class.setdefault(label, needed)
            mentions = resolve_overlaps(vote(doc_proposals, classes, k, self.agreement, report), report)
            ents = []
            for label, start, end, _ in mentions:
                if end - start == 1 and doc[start].text.lower() in self.blacklist.get(label, ()):
                    report.dropped_blacklist[label] += 1
                    continue
                report.kept[label] += 1
                ents.append(Span(doc, start, end, label=label))
            doc.ents = ents
            doc.user_data["id"] = doc_id
            report.docs_written += 1
            if self.per == "document":
                report.sentences_written += sum(1 for _ in doc.sents)
                yield doc
                continue
            for n, sent in enumerate(doc.sents):
                out = sent.as_doc()
                out.user_data["id"] = f"{doc_id}:s{n}"
                report.sentences_written += 1
                yield out


def write_silver(docs: Iterable[Doc], output: PathLike, shard_size: int = 10000) -> List[Path]:
    """Write silver docs as DocBin shards `silver-00000.spacy`, ... so that
    training reads one shard at a time and memory stays flat.

    docs (Iterable[Doc]): From `build_silver`.
    output (PathLike): A new or empty folder.
    shard_size (int): Docs per shard.
    RETURNS (List[Path]): The shards written.
    """
    output = Path(output)
    if output.exists() and any(output.iterdir()):
        raise ValueError(f"Output folder {output} is not empty; choose a new one")
    output.mkdir(parents=True, exist_ok=True)
    shards: List[Path] = []
    current = DocBin(attrs=["ORTH", "SPACY", "SENT_START", "ENT_IOB", "ENT_TYPE"], store_user_data=True)
    for doc in docs:
        current.add(doc)
        if len(current) >= shard_size:
            shards.append(_write_shard(current, output, len(shards)))
            current = DocBin(attrs=["ORTH", "SPACY", "SENT_START", "ENT_IOB", "ENT_TYPE"], store_user_data=True)
    if len(current) or not shards:
        shards.append(_write_shard(current, output, len(shards)))
    return shards


def _write_shard(docbin: DocBin, folder: Path, n: int) -> Path:
    path = folder / f"silver-{n:05d}.spacy"
    tmp = folder / f".{path.name}.part"
    docbin.to_disk(tmp)
    tmp.replace(path)
    return path
