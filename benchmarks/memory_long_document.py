"""Peak memory of annotating one long document without sentence boundaries.

For each length (tokens), three fresh subprocesses each build the same
pipeline (the default `bilstm_crf_ner` architecture, initialized on a few
sentences, no static vectors; memory does not depend on trained weights)
and read their own peak RSS (`ru_maxrss`):

- `base`: the pipeline loaded, the text built;
- `tokenizer`: plus `nlp.make_doc(text)` (spaCy's own cost of the Doc);
- `pipeline`: plus `nlp(text)` (tokenizer and component).

What the component adds is `pipeline - tokenizer`: it should stay about flat
(bounded by `max_length` / `batch_tokens` / `INFER_TOKENS`) while the Doc
grows with the text. No sentencizer runs, so the whole document is one
segment read in overlapping windows.

    python benchmarks/memory_long_document.py --lengths 1000,10000,100000,1000000 \
        --output docs/benchmarks/memory_long_document.json
"""
import datetime
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List

import typer

WORDS = ("Mutations in BRCA1 and TP53 cause hereditary breast cancer and ovarian tumours in carriers "
         "while loss of PTEN promotes prostate cancer progression via PI3K signalling").split()


def _text(n_tokens: int) -> str:
    # Words only, no sentence punctuation: one token per word.
    return " ".join(WORDS[(i * 7 + i // len(WORDS)) % len(WORDS)] for i in range(n_tokens))


def _pipeline(o_bias: float = 0.0):
    import spacy
    from spacy.training import Example

    nlp = spacy.blank("en")
    nlp.add_pipe("bilstm_crf_ner")
    text = "Mutations in BRCA1 cause hereditary breast cancer ."
    example = Example.from_dict(nlp.make_doc(text), {"entities": [(13, 18, "Gene"), (25, 49, "Disease")]})
    spacy.util.fix_random_seed(0)
    nlp.initialize(lambda: [example])
    if o_bias:
        # An untrained model tags nearly every token as an entity; a bias
        # towards O gives the sparse entities of real text instead.
        import torch

        for head in nlp.get_pipe("bilstm_crf_ner").model.layers[0].shims[0]._model.heads.values():
            with torch.no_grad():
                head.output.bias[0] += o_bias
    return nlp


def _measure(mode: str, n_tokens: int, o_bias: float) -> Dict[str, float]:
    import torch

    # One thread: on a shared, loaded machine torch's OpenMP pool of 2 made
    # the same run 30x slower (spinning threads); memory does not change.
    torch.set_num_threads(1)
    nlp = _pipeline(o_bias)
    text = _text(n_tokens)
    nlp.max_length = len(text) + 1
    start = time.perf_counter()
    if mode == "tokenizer":
        doc = nlp.make_doc(text)
    elif mode == "pipeline":
        doc = nlp(text)
        assert all(t.ent_iob_ for t in doc)  # every token predicted
    else:
        doc = None
    seconds = time.perf_counter() - start
    return {"peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "seconds": seconds,
            "tokens": len(doc) if doc is not None else 0,
            "entities": len(doc.ents) if mode == "pipeline" else 0}


def main(
    lengths: str = typer.Option("1000,10000,100000", help="Comma-separated document lengths in tokens"),
    output: Path = typer.Option(None, help="Write the results as JSON (and a Markdown table beside it)"),
    o_bias: float = typer.Option(0.0, help="Add this to the O tag's emission bias (0: the untrained model's dense entities)"),
    child: str = typer.Option("", hidden=True),
) -> None:
    if child:
        mode, n = child.split(":")
        print(json.dumps(_measure(mode, int(n), o_bias)))
        return
    rows: List[Dict[str, float]] = []
    for n in (int(x) for x in lengths.split(",")):
        row: Dict[str, float] = {"tokens": n}
        for mode in ("base", "tokenizer", "pipeline"):
            done = subprocess.run([sys.executable, __file__, "--child", f"{mode}:{n}", "--o-bias", str(o_bias)],
                                  capture_output=True, text=True, check=True)
            result = json.loads(done.stdout.strip().splitlines()[-1])
            row[f"{mode}_mib"] = round(result["peak_mib"], 1)
            row[f"{mode}_s"] = round(result["seconds"], 2)
            row["entities"] = row.get("entities") or result["entities"]
        row["doc_mib"] = round(row["tokenizer_mib"] - row["base_mib"], 1)
        row["component_mib"] = round(row["pipeline_mib"] - row["tokenizer_mib"], 1)
        rows.append(row)
        print(json.dumps(row), flush=True)
    if output is not None:
        meta = {
            "command": " ".join(["python", "benchmarks/memory_long_document.py", "--lengths", lengths,
                                 "--o-bias", str(o_bias), "--output", str(output)]),
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs visible, {platform.platform()}, "
                       f"Python {platform.python_version()}",
        }
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps({**meta, "rows": rows}, indent=2) + "\n", encoding="utf8")
        header = ("| tokens | entities | base peak MiB | + tokenizer (Doc) MiB | + component MiB | tokenizer s | pipeline s |\n"
                  "|---:|---:|---:|---:|---:|---:|---:|\n")
        table = "".join(f"| {r['tokens']:,} | {r['entities']:,} | {r['base_mib']} | {r['doc_mib']} | {r['component_mib']} | "
                        f"{r['tokenizer_s']} | {r['pipeline_s']} |\n" for r in rows)
        output.with_suffix(".md").write_text(
            f"# Peak memory of one long document\n\n`{meta['command']}`\n\n{meta['date']}, {meta['machine']}\n\n"
            + header + table, encoding="utf8")


if __name__ == "__main__":
    typer.run(main)
