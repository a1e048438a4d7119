"""Where the time of `bilstm_crf_ner` goes, on one thread: inference
(`nlp.pipe` over the test texts, tokenization included) and training
(`nlp.update` over training batches), profiled with cProfile and summed per
stage of the pipeline.

    OMP_NUM_THREADS=1 python benchmarks/profile_stages.py \\
        training/speed/ours/model-best ../shared/corpora/NCBI-disease \\
        --output docs/benchmarks/profile_after.json

A stage is the cumulative time of the functions that implement it (for a
torch module, its `forward`, so the native kernels it calls are inside).
cProfile adds a cost per Python call, so Python-heavy stages read somewhat
larger than they are; the unprofiled wall time is printed beside them.
"""
import cProfile
import datetime
import json
import pstats
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import typer

from speed_helpers import describe_machine, load_test_texts, single_thread, training_batches

# (stage, file suffix, function name): the functions whose cumulative time
# is a stage. Nested stages (e.g. the char BiLSTM inside the encoder) are
# listed separately and are not subtracted from their parent.
INFERENCE_STAGES: List[Tuple[str, str, str]] = [
    ("tokenizer (make_doc)", "spacy/language.py", "make_doc"),
    ("bio_sentencizer", "pipeline/sentences.py", "__call__"),
    ("bilstm_crf_ner.predict", "pipeline/bilstm_crf_ner.py", "predict"),
    ("  segment_docs + group_segments", "model/features.py", "segment_docs"),
    ("  build_batch (featurization)", "model/features.py", "build_batch"),
    ("  convert_inputs (numpy -> torch)", "model/bridge.py", "convert_inputs"),
    ("  char BiLSTM (CharEncoder.forward)", "torch_modules/bilstm_crf.py", "forward"),
    ("  word embeddings + word BiLSTMs (encode_rows)", "torch_modules/bilstm_crf.py", "encode_rows"),
    ("  CRF: viterbi", "torch_modules/crf.py", "viterbi"),
    ("  CRF: forward_backward", "torch_modules/crf.py", "forward_backward"),
    ("  CRF: bio_spans", "torch_modules/crf.py", "bio_spans"),
    ("  CRF: span_log_probs (confidences)", "torch_modules/crf.py", "span_log_probs"),
    ("bilstm_crf_ner.set_annotations", "pipeline/bilstm_crf_ner.py", "set_annotations"),
]

TRAINING_STAGES: List[Tuple[str, str, str]] = [
    ("build_batch (featurization)", "model/features.py", "build_batch"),
    ("gold tags (_gold_tags)", "pipeline/bilstm_crf_ner.py", "_gold_tags"),
    ("char BiLSTM forward", "torch_modules/bilstm_crf.py", "forward"),
    ("word BiLSTMs forward (encode_rows)", "torch_modules/bilstm_crf.py", "encode_rows"),
    ("CRF loss forward", "torch_modules/crf.py", "loss"),
    ("backward (autograd)", "torch/autograd/__init__.py", "backward"),
    ("optimizer (finish_update)", "pipeline/bilstm_crf_ner.py", "finish_update"),
]


def stage_times(stats: pstats.Stats, stages: List[Tuple[str, str, str]]) -> Dict[str, float]:
    """Cumulative seconds of each stage's functions (summed over matches)."""
    found: Dict[str, float] = {name: 0.0 for name, _, _ in stages}
    for (path, _, func), (_, _, _, cumtime, _) in stats.stats.items():  # type: ignore[attr-defined]
        for name, suffix, wanted in stages:
            if func != wanted or not path.endswith(suffix):
                continue
            # Two `forward`s live in bilstm_crf.py; the char encoder's is
            # the one that is a stage here (the others are the model's).
            if wanted == "forward" and suffix.endswith("bilstm_crf.py"):
                continue
            found[name] += cumtime
    return found


def char_forward_time(stats: pstats.Stats) -> float:
    """CharEncoder.forward is told from the other `forward`s of
    bilstm_crf.py by its line number (the first one defined)."""
    forwards = sorted(
        (line, cumtime)
        for (path, line, func), (_, _, _, cumtime, _) in stats.stats.items()  # type: ignore[attr-defined]
        if func == "forward" and path.endswith("torch_modules/bilstm_crf.py")
    )
    return forwards[0][1] if forwards else 0.0


