"""How fast can this model go on one core? The physical bound of the word
BiLSTMs, measured (issue #16).

The word BiLSTMs are the model's arithmetic: per token and direction, a layer
of H units over D inputs does the 4 gates' products, 2 * 4 * H * (D + H)
FLOPs. This script reads D and H from a trained pipeline, times
`torch.nn.LSTM` (the kernel the component calls, time-major as it calls it)
at those shapes on one thread, in float32 and under bfloat16 autocast, and
prints the kernel's FLOP rate and the tokens/s that the word BiLSTMs alone
would allow: an upper bound for the whole pipeline, since tokenization,
features, the char BiLSTM, the CRF and writing spans come on top.

    python benchmarks/lstm_bound.py training/speed/ours/model-best \\
        --output docs/benchmarks/lstm_bound.json

Timed with the thread's CPU time (`time.thread_time`), so other processes on
the machine inflate it less than wall time; the median of the repeats counts.
"""
import datetime
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional

import typer

from speed_helpers import describe_machine, single_thread, thread_settings


def lstm_flops_per_token(module) -> Dict[str, float]:
    """FLOPs per token of each word BiLSTM layer (both directions), from the
    torch module's layer sizes; biases and gate non-linearities left out."""
    flops = {}
    for i, layer in enumerate(module.encoder.layers):
        lstm = layer.forward_lstm
        flops[f"layer {i + 1} ({lstm.input_size} -> 2 x {lstm.hidden_size})"] = (
            2 * 2 * 4 * lstm.hidden_size * (lstm.input_size + lstm.hidden_size)
        )
    return flops


def median_seconds(fn: Callable[[], object], repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.thread_time()
        fn()
        times.append(time.thread_time() - start)
    return statistics.median(times)


def kernel_rate(input_size: int, hidden: int, steps: int, rows: int, dtype: Optional[str], repeats: int) -> float:
    """FLOP/s of one forward `nn.LSTM` call over a (steps, rows, input_size) batch."""
    import torch

    lstm = torch.nn.LSTM(input_size, hidden)
    x = torch.randn(steps, rows, input_size)
    low = {"bfloat16": torch.bfloat16}.get(dtype or "")

    def call() -> None:
        with torch.inference_mode(), torch.autocast("cpu", dtype=low, enabled=low is not None):
            lstm(x)

    flops = 2 * 4 * hidden * (input_size + hidden) * steps * rows
    return flops / median_seconds(call, repeats)


def main(
    model: Path = typer.Argument(..., help="A trained bilstm_crf_ner pipeline"),
    steps: int = typer.Option(26, help="Sentence length timed (NCBI-disease test: 26 tokens on average)"),
    rows: int = typer.Option(158, help="Rows per call (the component reads about 4,096 padded tokens at once)"),
    repeats: int = typer.Option(15, help="Timed calls per shape"),
    output: Optional[Path] = typer.Option(None, help="Write the results as JSON here"),
) -> None:
    single_thread()
    import spacy

    nlp = spacy.load(model)
    module = nlp.get_pipe("bilstm_crf_ner").model.layers[0].shims[0]._model
    per_layer = lstm_flops_per_token(module)
    total = sum(per_layer.values())
    results: Dict[str, Dict] = {}
    for dtype in ("float32", "bfloat16"):
        seconds = 0.0
        rates: List[float] = []
        for layer in module.encoder.layers:
            lstm = layer.forward_lstm
            rate = kernel_rate(lstm.input_size, lstm.hidden_size, steps, rows, dtype, repeats)
            rates.append(rate)
            seconds += 2 * 2 * 4 * lstm.hidden_size * (lstm.input_size + lstm.hidden_size) / rate
        results[dtype] = {
            "gflop_per_s": [round(r / 1e9, 1) for r in rates],
            "word_bilstm_tok_per_s_bound": round(1 / seconds),
        }
    report = {
        "command": "python benchmarks/lstm_bound.py " + " ".join(sys.argv[1:]),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": describe_machine(),
        "threads": thread_settings(),
        "shape": {"steps": steps, "rows": rows},
        "word_bilstm_mflop_per_token": round(total / 1e6, 3),
        "per_layer_mflop": {k: round(v / 1e6, 3) for k, v in per_layer.items()},
        "kernels": results,
    }
    print(f"word BiLSTMs: {total / 1e6:.2f} MFLOP per token ({', '.join(per_layer)})")
    for dtype, found in results.items():
        print(
            f"{dtype}: kernel {' / '.join(map(str, found['gflop_per_s']))} GFLOP/s per layer -> "
            f"at most {found['word_bilstm_tok_per_s_bound']:,} tok/s per core for the word BiLSTMs alone"
        )
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    typer.run(main)
