"""The project's vectors step imports the papers' file when present, else trains word2vec."""
import sys
from pathlib import Path

from scripts.vectors import vectors_command


def test_trains_word2vec_without_the_big_file(tmp_path):
    text = tmp_path / "text.jsonl.gz"
    text.write_bytes(b"")
    cmd = vectors_command(tmp_path / "absent.bin", [text], tmp_path / "out", [tmp_path / "corpora"])
    assert cmd[:5] == [sys.executable, "-m", "spacy_bioner.cli", "vectors", "train"]
    assert cmd[5:] == [str(text), "--output", str(tmp_path / "out")]


def test_imports_the_big_file_when_present(tmp_path):
    big = tmp_path / "w2v.bin"
    big.write_bytes(b"x")
    cmd = vectors_command(big, [tmp_path / "text.jsonl.gz"], tmp_path / "out", [Path("assets/corpora")])
    assert cmd[4:] == ["import", str(big), "--output", str(tmp_path / "out"), "--prune-to", "assets/corpora"]
