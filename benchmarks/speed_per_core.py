"""Speed per core of `bilstm_crf_ner` against spaCy's own `ner`, measured
fairly (issue #16).

Both pipelines are trained beforehand to convergence with `spacy train`
(spaCy's `ner` from `spacy init config --pipeline ner --optimize efficiency`
with static vectors on, ours from `configs/bilstm_crf.cfg`), on the same
corpus, the same reader and the same vectors. Then, each in its own
subprocess of this script:

* inference, one thread: both pipelines are loaded in one process and
  annotate the test texts (raw strings, so tokenization and sentence
  splitting are included, as an application runs them) in passes that
  alternate, the order turning by one place every pass (A B C, B C A, ...);
  the median pass of each counts, at each of a few
  `nlp.pipe` batch sizes, and each system's fastest batch size counts (for
  spaCy's `ner` it is not its default of 1,000). Our component computes its
  confidences (it always does).
* inference, all cores: spaCy with `nlp.pipe(n_process=N)`, ours with N
  torch threads and with `n_process=N`, alternated the same way over the
  texts of all three splits; the faster of ours counts.
* training, one thread: both pipelines are initialized from their configs
  in one process and `nlp.update` runs over the same training sentences,
  passes alternated; tokens/s of the updates (optimizer included, dev
  evaluations not).
* peak RSS: one process per system and measurement, so each has its own.

    python benchmarks/speed_per_core.py ../shared/corpora/NCBI-disease \\
        training/speed/ours/model-best training/speed/spacy_ner/model-best \\
        --spacy-config training/speed/spacy_ner.cfg --vectors vectors/biomed-w2v \\
        --output docs/benchmarks/speed_per_core_ncbi_disease.json

Only ratios measured within one process are comparable; absolute tokens/s
move with whatever else the machine runs. Targets (issue #16): inference
>= 3x spaCy `ner` per core, >= 2x on all cores; training >= 1.5x per core.
"""
import datetime
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import typer

from speed_helpers import (
    describe_machine, load_test_texts, peak_rss_mib, single_thread, thread_settings, training_batches,
)

ROOT = Path(__file__).resolve().parents[1]
OURS_CONFIG = ROOT / "configs" / "bilstm_crf.cfg"
TARGETS = {"inference_per_core": 3.0, "inference_all_cores": 2.0, "training_per_core": 1.5}
# spaCy's `ner` config compounds its batch size from 100 to 1,000 words; its
# steady-state size is used here (larger batches are faster for it).
SPACY_BATCH_WORDS = 1000
ALL_CORE_SPLITS = ("test.tsv", "dev.tsv", "train.tsv")
# Our component with `set_inference_precision("bfloat16")`: an opt-in row,
# not the default (its scores differ from float32 in the third decimal).
BF16 = "bilstm_crf_ner bfloat16"
# Length-binned batches' padded size (recipe 3, configs/bilstm_crf.cfg):
# about recipe 2's tokens per batch.
BINNED_SIZE = 500
# Training row of recipe 2's batches (16 sentences in corpus order, the
# grid's pinned config), beside the current recipe's.
RECIPE2 = "bilstm_crf_ner recipe2 batches"
RECIPE2_CONFIG = ROOT / "configs" / "recipe2" / "bilstm_crf.cfg"
# Training row with `train_precision = "bfloat16"` (mixed precision): an
# opt-in recipe, measured for accuracy in docs/benchmarks/tta_bf16/.
BF16_TRAIN = "bilstm_crf_ner train_precision bfloat16"


