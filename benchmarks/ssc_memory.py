"""Peak memory of silver-corpus pretraining at two silver sizes (issue #13).

spaCy streams a training corpus only with `max_epochs = -1`; with
`max_epochs >= 0` it first reads every example into a list. Pretraining on a
silver corpus therefore runs streamed (`spacy-bioner grid tl-prepare --stage
pretrain`). This measures the peak RSS of `spacy train` on a small and a
large silver corpus, streamed and (for contrast) read whole, with the same
number of update steps, so that only the corpus size differs.

    OMP_NUM_THREADS=1 python benchmarks/ssc_memory.py corpus/silver/NCBI-disease \\
        --small-docs 1500 --steps 300 --vectors vectors/biomed-w2v \\
        --output docs/benchmarks/ssc_memory.json

The small corpus is the first `--small-docs` documents' sentences of the
large one (its first shards' docs, re-sharded), written to a scratch folder.
"""
import datetime
import json
import platform
import sys
import tempfile
from pathlib import Path
from typing import Any, Dict, List

import typer

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from spacy_bioner.project.transfer import measured_run  # noqa: E402


def subset(silver: Path, out: Path, docs: int) -> int:
    """Copy the sentences of the first `docs` documents of a silver folder
    into `out` as shards; return the number of sentences."""
    import spacy
    from spacy.tokens import DocBin

    from spacy_bioner.silver.build import write_silver

    nlp = spacy.blank("en")
    seen: List[str] = []

    def sentences():
        for shard in sorted(silver.glob("silver-*.spacy")):
            for doc in DocBin().from_disk(shard).get_docs(nlp.vocab):
                doc_id = str(doc.user_data.get("id", "")).rsplit(":s", 1)[0]
                if not seen or seen[-1] != doc_id:
                    if len(seen) == docs:
                        return
                    seen.append(doc_id)
                yield doc

    n = 0

    def counted():
        nonlocal n
        for doc in sentences():
            n += 1
            yield doc

    write_silver(counted(), out)
    return n


def count_sentences(silver: Path) -> int:
    from spacy.tokens import DocBin

    return sum(len(DocBin().from_disk(p)) for p in silver.glob("silver-*.spacy"))


def main(
    silver: Path = typer.Argument(..., help="A silver folder (build-silver output)", exists=True, file_okay=False),
    small_docs: int = typer.Option(1500, "--small-docs", help="Documents in the small silver corpus"),
    steps: int = typer.Option(300, "--steps", help="Update steps of every run"),
    config: Path = typer.Option(ROOT / "configs" / "bilstm_crf.cfg", "--config"),
    vectors: str = typer.Option("", "--vectors", help="Vectors the pretraining uses"),
    output: Path = typer.Option(ROOT / "docs" / "benchmarks" / "ssc_memory.json", "--output"),
) -> None:
    """Peak RSS of pretraining on two silver sizes, streamed and read whole."""
    rows: List[Dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        small = Path(tmp) / "small"
        sizes = {"small": (small, subset(silver, small, small_docs)), "large": (silver, count_sentences(silver))}
        for mode, max_epochs in (("streamed (max_epochs -1)", "-1"), ("read whole (max_epochs 1)", "1")):
            for name, (folder, n_sentences) in sizes.items():
                cmd = [sys.executable, "-m", "spacy", "train", str(config), "--output", str(Path(tmp) / f"out-{name}"),
                       "--paths.train", str(folder), "--paths.dev", str(folder), "--corpora.dev.limit", "200",
                       "--training.max_epochs", max_epochs, "--training.max_steps", str(steps),
                       "--training.patience", "0", "--training.eval_frequency", str(steps)]
                if vectors:
                    cmd += ["--paths.vectors", vectors]
                rc, rss = measured_run(cmd, ROOT, Path(tmp) / f"{name}-{max_epochs}.log")
                if rc != 0:
                    raise SystemExit(f"spacy train failed ({rc}); see the log in {tmp}")
                rows.append({"mode": mode, "silver": name, "sentences": n_sentences, "steps": steps, "peak_rss_mib": rss})
                print(f"{mode:28s} {name:6s} {n_sentences:>8,} sentences  peak RSS {rss:,.0f} MiB", flush=True)
    result = {
        "command": "python " + " ".join(sys.argv),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.platform()}, {platform.processor() or 'cpu'}",
        "rows": rows,
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf8")
    lines = ["| mode | silver | sentences | update steps | peak RSS MiB |", "|---|---|---|---|---|"]
    lines += [f"| {r['mode']} | {r['silver']} | {r['sentences']:,} | {r['steps']} | {r['peak_rss_mib']:,.0f} |" for r in rows]
    output.with_suffix(".md").write_text(
        f"# Peak memory of silver pretraining\n\n`{result['command']}`\n\n{result['date']}; {result['machine']}\n\n"
        + "\n".join(lines) + "\n", encoding="utf8")
    print("\n".join(lines))


if __name__ == "__main__":
    typer.run(main)
