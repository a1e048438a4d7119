"""Training speed of multi-task against single-task learning, in one run.

Both train the same model (configs/bilstm_crf.cfg's settings) on the same
sentences with the same batch size; the multi-task run splits them into two
corpora with a head each and batches them with `spacy-bioner.batch_by_corpus.v1`
(round robin), the single-task run has one head and `batch_by_sequence`-style
batches. Runs alternate (single, multi, single, multi, ...) so that load from
other users of a shared machine falls on both alike; report the ratio.

    OMP_NUM_THREADS=1 python benchmarks/mtl_speed.py ../shared/corpora/NCBI-disease/train.tsv \
        --sentences 1280 --steps 40 --repeats 3 --output docs/benchmarks/mtl_speed.json

Target (issue #12): multi-task tokens/s within 10% of single-task tokens/s.
"""
import datetime
import json
import os
import platform
import random
import statistics
import time
from pathlib import Path
from typing import Dict, List

import spacy
import typer
from spacy.training import Example
from thinc.api import Config

from spacy_bioner.pipeline.bilstm_crf_ner import HEAD_KEY
from spacy_bioner.training.multitask import batch_by_corpus
from spacy_bioner.training.readers import TsvCorpus, make_example

ROOT = Path(__file__).resolve().parents[1]


def build(heads: List[str]) -> spacy.Language:
    config = Config().from_disk(ROOT / "configs" / "bilstm_crf.cfg")
    component = dict(config["components"]["bilstm_crf_ner"])
    component.pop("factory")
    component.update(heads=heads, ents_head=heads[0])
    nlp = spacy.blank("en")
    nlp.add_pipe("bilstm_crf_ner", config=component)
    return nlp


def batches_single(examples: List[Example], size: int) -> List[List[Example]]:
    return [examples[i : i + size] for i in range(0, len(examples), size)]


def timed_steps(nlp: spacy.Language, batches: List[List[Example]], steps: int, optimizer) -> Dict[str, float]:
    tokens = 0
    start = time.perf_counter()
    for batch in batches[:steps]:
        nlp.update(batch, sgd=optimizer)
        tokens += sum(len(eg.predicted) for eg in batch)
    wall = time.perf_counter() - start
    return {"tokens": tokens, "wall_s": wall, "tokens_per_s": tokens / wall}


def main(
    corpus: Path = typer.Argument(..., help="A CoNLL/TSV training file"),
    sentences: int = typer.Option(1280, help="Sentences used (split in two corpora for multi-task)"),
    size: int = typer.Option(32, help="Sentences per batch"),
    steps: int = typer.Option(40, help="Timed steps per run"),
    repeats: int = typer.Option(3, help="Alternating runs of each"),
    output: Path = typer.Option(ROOT / "docs" / "benchmarks" / "mtl_speed.json"),
) -> None:
    random.seed(0)
    spacy.util.fix_random_seed(0)
    single = build(["all"])
    multi = build(["a", "b"])
    # Each pipeline reads its own copy: the multi-task examples are marked.
    single_egs = [make_example(d) for d in list(TsvCorpus(corpus).read_docs(single))[:sentences]]
    multi_egs = [make_example(d) for d in list(TsvCorpus(corpus).read_docs(multi))[:sentences]]
    for i, eg in enumerate(multi_egs):
        eg.reference.user_data[HEAD_KEY] = "a" if i < len(multi_egs) // 2 else "b"
    opt_single = single.initialize(lambda: single_egs)
    opt_multi = multi.initialize(lambda: multi_egs)
    # Warm-up step each, so that lazy allocations are not timed.
    single.update(single_egs[:size], sgd=opt_single)
    multi.update(multi_egs[:size], sgd=opt_multi)
    runs: Dict[str, List[Dict[str, float]]] = {"single": [], "multi": []}
    for _ in range(repeats):
        shuffled = single_egs[:]
        random.shuffle(shuffled)
        runs["single"].append(timed_steps(single, batches_single(shuffled, size), steps, opt_single))
        runs["multi"].append(timed_steps(multi, list(batch_by_corpus(multi_egs, size=size)), steps, opt_multi))
    median = {k: statistics.median(r["tokens_per_s"] for r in v) for k, v in runs.items()}
    result = {
        "command": "OMP_NUM_THREADS=%s python benchmarks/mtl_speed.py %s --sentences %d --steps %d --repeats %d"
        % (os.environ.get("OMP_NUM_THREADS", "unset"), corpus, sentences, steps, repeats),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count(), "python": platform.python_version(),
                    "load_average_at_end": os.getloadavg()},
        "runs": runs,
        "median_tokens_per_s": median,
        "ratio_multi_over_single": median["multi"] / median["single"],
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf8")
    print(json.dumps({"median_tokens_per_s": median, "ratio": result["ratio_multi_over_single"]}, indent=2))


if __name__ == "__main__":
    typer.run(main)
