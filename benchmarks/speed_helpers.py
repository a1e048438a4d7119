"""Helpers shared by the speed benchmarks: thread settings, the test texts,
training batches and a description of the machine."""
import os
import platform
import resource
from pathlib import Path
from typing import Any, List, Tuple

from spacy_bioner.project.grid import cpu_model

THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def single_thread() -> None:
    """One thread for torch, OpenMP and BLAS in this process. The environment
    is set too, for libraries that read it when they are first imported."""
    for name in THREAD_VARIABLES:
        os.environ[name] = "1"
    import torch

    torch.set_num_threads(1)


def describe_machine() -> str:
    cpu = cpu_model()
    return f"{platform.platform()}, {cpu or platform.processor()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"


def thread_settings() -> dict:
    import torch

    return {"torch_threads": torch.get_num_threads(), **{k: os.environ.get(k) for k in THREAD_VARIABLES}}


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far, MiB (Linux: KiB units)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load_test_texts(path: Path, nlp: Any) -> List[str]:
    """The texts of a CoNLL/TSV file, one per sentence, as raw strings: the
    pipelines tokenize them again, as an application would."""
    from spacy_bioner.corpora.conll import read_conll

    docs, _ = read_conll(path, nlp.vocab)
    return [doc.text for doc in docs]


def training_batches(nlp: Any, path: Path, limit: int, batch_words: int = 0) -> Tuple[List[List[Any]], Any]:
    """The first `limit` training sentences of `path` as Examples, batched by
    the pipeline's own `[training.batcher]` (or by `batch_words` words when
    set, for batchers whose size compounds), and the pipeline's optimizer."""
    from spacy.training.batchers import minibatch_by_words
    from spacy.util import registry
    from spacy_bioner.training.readers import create_tsv_corpus

    examples = list(create_tsv_corpus(path, limit=limit)(nlp))
    # Only these two blocks: the rest of [training] refers to [paths].
    training = nlp.config["training"]
    resolved = registry.resolve({"batcher": training["batcher"], "optimizer": training["optimizer"]}, validate=False)
    if batch_words:
        batches = [list(b) for b in minibatch_by_words(examples, size=batch_words)]
    else:
        batches = [list(b) for b in resolved["batcher"](examples)]
    return batches, resolved["optimizer"]


def write_report(output: Path, report: dict, lines: List[str]) -> None:
    """Write a benchmark's JSON to `output` and its Markdown table beside it
    (same name, .md), and print the table."""
    import json

    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=1) + "\n")
    output.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