def alternate(runs: Dict[str, Callable[[], int]], passes: int) -> Dict[str, Dict[str, Any]]:
    """Run each callable once per pass and return the median tokens/s of
    each, with every pass kept. The order turns by one place every pass
    (A B C, B C A, C A B, ...): on a machine where a run's place in a pass
    moves its speed (measured: ~20% for second place on an AMD EPYC,
    docs/benchmarks/speed_16core_xeon.md), each callable then takes every
    place equally often over len(runs) passes."""
    seconds: Dict[str, List[float]] = {name: [] for name in runs}
    tokens: Dict[str, int] = {}
    names = list(runs)
    for index in range(passes):
        shift = index % len(names)
        for name in names[shift:] + names[:shift]:
            start = time.perf_counter()
            tokens[name] = runs[name]()
            seconds[name].append(time.perf_counter() - start)
    return {
        name: {
            "tokens": tokens[name],
            "median_s": round(statistics.median(seconds[name]), 4),
            "tok_per_s": round(tokens[name] / statistics.median(seconds[name])),
            "passes_s": [round(s, 4) for s in seconds[name]],
        }
        for name in runs
    }


def get_module(model: Any) -> Any:
    from spacy_bioner.model.bilstm_crf_layer import get_module as module_of

    return module_of(model)


def _pipe(nlp: Any, texts: List[str], precision: Optional[str] = None, **kwargs: Any) -> Callable[[], int]:
    """A pass over the texts; `precision` is set on our component first, so
    that one loaded pipeline serves both precisions."""

    def run() -> int:
        if precision is not None:
            nlp.get_pipe("bilstm_crf_ner").set_inference_precision(precision)
            # Every pass starts with an empty char-state cache: the passes
            # repeat the same texts, which would otherwise all be cached.
            get_module(nlp.get_pipe("bilstm_crf_ner").model).encoder.chars.clear_cache()
        return sum(len(doc) for doc in nlp.pipe(texts, **kwargs))

    return run


def threads_batch_size(nlp: Any, texts: List[str], threads: int) -> int:
    """The `nlp.pipe` batch size (docs) whose length groups, of at most the
    model's `batch_tokens` padded tokens each, number about `threads`: with
    fewer groups than threads, the extra threads have nothing to decode."""
    sample = texts[:500]
    tokens_per_doc = max(1.0, sum(len(doc) for doc in nlp.tokenizer.pipe(sample)) / max(1, len(sample)))
    batch_tokens = nlp.get_pipe("bilstm_crf_ner").model.attrs["batch_tokens"]
    return int(threads * batch_tokens / tokens_per_doc) + 1


def _compare_precisions(nlp: Any, texts: List[str], batch_size: int) -> Dict[str, Any]:
    """How bfloat16 predictions differ from float32 ones on the texts."""
    pipe = nlp.get_pipe("bilstm_crf_ner")
    found = {}
    for precision in ("float32", "bfloat16"):
        pipe.set_inference_precision(precision)
        found[precision] = [([(e.start, e.end, e.label_) for e in doc.ents], list(doc.spans[pipe.name].attrs["scores"]))
                            for doc in nlp.pipe(texts, batch_size=batch_size)]
    pipe.set_inference_precision("float32")
    pairs = list(zip(found["float32"], found["bfloat16"]))
    same = [a[0] == b[0] for a, b in pairs]
    diffs = [abs(x - y) for (a, b), ok in zip(pairs, same) if ok for x, y in zip(a[1], b[1])]
    return {"docs": len(pairs), "docs_with_other_entities": same.count(False),
            "entities": sum(len(a[0]) for a, _ in pairs), "max_confidence_diff": round(max(diffs, default=0.0), 5)}


def _init_for_training(config_path: Path, corpus: Path, vectors: Optional[Path], **settings: Any) -> Any:
    from spacy.training.initialize import init_nlp
    from spacy.util import load_config

    overrides = {"paths.train": str(corpus / "train.tsv"), "paths.dev": str(corpus / "dev.tsv"),
                 "paths.vectors": str(vectors) if vectors else None, **settings}
    return init_nlp(load_config(config_path, overrides=overrides, interpolate=False))


def _updates(nlp: Any, batches: List[List[Any]], optimizer: Any) -> Callable[[], int]:
    n_tokens = sum(len(eg.reference) for batch in batches for eg in batch)

    def run() -> int:
        for batch in batches:
            nlp.update(batch, sgd=optimizer)
        return n_tokens

    return run


