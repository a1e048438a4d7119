"""Copying from a mirror verifies each file and never leaves a bad copy."""
import hashlib
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from spacy_bioner.project.assets import AssetError, ExpectedFile, fetch_file, fetch_from_mirror, verify_files

GOOD = b"Aspirin\tB-Chemical\ncauses\tO\nasthma\tB-Disease\n\n"


def make_mirror(root: Path, *, wrong_sha_for=()) -> Path:
    """A tiny mirror: one corpus with three splits and a manifest."""
    splits = {}
    for split in ("train", "dev", "test"):
        path = root / "TOY" / f"{split}.tsv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(GOOD + split.encode())
        sha = hashlib.sha256(path.read_bytes()).hexdigest()
        if split in wrong_sha_for:
            sha = "0" * 64
        splits[split] = {"path": f"TOY/{split}.tsv", "sha256": sha}
    manifest = {"corpora": {"TOY": {"splits": splits, "extra_files": []}}, "other_files": []}
    (root / "manifest.json").write_text(json.dumps(manifest))
    return root


def run_cli(args):
    from spacy_bioner.cli.project import assets_app

    return CliRunner().invoke(assets_app, args)


def test_good_checksums_copy(tmp_path):
    mirror = make_mirror(tmp_path / "mirror")
    dest = tmp_path / "assets"
    done = fetch_from_mirror(mirror, dest, corpora=["TOY"])
    assert done == {"TOY/dev.tsv": "copied", "TOY/test.tsv": "copied", "TOY/train.tsv": "copied"}
    assert (dest / "TOY" / "train.tsv").read_bytes() == (mirror / "TOY" / "train.tsv").read_bytes()
    # A second run finds verified copies and copies nothing.
    assert set(fetch_from_mirror(mirror, dest, corpora=["TOY"]).values()) == {"skipped"}
    assert not list(dest.rglob("*.part"))


def test_bad_checksum_fails_naming_the_file_and_leaves_nothing(tmp_path):
    mirror = make_mirror(tmp_path / "mirror", wrong_sha_for=["dev"])
    dest = tmp_path / "assets"
    result = run_cli(["fetch", "--mirror", str(mirror), "--dest", str(dest), "--project", "", "--corpus", "TOY"])
    assert result.exit_code != 0
    assert "TOY/dev.tsv: sha256" in result.output
    assert "TOY/train.tsv:" not in result.output and "TOY/test.tsv:" not in result.output
    assert not (dest / "TOY" / "dev.tsv").exists()
    assert not list(dest.rglob("*.part")), "no temporary copy left behind"
    # The good files were still copied and verified.
    assert (dest / "TOY" / "train.tsv").exists()


def test_existing_bad_copy_is_removed(tmp_path):
    mirror = make_mirror(tmp_path / "mirror", wrong_sha_for=["test"])
    dest = tmp_path / "assets"
    stale = dest / "TOY" / "test.tsv"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"stale")
    with pytest.raises(AssetError) as err:
        fetch_from_mirror(mirror, dest, corpora=["TOY"])
    assert [path for path, _ in err.value.failures] == ["TOY/test.tsv"]
    assert not stale.exists()


def test_md5_from_project_is_checked(tmp_path):
    mirror = make_mirror(tmp_path / "mirror")
    good_md5 = hashlib.md5((mirror / "TOY" / "dev.tsv").read_bytes()).hexdigest()
    dest = tmp_path / "assets"
    assert fetch_file(mirror, dest, ExpectedFile("TOY/dev.tsv", md5=good_md5)) == "copied"
    with pytest.raises(AssetError, match="md5"):
        fetch_file(mirror, tmp_path / "other", ExpectedFile("TOY/dev.tsv", md5="f" * 32))
    assert not (tmp_path / "other" / "TOY" / "dev.tsv").exists()
    assert verify_files(dest, [ExpectedFile("TOY/dev.tsv", md5=good_md5)]) == []
    assert verify_files(dest, [ExpectedFile("TOY/train.tsv", md5=good_md5)])[0][1] == "missing"


def test_project_assets_select_files(tmp_path):
    """With a project.yml, its assets under --dest are fetched, with both hashes checked."""
    mirror = make_mirror(tmp_path / "mirror")
    project_dir = tmp_path / "proj"
    project_dir.mkdir()
    md5 = hashlib.md5((mirror / "TOY" / "test.tsv").read_bytes()).hexdigest()
    (project_dir / "project.yml").write_text(
        "vars:\n  corpora_dir: assets/corpora\n"
        "assets:\n"
        f"  - dest: ${{vars.corpora_dir}}/TOY/test.tsv\n    checksum: {md5}\n    description: toy\n"
        "  - dest: assets/big.bin\n    url: http://example.com/big.bin\n    extra: true\n    description: big\n"
    )
    result = run_cli(["fetch", "--mirror", str(mirror), "--dest", str(project_dir / "assets/corpora"),
                      "--project", str(project_dir / "project.yml")])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (project_dir / "assets/corpora/TOY").iterdir()) == ["test.tsv"]