def profile(fn: Callable[[], int], stages: List[Tuple[str, str, str]]) -> Dict:
    """Run `fn` (returns tokens processed) once bare and once profiled."""
    start = time.perf_counter()
    n_tokens = fn()
    wall = time.perf_counter() - start
    profiler = cProfile.Profile()
    start = time.perf_counter()
    profiler.runcall(fn)
    profiled_wall = time.perf_counter() - start
    stats = pstats.Stats(profiler)
    times = stage_times(stats, stages)
    for name, suffix, wanted in stages:
        if wanted == "forward" and suffix.endswith("bilstm_crf.py"):
            times[name] = char_forward_time(stats)
    return {
        "tokens": n_tokens,
        "wall_s": round(wall, 3),
        "tok_per_s": round(n_tokens / wall),
        "profiled_wall_s": round(profiled_wall, 3),
        "stages": {name: {"s": round(t, 3), "share": round(t / profiled_wall, 3)} for name, t in times.items()},
    }


def torch_operators(fn: Callable[[], int], top: int) -> List[Dict[str, object]]:
    """The `top` torch operators by self CPU time over one run of `fn`
    (torch.profiler): what the native kernels spend, which cProfile's
    stages only see summed inside a module's `forward` or `backward`."""
    from torch.profiler import ProfilerActivity, profile as torch_profile

    with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
        fn()
    events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    total = sum(e.self_cpu_time_total for e in events) or 1.0
    return [{"op": e.key, "calls": e.count, "self_s": round(e.self_cpu_time_total / 1e6, 3),
             "share": round(e.self_cpu_time_total / total, 3)} for e in events[:top]]


def compare_markdown(before: Dict, after: Dict) -> str:
    """Before and after side by side, one table per part."""
    out = []
    for part in ("inference", "training"):
        b, a = before[part], after[part]
        out += [
            f"### {part.capitalize()}: {b['tok_per_s']:,} -> {a['tok_per_s']:,} tok/s unprofiled "
            f"(one thread; each in its own run, so the ratio is only indicative)\n",
            "| stage | before s | before share | after s | after share |",
            "|---|---|---|---|---|",
        ]
        for name in b["stages"]:
            x, y = b["stages"][name], a["stages"].get(name, {"s": 0.0, "share": 0.0})
            out.append(f"| {name.strip()}{' (in predict)' if name.startswith('  ') else ''} | {x['s']:.3f} | "
                       f"{100 * x['share']:.1f}% | {y['s']:.3f} | {100 * y['share']:.1f}% |")
        out.append("")
    return "\n".join(out)


def main(
    model: Path = typer.Argument(..., help="A trained bilstm_crf_ner pipeline"),
    corpus: Path = typer.Argument(..., help="Folder with train.tsv and test.tsv"),
    train_docs: int = typer.Option(1000, help="Training sentences profiled"),
    output: Path = typer.Option(Path("docs/benchmarks/profile.json"), help="Results JSON"),
    before: Optional[Path] = typer.Option(None, help="An earlier JSON of this script: write a before/after .md"),
    torch_ops: int = typer.Option(0, help="Also record the top N torch operators by self CPU time (torch.profiler)"),
) -> None:
    single_thread()
    import spacy

    nlp = spacy.load(model)
    texts = load_test_texts(corpus / "test.tsv", nlp)
    list(nlp.pipe(texts[:100]))

    def infer() -> int:
        return sum(len(doc) for doc in nlp.pipe(texts, batch_size=256))

    inference = profile(infer, INFERENCE_STAGES)
    batches, optimizer = training_batches(nlp, corpus / "train.tsv", train_docs)

    def train() -> int:
        for batch in batches:
            nlp.update(batch, sgd=optimizer)
        return sum(len(eg.reference) for batch in batches for eg in batch)

    training = profile(train, TRAINING_STAGES)
    if torch_ops:
        inference["torch_operators"] = torch_operators(infer, torch_ops)
        training["torch_operators"] = torch_operators(train, torch_ops)
    report = {
        "command": "python benchmarks/profile_stages.py " + " ".join(sys.argv[1:]),
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "machine": describe_machine(),
        "threads": 1,
        "inference": inference,
        "training": training,
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=1) + "\n")
    if before is not None:
        output.with_suffix(".md").write_text(compare_markdown(json.loads(before.read_text()), report))
    for part in ("inference", "training"):
        print(f"\n{part}: {report[part]['tok_per_s']:,} tok/s unprofiled")
        for name, value in report[part]["stages"].items():
            print(f"  {name:52s} {value['s']:8.3f} s {100 * value['share']:5.1f}%")
        for op in report[part].get("torch_operators", []):
            print(f"  torch {op['op']:46s} {op['self_s']:8.3f} s {100 * op['share']:5.1f}% ({op['calls']} calls)")


if __name__ == "__main__":
    typer.run(main)