def measure(mode: str, args: Dict[str, Any]) -> Dict[str, Any]:
    """One measurement, run in a fresh subprocess (see `main`)."""
    corpus = Path(args["corpus"])
    passes = args["passes"]
    extra: Dict[str, Any] = {}
    if mode != "infer_all":
        single_thread()
    import spacy

    if mode == "infer_one":
        nlps = {"bilstm_crf_ner": spacy.load(args["ours"]), "spacy_ner": spacy.load(args["spacy"])}
        texts = load_test_texts(corpus / "test.tsv", nlps["spacy_ner"])
        for nlp in nlps.values():
            list(nlp.pipe(texts[:200]))  # warm-up
        runs = {}
        for size in args["batch_sizes"]:
            runs[f"bilstm_crf_ner @{size}"] = _pipe(nlps["bilstm_crf_ner"], texts, "float32", batch_size=size)
            runs[f"spacy_ner @{size}"] = _pipe(nlps["spacy_ner"], texts, batch_size=size)
            runs[f"{BF16} @{size}"] = _pipe(nlps["bilstm_crf_ner"], texts, "bfloat16", batch_size=size)
        result = alternate(runs, passes)
        result["bfloat16_vs_float32"] = _compare_precisions(nlps["bilstm_crf_ner"], texts, max(args["batch_sizes"]))
    elif mode == "infer_all":
        import torch

        n = args["n_process"]
        torch.set_num_threads(n)
        ours, ref = spacy.load(args["ours"]), spacy.load(args["spacy"])
        # All three splits (190k tokens, no text twice): on the test split
        # alone (25k tokens) starting the worker processes takes longer than
        # the work, for both systems.
        texts = [t for split in args["all_core_splits"] for t in load_test_texts(corpus / split, ref)]
        # On many cores one corpus is still too little: each pass pays for
        # starting the worker processes, which a long-running annotation job
        # pays once. Repeating the texts amortizes that as such a job would.
        texts = texts * args.get("all_core_repeat", 1)
        list(ours.pipe(texts[:200]))
        list(ref.pipe(texts[:200]))
        # Each system at the batch size that was fastest for it on one thread;
        # ours with threads at least at the size that gives every thread a
        # length group to decode (docs/benchmarks/speed_16core_xeon.md).
        size, ref_size, low_size = args["best_batch"]["bilstm_crf_ner"], args["best_batch"]["spacy_ner"], args["best_batch"][BF16]
        threads_size = max(size, low_size, threads_batch_size(ours, texts, n))
        extra["threads_batch_size"] = threads_size
        result = alternate({
            f"bilstm_crf_ner ({n} threads)": _pipe(ours, texts, "float32", batch_size=threads_size),
            f"bilstm_crf_ner (n_process={n})": _pipe(ours, texts, "float32", batch_size=size, n_process=n),
            f"spacy_ner (n_process={n})": _pipe(ref, texts, batch_size=ref_size, n_process=n),
            f"{BF16} ({n} threads)": _pipe(ours, texts, "bfloat16", batch_size=threads_size),
            f"{BF16} (n_process={n})": _pipe(ours, texts, "bfloat16", batch_size=low_size, n_process=n),
        }, passes)
    elif mode == "train_one":
        nlps = {
            "bilstm_crf_ner": _init_for_training(OURS_CONFIG, corpus, args["vectors"]),
            "spacy_ner": _init_for_training(Path(args["spacy_config"]), corpus, args["vectors"]),
            RECIPE2: _init_for_training(RECIPE2_CONFIG, corpus, args["vectors"]),
            BF16_TRAIN: _init_for_training(OURS_CONFIG, corpus, args["vectors"], **{
                "components.bilstm_crf_ner.model.train_precision": "bfloat16"}),
        }
        runs = {}
        for name, nlp in nlps.items():
            words = SPACY_BATCH_WORDS if name == "spacy_ner" else 0
            batches, optimizer = training_batches(nlp, corpus / "train.tsv", args["train_sentences"], words)
            runs[name] = _updates(nlp, batches, optimizer)
        result = alternate(runs, passes)
    elif mode.startswith("rss_"):
        # rss_<infer|train>_<system>: one system alone, one pass, its peak RSS.
        _, what, system = mode.split("_", 2)
        if what == "infer":
            nlp = spacy.load(args["ours"] if system == "bilstm_crf_ner" else args["spacy"])
            _pipe(nlp, load_test_texts(corpus / "test.tsv", nlp), batch_size=args["best_batch"][system])()
        else:
            config = OURS_CONFIG if system == "bilstm_crf_ner" else Path(args["spacy_config"])
            nlp = _init_for_training(config, corpus, args["vectors"])
            words = SPACY_BATCH_WORDS if system == "spacy_ner" else 0
            _updates(nlp, *training_batches(nlp, corpus / "train.tsv", args["train_sentences"], words))()
        result = {}
    else:
        raise ValueError(f"unknown mode {mode!r}")
    return {"result": result, "peak_rss_mib": round(peak_rss_mib()), "threads": thread_settings(), **extra}


