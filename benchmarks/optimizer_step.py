"""How long one optimizer step takes on the component's parameters: Thinc's
per-parameter loop (`model.finish_update`) against the fused torch step the
component uses (`spacy_bioner.model.bridge.finish_update`), on one thread.

Each side steps its own copy of the trained model with its own optimizer
built from the pipeline's `[training.optimizer]`, on the same gradients
(random, drawn once: the step's cost does not depend on their values),
passes alternated in one process.

    python benchmarks/optimizer_step.py training/demo/model-best \\
        --output docs/benchmarks/optimizer_step.json
"""
import copy
import datetime
import sys
from pathlib import Path
from typing import Any, Callable, List

import typer

from speed_helpers import describe_machine, single_thread, write_report


def _stepper(model: Any, optimizer: Any, grads: List[Any], step: Callable[[Any, Any], None], steps: int) -> Callable[[], int]:
    params = [p for shim in (s for node in model.walk() for s in node.shims) for p in shim._model.parameters()]

    def run() -> int:
        for _ in range(steps):
            for param, grad in zip(params, grads):
                param.grad = grad.clone()
            step(model, optimizer)
        return steps

    return run


def main(
    model: Path = typer.Argument(..., help="A trained bilstm_crf_ner pipeline"),
    steps: int = typer.Option(50, help="Optimizer steps per pass"),
    passes: int = typer.Option(7, help="Passes per side (median counts)"),
    output: Path = typer.Option(Path("docs/benchmarks/optimizer_step.json"), help="JSON; a .md is written beside it"),
) -> None:
    single_thread()
    import spacy
    import torch
    from speed_per_core import alternate
    from spacy_bioner.model.bridge import finish_update
    from thinc.api import registry

    nlp = spacy.load(model)
    component = nlp.get_pipe("bilstm_crf_ner")
    settings = nlp.config["training"]["optimizer"]
    generator = torch.Generator().manual_seed(0)
    sides = {"Thinc's loop (model.finish_update)": lambda m, o: m.finish_update(o),
             "fused torch step (bridge.finish_update)": finish_update}
    template = next(s for node in component.model.walk() for s in node.shims)._model
    grads = [torch.randn(p.shape, generator=generator) * 1e-3 for p in template.parameters()]
    runs = {}
    for name, step in sides.items():
        optimizer = registry.resolve({"optimizer": settings})["optimizer"]
        runs[name] = _stepper(copy.deepcopy(component.model), optimizer, grads, step, steps)
        runs[name]()  # warm-up: the optimizer's state is allocated
    rows = alternate(runs, passes)
    n_params = sum(p.numel() for p in template.parameters())
    report = {
        "command": " ".join(["python", "benchmarks/optimizer_step.py", *sys.argv[1:]]),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": describe_machine(),
        "model": str(model),
        "optimizer": dict(settings),
        "parameters": n_params,
        "tensors": len(grads),
        "torch": torch.__version__,
        "rows": {name: {**row, "ms_per_step": round(1000 * row["median_s"] / steps, 3)} for name, row in rows.items()},
    }
    lines = [
        "# One optimizer step on the component's parameters (one thread)\n",
        f"`{report['command']}`\n",
        f"{report['date']}; {report['machine']}. One process, one thread; {steps} steps per pass, {passes} passes "
        f"alternated, median. {n_params:,} parameters in {len(grads)} tensors; optimizer `{settings}`.\n",
        "| step | ms per step | passes (s) |",
        "|---|---|---|",
    ]
    for name, row in report["rows"].items():
        lines.append(f"| {name} | {row['ms_per_step']} | {', '.join(f'{s:.3f}' for s in row['passes_s'])} |")
    write_report(output, report, lines)


if __name__ == "__main__":
    typer.run(main)
