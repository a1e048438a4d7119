"""Training loggers: progress a user can follow in a log file or CI, not
only in a terminal.

spaCy's console logger draws a tqdm bar between evaluations. In a log file or
a CI job (stdout is not a TTY) the bar is carriage-return noise, and without
it nothing is printed between evaluations, which can be many minutes apart.
`spacy-bioner.ProgressLogger.v1` keeps spaCy's table and adds one plain
progress line at a steady rate when stdout is not a terminal. Its JSONL
`output_file` has spaCy's fields plus the wall seconds since training began
and the words seen, so that learning curves can be drawn against time
(`benchmarks/time_to_accuracy.py`).
"""
import json
import sys
import time
from typing import IO, Any, Callable, Dict, Optional, Tuple

from spacy.language import Language
from spacy.training.loggers import console_logger_v3
from spacy.util import registry

LogStep = Callable[[Optional[Dict[str, Any]]], None]
Finalize = Callable[[], None]
PROGRESS_PREFIX = "progress:"


def _is_tty(stream: IO) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


@registry.loggers("spacy-bioner.ProgressLogger.v1")
def progress_logger_v1(
    progress_bar: bool = True,
    interval: float = 30.0,
    console_output: bool = True,
    output_file: Optional[str] = None,
) -> Callable[[Language, IO, IO], Tuple[LogStep, Finalize]]:
    """spaCy's console logger plus steady progress lines where there is no TTY.

    progress_bar (bool): On a terminal, show spaCy's bar up to the next
        evaluation. Off a terminal the bar is never drawn; lines replace it.
    interval (float): Seconds between progress lines when stdout is not a
        TTY (0 turns them off).
    console_output (bool): Print the evaluation table.
    output_file (Optional[str]): Also write every evaluation as a JSON line
        here: epoch, step, score, scores, losses, seconds, words.
    RETURNS (Callable): The logger's setup function, as spaCy expects.
    """

    def setup_printer(nlp: Language, stdout: IO = sys.stdout, stderr: IO = sys.stderr) -> Tuple[LogStep, Finalize]:
        tty = _is_tty(stdout)
        console = console_logger_v3(
            progress_bar="eval" if progress_bar and tty else None,
            console_output=console_output,
            output_file=None,
        )
        table_step, table_finalize = console(nlp, stdout, stderr)
        began = time.monotonic()
        # Line-buffered: a run stopped from outside keeps every evaluation.
        stream = open(output_file, "w", encoding="utf-8", buffering=1) if output_file else None

        def console_step(info: Optional[Dict[str, Any]]) -> None:
            table_step(info)
            if stream is not None and info is not None and info.get("score") is not None:
                record = {
                    "epoch": info["epoch"],
                    "step": info["step"],
                    "score": float(info["score"]),
                    "scores": {k: v for k, v in (info.get("other_scores") or {}).items()
                               if isinstance(v, (int, float))},
                    "losses": {k: float(v) for k, v in (info.get("losses") or {}).items()},
                    "seconds": round(time.monotonic() - began, 3),
                    "words": info.get("words"),
                }
                stream.write(json.dumps(record) + "\n")

        def console_finalize() -> None:
            table_finalize()
            if stream is not None:
                stream.close()

        if tty or interval <= 0:
            return console_step, console_finalize
        training = nlp.config["training"]
        eval_frequency = int(training["eval_frequency"])
        max_steps = int(training["max_steps"] or 0)
        max_epochs = int(training["max_epochs"] or 0)
        start = last = time.monotonic()
        steps = 0
        epoch = 0
        last_score: Optional[float] = None

        def log_step(info: Optional[Dict[str, Any]]) -> None:
            nonlocal steps, epoch, last, last_score
            steps += 1
            if info is not None:
                epoch = int(info.get("epoch", epoch))
                last_score = info.get("score")
            console_step(info)
            now = time.monotonic()
            if now - last < interval:
                return
            last = now
            elapsed = now - start
            parts = [f"{PROGRESS_PREFIX} step {steps}"]
            if max_steps:
                parts[0] += f"/{max_steps}"
            if last_score is not None:  # the epoch is known only from evaluations
                parts.append(f"epoch {epoch + 1}" + (f"/{max_epochs}" if max_epochs > 0 else ""))
            parts.append(f"{elapsed / 60:.1f} min, {steps / elapsed:.1f} steps/s")
            parts.append(f"next evaluation at step {(steps // eval_frequency + 1) * eval_frequency}")
            if last_score is not None:
                parts.append(f"last score {float(last_score):.3f}")
            stdout.write(", ".join(parts) + "\n")
            stdout.flush()

        return log_step, console_finalize

    return setup_printer