def run_mode(mode: str, args: Dict[str, Any], threads: int) -> Dict[str, Any]:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads),
               OPENBLAS_NUM_THREADS=str(threads))
    proc = subprocess.run([sys.executable, __file__, "--measure", mode, json.dumps(args)],
                          cwd=ROOT, env=env, capture_output=True, text=True)
    if proc.returncode:
        sys.exit(f"{mode} failed:\n{proc.stderr[-3000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    print(mode, json.dumps(out), file=sys.stderr, flush=True)
    return out


def dev_f(model: Path) -> Optional[float]:
    meta = json.loads((model / "meta.json").read_text())
    return meta.get("performance", {}).get("ents_f")


def markdown(report: Dict[str, Any]) -> str:
    s = report["systems"]
    r = report["ratios"]
    best_all = report["ours_all_cores_best"]
    n = report["n_process"]
    lines = [
        f"# Speed per core: bilstm_crf_ner vs spaCy ner ({report['corpus']})\n",
        f"`{report['command']}`\n",
        f"{report['date']}; {report['machine']}. Per-core rows: one process, both pipelines, "
        f"1 thread (OMP/MKL/OpenBLAS = 1, torch.set_num_threads(1)), {report['passes']} passes alternated "
        f"({'A B C, B C A, ...' if report.get('order_turns') else 'A B A B'}), median pass, each system at its fastest `nlp.pipe` batch size of {report['batch_sizes']}. All-core rows: {n} processes or threads, alternated the same way, "
        f"over the texts of {', '.join(report['all_core_splits'])}"
        f"{' repeated ' + str(report['all_core_repeat']) + ' times' if report.get('all_core_repeat', 1) > 1 else ''}"
        f" ({report['all_core_tokens']:,} tokens per pass)"
        f"{'; ours with threads at `nlp.pipe` batch size ' + str(report['raw']['infer_all']['threads_batch_size']) + ', one length group per thread' if 'threads_batch_size' in report['raw']['infer_all'] else ''}. "
        f"Per-core texts: the {s['bilstm_crf_ner']['infer_tokens']:,} tokens of the test sentences as raw strings, "
        f"tokenization included; our char-state cache is emptied before every pass. "
        f"Training: `nlp.update` over {report['train_sentences']} training sentences per pass "
        f"(optimizer included, no dev evaluation); ours in batches of its config, spaCy in batches of "
        f"{SPACY_BATCH_WORDS} words. Peak RSS: each system alone in its own process.\n",
        "| system | dev F1 (model used) | inference tok/s, 1 thread | inference tok/s, all cores | "
        "training tok/s, 1 thread | inference peak RSS MiB (1 thread) | training peak RSS MiB |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, v in s.items():
        lines.append(
            f"| {name} | {v['dev_ents_f']:.3f} | {v['infer_tok_per_s_1']:,} (batch {v['infer_batch_size']}) | {v['infer_tok_per_s_all']:,} "
            f"({v['infer_all_how']}) | {v['train_tok_per_s_1']:,} | {v['infer_peak_rss_mib']} | {v['train_peak_rss_mib']} |"
        )
    b = report["bfloat16_opt_in"]
    lines.append(
        f"| {BF16} (opt-in) | {b['agreement_with_float32']['docs_with_other_entities']} of "
        f"{b['agreement_with_float32']['docs']} test texts with other entities than float32, confidences within "
        f"{b['agreement_with_float32']['max_confidence_diff']} | {b['infer_tok_per_s_1']:,} "
        f"(batch {report['best_batch'][BF16]}) | "
        f"{b['infer_tok_per_s_all']:,} ({b['infer_all_how']}) | — | — | — |"
    )
    if b.get("train_tok_per_s_1"):
        lines.append(f"| {BF16_TRAIN} (opt-in) | — | — | — | {b['train_tok_per_s_1']:,} | — | — |")
    lines += [
        "",
        f"Ratios (ours / spaCy ner): inference per core **{r['inference_per_core']}x** (target 3x), "
        f"all cores **{r['inference_all_cores']}x** (target 2x, ours as {best_all}), "
        f"training per core **{r['training_per_core']}x** (target 1.5x). With bfloat16 inference "
        f"(opt-in): per core **{b['ratios']['inference_per_core']}x**, all cores **{b['ratios']['inference_all_cores']}x**"
        + (f"; bfloat16 training (opt-in): **{b['ratios']['training_per_core']}x**." if b.get("train_tok_per_s_1") else "."),
        "",
        *([f"Training per core with recipe 2's batches ({report['training_recipe2']['batcher']}): "
           f"{report['training_recipe2']['tok_per_s_1']:,} tok/s, "
           f"**{report['training_recipe2']['ratio_to_spacy_ner']}x** spaCy's `ner`.", ""]
          if report.get("training_recipe2") else []),
        "Per-core inference at each `nlp.pipe` batch size (median tok/s): "
        + ", ".join(f"{k}: {v['tok_per_s']:,}" for k, v in report["raw"]["infer_one"]["result"].items())
        + ". Ratio at the same batch size: "
        + ", ".join(f"{b}: {r}x" for b, r in report["same_batch_ratios"].items()) + ".",
        "",
        "All-core passes (median tok/s): "
        + ", ".join(f"{k}: {v['tok_per_s']:,}" for k, v in report["raw"]["infer_all"]["result"].items()),
        "",
    ]
    return "\n".join(lines)


def write_training_report(args: Dict[str, Any], output: Path) -> None:
    """`--training-only`: tokens/s of one-thread training, ours in the
    current recipe's batches and in recipe 2's, spaCy's `ner` in its own, the
    runs alternated in one process; peak RSS of each in its own process."""
    raw = run_mode("train_one", args, 1)
    rss = {system: run_mode(f"rss_train_{system}", args, 1)["peak_rss_mib"] for system in ("bilstm_crf_ner", "spacy_ner")}
    rows = raw["result"]
    ref = rows["spacy_ner"]["tok_per_s"]
    report = {
        "command": " ".join(["python", "benchmarks/speed_per_core.py", *sys.argv[1:]]),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": describe_machine(),
        "corpus": Path(args["corpus"]).name,
        "passes": args["passes"],
        "order_turns": True,
        "train_sentences": args["train_sentences"],
        "training_tok_per_s_1": {name: row["tok_per_s"] for name, row in rows.items()},
        "ratio_to_spacy_ner": {name: round(row["tok_per_s"] / ref, 2) for name, row in rows.items() if name != "spacy_ner"},
        "train_peak_rss_mib": rss,
        "target": TARGETS["training_per_core"],
        "raw": raw,
    }
    lines = [
        f"# Training speed per core: bilstm_crf_ner vs spaCy ner ({report['corpus']})\n",
        f"`{report['command']}`\n",
        f"{report['date']}; {report['machine']}. One process, one thread (OMP/MKL/OpenBLAS = 1, "
        f"torch.set_num_threads(1)), `nlp.update` over {report['train_sentences']} training sentences per pass "
        f"(optimizer included, no dev evaluation), {report['passes']} passes alternated with the order turning "
        f"every pass, median pass. Ours in the batches of `configs/bilstm_crf.cfg` (recipe 3), also with "
        f"`train_precision = \"bfloat16\"` (opt-in mixed precision), and in those of "
        f"`configs/recipe2/bilstm_crf.cfg`; spaCy's `ner` in batches of {SPACY_BATCH_WORDS} words.\n",
        "| system | training tok/s, 1 thread | ratio to spaCy `ner` | passes (s) |",
        "|---|---|---|---|",
        *(f"| {name} | {row['tok_per_s']:,} | {report['ratio_to_spacy_ner'].get(name, 1.0)}x | "
          + ", ".join(f"{p:.2f}" for p in row["passes_s"]) + " |" for name, row in rows.items()),
        "",
        f"Target: {report['target']}x. Peak RSS (each alone): ours {rss['bilstm_crf_ner']} MiB, "
        f"spaCy `ner` {rss['spacy_ner']} MiB.",
        "",
    ]
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=1) + "\n")
    output.with_suffix(".md").write_text("\n".join(lines))
    print("\n".join(lines))


