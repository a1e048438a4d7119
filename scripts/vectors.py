"""The project's `vectors` step: use the papers' vectors when present,
otherwise train word2vec on the mirror's unlabeled text.

weasel scripts cannot branch, so the choice lives here. Both paths go
through the `spacy-bioner vectors` CLI (import / train), and the step records
which source it used in `<output>/vectors_source.json`, so a results report
can say what the models were initialized with.

    python scripts/vectors.py --pretrained PATH.bin \
        --text assets/corpora/unlabeled/biomed_text.jsonl.gz --output vectors/biomed-w2v
"""
import datetime
import shlex
import subprocess
import sys
from pathlib import Path
from typing import List, Optional, Sequence

import srsly
import typer
from wasabi import msg

SOURCE_FILE = "vectors_source.json"


def vectors_command(pretrained: Optional[Path], texts: List[Path], output: Path, prune_to: Sequence[Path] = ()) -> List[str]:
    """The `spacy-bioner vectors ...` command to run.

    pretrained (Optional[Path]): The word2vec .bin; used when the file exists.
    texts (List[Path]): Unlabeled text for training otherwise.
    output (Path): The vectors output folder.
    prune_to (Sequence[Path]): When importing, keep only words found in these
        corpus files or folders (the large file has millions of rows).
    RETURNS (List[str]): The command.
    """
    base = [sys.executable, "-m", "spacy_bioner.cli", "vectors"]
    if pretrained is not None and pretrained.is_file():
        cmd = base + ["import", str(pretrained), "--output", str(output)]
        for p in prune_to:
            cmd += ["--prune-to", str(p)]
        return cmd
    missing = [str(t) for t in texts if not t.exists()]
    if missing:
        msg.fail(f"No pretrained vectors and no unlabeled text: {', '.join(missing)}", exits=1)
    return base + ["train", *map(str, texts), "--output", str(output)]


def main(
    text: List[Path] = typer.Option(..., "--text", help="Unlabeled text (repeatable)"),
    output: Path = typer.Option(..., "--output", help="Vectors output folder"),
    pretrained: Optional[Path] = typer.Option(None, "--pretrained", help="Pretrained word2vec .bin, used if present"),
    prune_to: List[Path] = typer.Option([], "--prune-to", help="Importing: keep words found in these corpus files/folders (repeatable)"),
    extra: str = typer.Option("", "--extra-args", help="More options for `spacy-bioner vectors train|import`"),
) -> None:
    """Build the project's vectors from the best source available."""
    cmd = vectors_command(pretrained, text, output, prune_to) + shlex.split(extra)
    source = "pretrained" if cmd[4] == "import" else "word2vec on unlabeled text"
    msg.info(f"Vectors from {source}: {shlex.join(cmd)}")
    rc = subprocess.run(cmd).returncode
    if rc != 0:
        msg.fail(f"Building vectors failed ({rc})", exits=rc)
    srsly.write_json(output / SOURCE_FILE, {
        "source": source,
        "command": shlex.join(cmd),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    })
    msg.good(f"Vectors in {output}")


if __name__ == "__main__":
    typer.run(main)
