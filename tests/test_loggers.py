"""spacy-bioner.ProgressLogger.v1: steady progress lines when stdout is not a TTY."""
import io
from pathlib import Path

import spacy
from spacy.util import load_config, registry

from spacy_bioner import loggers

ROOT = Path(__file__).resolve().parents[1]


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _nlp():
    nlp = spacy.blank("en")
    nlp.config["training"].update({"eval_frequency": 10, "max_steps": 100, "max_epochs": 4,
                                   "score_weights": {"ents_f": 1.0}})
    return nlp


def _info(step: int) -> dict:
    return {"epoch": 1, "step": step, "losses": {}, "other_scores": {"ents_f": 0.5}, "score": 0.5}


def test_progress_lines_at_steady_rate_without_tty(monkeypatch):
    clock = _Clock()
    monkeypatch.setattr(loggers.time, "monotonic", clock)
    out = io.StringIO()  # not a TTY, like a log file or CI
    log_step, finalize = registry.loggers.get("spacy-bioner.ProgressLogger.v1")(interval=30.0)(_nlp(), out, out)
    for step in range(1, 26):
        clock.now = step * 7.0  # 7 s per step: a line every 5th step (35 s > 30 s)
        log_step(_info(step) if step % 10 == 0 else None)
    finalize()
    lines = [line for line in out.getvalue().splitlines() if line.startswith(loggers.PROGRESS_PREFIX)]
    assert len(lines) == 5
    assert lines[0].startswith("progress: step 5/100") and "next evaluation at step 10" in lines[0]
    assert "epoch" not in lines[0]  # unknown before the first evaluation
    assert "epoch 2/4" in lines[-1] and "last score 0.500" in lines[-1] and "step 25/100" in lines[-1]
    # spaCy's table is still printed: the grid reads epochs from it.
    assert any(line.split()[:2] == ["1", "10"] for line in out.getvalue().splitlines())
    assert "\r" not in out.getvalue()  # no progress bar in a log


def test_tty_gets_spacy_console_logger_only(monkeypatch):
    out = io.StringIO()
    monkeypatch.setattr(out, "isatty", lambda: True, raising=False)
    log_step, finalize = loggers.progress_logger_v1(interval=0.001, progress_bar=False)(_nlp(), out, out)
    for step in range(1, 5):
        log_step(None)
    finalize()
    assert loggers.PROGRESS_PREFIX not in out.getvalue()


def test_configs_use_the_progress_logger():
    for path in sorted((ROOT / "configs").glob("*.cfg")):
        assert load_config(path)["training"]["logger"]["@loggers"] == "spacy-bioner.ProgressLogger.v1", path


def test_output_file_records_wall_seconds_and_words(monkeypatch, tmp_path):
    """Each evaluation becomes one JSON line with the seconds since the logger
    started and the words seen (benchmarks/time_to_accuracy.py reads them);
    steps without an evaluation write nothing."""
    import json

    clock = _Clock()
    monkeypatch.setattr(loggers.time, "monotonic", clock)
    path = tmp_path / "log.jsonl"
    out = io.StringIO()
    setup = registry.loggers.get("spacy-bioner.ProgressLogger.v1")(interval=0, output_file=str(path))
    log_step, finalize = setup(_nlp(), out, out)
    for step in range(1, 21):
        clock.now = step * 2.5
        log_step({**_info(step), "words": step * 100} if step % 10 == 0 else None)
    finalize()
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(r["step"], r["seconds"], r["words"], r["score"]) for r in records] == [(10, 25.0, 1000, 0.5), (20, 50.0, 2000, 0.5)]
    assert records[0]["scores"] == {"ents_f": 0.5}