def main(
    corpus: Path = typer.Argument(..., help="Folder with train.tsv, dev.tsv, test.tsv"),
    ours: Path = typer.Argument(..., help="Trained bilstm_crf_ner pipeline"),
    spacy_model: Path = typer.Argument(..., help="Trained spaCy ner pipeline"),
    spacy_config: Path = typer.Option(..., help="The config spaCy's ner was trained with"),
    vectors: Optional[Path] = typer.Option(None, help="Vectors both were trained with (for the training passes)"),
    passes: int = typer.Option(7, help="Passes per system (median counts; at least 5)"),
    n_process: int = typer.Option(os.cpu_count() or 1, help="Processes/threads for the all-core rows"),
    all_core_splits: str = typer.Option(",".join(ALL_CORE_SPLITS), help="Splits whose texts the all-core rows annotate"),
    batch_sizes: str = typer.Option("256,1000", help="nlp.pipe batch sizes tried on one thread; each system's fastest counts"),
    train_sentences: int = typer.Option(1000, help="Training sentences per training pass"),
    all_core_repeat: int = typer.Option(1, help="Annotate the all-core texts this many times per pass (many cores need more text to amortize starting workers)"),
    output: Path = typer.Option(Path("docs/benchmarks/speed_per_core.json"), help="JSON; a .md is written beside it"),
    training_only: bool = typer.Option(False, "--training-only", help="Only the one-thread training rows and their peak RSS (the trained pipelines are not read)"),
) -> None:
    if passes < 5:
        raise typer.BadParameter("at least 5 passes")
    args = {"corpus": str(corpus.resolve()), "ours": str(ours.resolve()), "spacy": str(spacy_model.resolve()),
            "spacy_config": str(spacy_config.resolve()), "vectors": str(vectors.resolve()) if vectors else None,
            "passes": passes, "n_process": n_process, "batch_sizes": [int(b) for b in batch_sizes.split(",")],
            "train_sentences": train_sentences, "all_core_splits": all_core_splits.split(","),
            "all_core_repeat": all_core_repeat}
    if training_only:
        return write_training_report(args, output)
    raw = {"infer_one": run_mode("infer_one", args, 1)}
    agreement = raw["infer_one"]["result"].pop("bfloat16_vs_float32")
    by_size = raw["infer_one"]["result"]
    args["best_batch"] = {
        name: max(args["batch_sizes"], key=lambda b: by_size[f"{name} @{b}"]["tok_per_s"])
        for name in ("bilstm_crf_ner", "spacy_ner", BF16)
    }
    same_batch = {b: round(by_size[f"bilstm_crf_ner @{b}"]["tok_per_s"] / by_size[f"spacy_ner @{b}"]["tok_per_s"], 2)
                  for b in args["batch_sizes"]}
    one = {name: by_size[f"{name} @{b}"] for name, b in args["best_batch"].items()}
    raw["infer_all"] = run_mode("infer_all", args, n_process)
    raw["train_one"] = run_mode("train_one", args, 1)
    rss = {f"{what}_{system}": run_mode(f"rss_{what}_{system}", args, 1)["peak_rss_mib"]
           for what in ("infer", "train") for system in ("bilstm_crf_ner", "spacy_ner")}
    every, train = raw["infer_all"]["result"], raw["train_one"]["result"]
    ours_all = {k: v for k, v in every.items() if k.startswith("bilstm_crf_ner (")}
    bf16_all = {k: v for k, v in every.items() if k.startswith(BF16)}
    best_bf16 = max(bf16_all, key=lambda k: bf16_all[k]["tok_per_s"])
    best_all = max(ours_all, key=lambda k: ours_all[k]["tok_per_s"])
    ref_all = next(k for k in every if k.startswith("spacy_ner"))
    systems = {}
    for name, model, all_key in (("bilstm_crf_ner", ours, best_all), ("spacy_ner", spacy_model, ref_all)):
        systems[name] = {
            "dev_ents_f": dev_f(model),
            "infer_tokens": one[name]["tokens"],
            "infer_tok_per_s_1": one[name]["tok_per_s"],
            "infer_batch_size": args["best_batch"][name],
            "infer_tok_per_s_all": every[all_key]["tok_per_s"],
            "infer_all_how": all_key.split(" ", 1)[1].strip("()"),
            "train_tok_per_s_1": train[name]["tok_per_s"],
            "infer_peak_rss_mib": rss[f"infer_{name}"],
            "train_peak_rss_mib": rss[f"train_{name}"],
        }
    ratio = lambda key: round(systems["bilstm_crf_ner"][key] / systems["spacy_ner"][key], 2)  # noqa: E731
    bf16 = {"infer_tok_per_s_1": one[BF16]["tok_per_s"], "infer_tok_per_s_all": every[best_bf16]["tok_per_s"],
            "infer_all_how": best_bf16.split(" ", 2)[2].strip("()"), "agreement_with_float32": agreement}
    bf16["ratios"] = {"inference_per_core": round(bf16["infer_tok_per_s_1"] / systems["spacy_ner"]["infer_tok_per_s_1"], 2),
                      "inference_all_cores": round(bf16["infer_tok_per_s_all"] / systems["spacy_ner"]["infer_tok_per_s_all"], 2)}
    if BF16_TRAIN in train:
        bf16["train_tok_per_s_1"] = train[BF16_TRAIN]["tok_per_s"]
        bf16["ratios"]["training_per_core"] = round(bf16["train_tok_per_s_1"] / systems["spacy_ner"]["train_tok_per_s_1"], 2)
    report = {
        "command": " ".join(["python", "benchmarks/speed_per_core.py", *sys.argv[1:]]),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": describe_machine(),
        "corpus": corpus.resolve().name,
        "passes": passes,
        "order_turns": True,
        "n_process": n_process,
        "batch_sizes": args["batch_sizes"],
        "all_core_splits": args["all_core_splits"],
        "all_core_repeat": all_core_repeat,
        "best_batch": args["best_batch"],
        "same_batch_ratios": same_batch,
        "train_sentences": train_sentences,
        "systems": systems,
        "ours_all_cores_best": best_all,
        "all_core_tokens": every[best_all]["tokens"],
        "bfloat16_opt_in": bf16,
        "ratios": {"inference_per_core": ratio("infer_tok_per_s_1"), "inference_all_cores": ratio("infer_tok_per_s_all"),
                   "training_per_core": ratio("train_tok_per_s_1")},
        "training_recipe2": {
            "batcher": "spacy.batch_by_sequence.v1 size 16, configs/recipe2/bilstm_crf.cfg",
            "tok_per_s_1": train[RECIPE2]["tok_per_s"],
            "ratio_to_spacy_ner": round(train[RECIPE2]["tok_per_s"] / systems["spacy_ner"]["train_tok_per_s_1"], 2),
        } if RECIPE2 in train else None,
        "targets": TARGETS,
        "raw": raw,
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=1) + "\n")
    output.with_suffix(".md").write_text(markdown(report))
    print(markdown(report))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--measure"]:
        # A measurement subprocess started by `run_mode`.
        print(json.dumps(measure(sys.argv[2], json.loads(sys.argv[3]))))
    else:
        typer.run(main)
