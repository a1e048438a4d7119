"""CLI for silver corpora: `spacy-bioner build-silver` and `calbc-import`.

    spacy-bioner build-silver assets/corpora/unlabeled/biomed_text.jsonl.gz \\
        --tagger Disease:NCBI-disease=training/ncbi/model-best \\
        --tagger Disease:BC5CDR-disease=training/bc5cdr/model-best \\
        --k 2 --agreement exact --leave-out Variome-disease \\
        --pmid-blacklist ../shared/corpora/blacklists/pmid_blacklists \\
        --entity-blacklist ../shared/corpora/blacklists/entity_blacklists \\
        --output corpus/silver
"""
from pathlib import Path
from typing import List, Optional

import typer
from wasabi import msg

from . import app


@app.command("build-silver")
def build_silver_cli(
    inputs: List[Path] = typer.Argument(..., help="JSONL documents (id, text, optional pmid/medline_uid; .gz ok)", exists=True, dir_okay=False),
    output: Path = typer.Option(..., "--output", "-o", help="New folder for the DocBin shards and the report"),
    tagger: List[str] = typer.Option([], "--tagger", "-t", help="CLASS:CORPUS=PATH of a tagger trained on CORPUS (repeatable)"),
    taggers: str = typer.Option("", "--taggers", help="Several taggers in one whitespace-separated string (as project.yml vars give them)"),
    k: int = typer.Option(2, "--k", min=1, help="Taggers of a class that must agree on a mention"),
    cap_k: bool = typer.Option(False, "--cap-k", help="A class with fewer than k taggers needs all of them (instead of keeping none of its mentions)"),
    agreement: str = typer.Option("exact", "--agreement", help="exact (both boundaries) or right (right boundary)"),
    leave_out: List[str] = typer.Option([], "--leave-out", help="Corpora no tagger may be trained on (the transfer model's out-of-corpus test corpora); repeatable or whitespace-separated"),
    exclude_left_out: bool = typer.Option(False, "--exclude-left-out", help="Treat the taggers as a pool: drop those trained on a left-out corpus (listed in the report) instead of refusing them"),
    votes_dir: Optional[Path] = typer.Option(None, "--votes-dir", help="Folder of per-tagger votes caches: a tagger that already annotated these documents is not run again"),
    pmid_blacklist: List[Path] = typer.Option([], "--pmid-blacklist", help="File or folder of PMIDs / MEDLINE UIDs to drop (repeatable)"),
    entity_blacklist: List[Path] = typer.Option([], "--entity-blacklist", help="File or folder of single-token entities never kept (repeatable)"),
    per: str = typer.Option("sentence", "--per", help="One silver doc per sentence or per document"),
    shard_size: int = typer.Option(10000, "--shard-size", min=1, help="Docs per .spacy shard"),
    limit: int = typer.Option(0, "--limit", min=0, help="Read at most this many documents (0: all)"),
) -> None:
    """Build a silver-standard corpus: annotate unlabeled text with an ensemble of taggers and keep the mentions k of them agree on."""
    import itertools

    import srsly
    from tqdm import tqdm

    from ..silver.blacklists import load_entity_blacklist, load_pmid_blacklist
    from ..silver.build import SilverReport, Tagger, build_silver, read_documents, write_silver

    try:
        specs = list(tagger) + taggers.split()
        if not specs:
            raise ValueError("Give at least one tagger (--tagger CLASS:CORPUS=PATH)")
        ensemble = [Tagger.parse(spec) for spec in specs]
        left_out = [name for value in leave_out for name in value.split()]
        documents = itertools.chain.from_iterable(read_documents(p) for p in inputs)
        if limit:
            documents = itertools.islice(documents, limit)
        report = SilverReport()
        docs = build_silver(
            tqdm(documents, desc="documents", unit="doc", mininterval=10),
            ensemble,
            k=k,
            cap_k=cap_k,
            agreement=agreement,
            pmid_blacklist=load_pmid_blacklist(pmid_blacklist),
            entity_blacklist=load_entity_blacklist(entity_blacklist),
            leave_out=left_out,
            exclude_left_out=exclude_left_out,
            per=per,
            votes_dir=votes_dir,
            report=report,
        )
        shards = write_silver(docs, output, shard_size=shard_size)
    except (ValueError, FileNotFoundError, OSError) as err:
        msg.fail(str(err), exits=1)
    srsly.write_json(output / "report.json", report.to_dict())
    (output / "report.md").write_text(report.to_markdown(), encoding="utf8")
    msg.good(f"Wrote {len(shards)} shard(s) and report.json/report.md to {output}")
    print(report.to_markdown())


@app.command("calbc-import")
def calbc_import_cli(
    input_path: Path = typer.Argument(..., help="CALBC IeXML file (.gz ok)", exists=True, dir_okay=False),
    output: Path = typer.Option(..., "--output", "-o", help="The .spacy file to write"),
    sentences: bool = typer.Option(True, "--sentences/--no-sentences", help="Split sentences (bio_sentencizer) so training reads sentences"),
    label_map: Optional[Path] = typer.Option(None, "--label-map", help="JSON label map (default: the package map)"),
) -> None:
    """Convert a CALBC silver corpus (IeXML) to a spaCy DocBin with harmonized types."""
    import spacy
    from spacy.tokens import DocBin

    from ..corpora.labels import load_label_map
    from ..corpora.util import ConversionReport, atomic_path
    from ..silver.calbc import read_calbc_docs

    nlp = spacy.blank("en")
    if sentences:
        nlp.add_pipe("bio_sentencizer")
    report = ConversionReport()
    try:
        docbin = DocBin(store_user_data=True)
        for doc in read_calbc_docs(input_path, nlp, label_map=load_label_map(label_map), report=report):
            docbin.add(doc)
        with atomic_path(output) as tmp:
            docbin.to_disk(tmp)
    except (ValueError, OSError) as err:
        msg.fail(str(err), exits=1)
    msg.good(f"Wrote {output}: {report.summary()}")
