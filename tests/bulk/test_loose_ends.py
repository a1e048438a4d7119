"""Category 6: no orphaned workers, no temporary files left forever, resume
bookkeeping that streams the output."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from spacy_bioner.bulk.writer import JsonlOutput, done_counts
from spacy_bioner.files import atomic_path, remove_stale_temps, temp_name

TEXT = "Mutations in BRCA1 cause hereditary breast cancer ."


def _children(pid):
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purpose.
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(")")[-1].split()[0] != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc and ps")
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_workers_die_with_a_killed_parent(model_dir, tmp_path, sig):
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"id": f"d{i}", "text": TEXT}) + "\n" for i in range(20000)), encoding="utf8")
    out = tmp_path / "out.jsonl"
    parent = subprocess.Popen([sys.executable, "-m", "spacy_bioner.cli", "annotate", str(model_dir), str(src),
                               str(out), "--n-process", "2", "--batch-size", "8", "--no-progress"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers = []
    deadline = time.time() + 120
    while time.time() < deadline and len(workers) < 2:
        time.sleep(0.5)
        workers = [p for p in _children(parent.pid) if _alive(p)]
    assert len(workers) >= 2, "workers never started"
    parent.send_signal(sig)
    parent.wait(timeout=30)
    deadline = time.time() + 20
    while time.time() < deadline and any(_alive(p) for p in workers):
        time.sleep(0.2)
    left = [p for p in workers if _alive(p)]
    for p in left:
        os.kill(p, signal.SIGKILL)
    assert not left, f"orphaned workers {left}"
    # What was written is whole records (a last partial line at most) and resumable.
    if out.exists():
        JsonlOutput(out)


def test_stale_temporaries_of_dead_processes_are_removed(tmp_path):
    target = tmp_path / "out.tsv"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".out.tsv.spacy-bioner-{dead.pid}.tmp"
    stale.write_text("half")
    stale_dir = tmp_path / f".out.tsv.spacy-bioner-{dead.pid}.old.tmp"
    stale_dir.mkdir()
    live = tmp_path / f".out.tsv.spacy-bioner-{os.getppid()}.tmp"  # a running process's
    live.write_text("busy")
    other = tmp_path / ".out.tsv.someone-else.tmp"
    other.write_text("not ours")
    with atomic_path(target) as tmp:
        assert tmp == temp_name(target) and str(os.getpid()) in tmp.name
        tmp.write_text("done")
    assert target.read_text() == "done"
    assert not stale.exists() and not stale_dir.exists()
    assert live.exists() and other.exists()
    assert remove_stale_temps(target) == 0


def test_interrupted_atomic_write_leaves_only_its_named_temporary(tmp_path):
    target = tmp_path / "out.tsv"
    target.write_text("old")
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise KeyboardInterrupt
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.tsv"]


def test_done_counts_streams_the_output(tmp_path):
    import tracemalloc

    out = tmp_path / "out.jsonl"
    line = json.dumps({"id": "x", "entities": [{"text": "y" * 2000}]})
    with out.open("w", encoding="utf8") as f:
        for i in range(20000):
            f.write(line.replace('"x"', f'"d{i}"') + "\n")
    assert out.stat().st_size > 40_000_000
    tracemalloc.start()
    counts = done_counts(out)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert len(counts) == 20000 and counts["d7"] == 1
    # Ids only: a few MB, not the 40 MB file.
    assert peak < 8_000_000, peak


def test_partial_last_line_is_cut_only_in_our_own_output(tmp_path):
    ours = tmp_path / "ours.jsonl"
    ours.write_bytes(b'{"id": "a", "entities": []}\n{"id": "b", "ent')
    assert JsonlOutput(ours).done == {"a": 1}
    assert ours.read_bytes() == b'{"id": "a", "entities": []}\n'
    foreign = tmp_path / "foreign.jsonl"
    foreign.write_bytes(b'{"id": "a", "entities": []}\nsomething else')
    with pytest.raises(ValueError, match=r"foreign\.jsonl:2: not an annotate record"):
        JsonlOutput(foreign)
    assert foreign.read_bytes() == b'{"id": "a", "entities": []}\nsomething else'
