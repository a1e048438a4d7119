"""Copy corpus files from a local mirror into the project and verify them.

The mirror (`../shared/corpora` here) holds a `manifest.json` with a sha256
for every file. `project.yml` lists the same files as weasel assets with an
MD5 checksum (weasel's own hash). A copy is written to a temporary file next
to its destination, both hashes are checked, and only then is it renamed into
place, so an interrupted or corrupt copy never looks like a good asset.

    spacy-bioner assets fetch --mirror ../shared/corpora \
        --dest assets/corpora --project project.yml
"""
import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Tuple

from wasabi import msg

from ..corpora.util import atomic_path

MANIFEST_NAME = "manifest.json"
_CHUNK = 1 << 20


class AssetError(Exception):
    """Raised when one or more assets cannot be fetched or fail verification."""

    def __init__(self, failures: List[Tuple[str, str]]) -> None:
        self.failures = failures
        lines = [f"{path}: {reason}" for path, reason in failures]
        super().__init__("Asset verification failed:\n" + "\n".join(lines))


@dataclass
class ExpectedFile:
    """One file to copy: its path relative to the mirror root and the hashes
    it must have. Either hash may be missing, not both."""

    path: str
    sha256: Optional[str] = None
    md5: Optional[str] = None


def file_hashes(path: Path) -> Tuple[str, str]:
    """Hash a file once for both algorithms.

    path (Path): The file.
    RETURNS (Tuple[str, str]): The (sha256, md5) hex digests.
    """
    sha, md5 = hashlib.sha256(), hashlib.md5()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            sha.update(chunk)
            md5.update(chunk)
    return sha.hexdigest(), md5.hexdigest()


def read_manifest(mirror: Path) -> Dict[str, str]:
    """Read the mirror's manifest into {relative path: sha256}.

    mirror (Path): The mirror root, holding `manifest.json`.
    RETURNS (Dict[str, str]): Every file the manifest knows, corpus splits,
        extra files and other files alike.
    """
    manifest_path = mirror / MANIFEST_NAME
    if not manifest_path.exists():
        raise AssetError([(str(manifest_path), "manifest not found")])
    data = json.loads(manifest_path.read_text(encoding="utf8"))
    hashes: Dict[str, str] = {}
    for corpus in data.get("corpora", {}).values():
        for split in corpus.get("splits", {}).values():
            hashes[split["path"]] = split["sha256"]
        for extra in corpus.get("extra_files", []):
            hashes[extra["path"]] = extra["sha256"]
    for other in data.get("other_files", []):
        hashes[other["path"]] = other["sha256"]
    return hashes


def manifest_corpora(mirror: Path) -> Dict[str, List[str]]:
    """Map each corpus name in the manifest to the paths of its splits.

    mirror (Path): The mirror root.
    RETURNS (Dict[str, List[str]]): {corpus: [relative split paths]}.
    """
    data = json.loads((mirror / MANIFEST_NAME).read_text(encoding="utf8"))
    return {
        name: [split["path"] for split in corpus.get("splits", {}).values()]
        for name, corpus in data.get("corpora", {}).items()
    }


def project_assets_under(project_file: Path, dest: Path) -> Dict[str, Optional[str]]:
    """Read the assets of a project.yml whose `dest` lies under `dest`.

    project_file (Path): The project.yml.
    dest (Path): The folder the mirror is copied into, relative to the
        project directory or absolute.
    RETURNS (Dict[str, Optional[str]]): {path relative to dest: md5 or None}.
        Assets marked `extra` (large optional downloads) are left out.
    """
    from weasel.util import load_project_config

    project_dir = project_file.parent.resolve()
    config = load_project_config(project_dir)
    root = dest if dest.is_absolute() else project_dir / dest
    root = Path(os.path.normpath(root))
    found: Dict[str, Optional[str]] = {}
    for asset in config.get("assets", []):
        if asset.get("extra") or "dest" not in asset:
            continue
        asset_dest = Path(os.path.normpath(project_dir / asset["dest"]))
        try:
            rel = asset_dest.relative_to(root)
        except ValueError:
            continue
        found[rel.as_posix()] = asset.get("checksum")
    return found


def plan_files(
    mirror: Path,
    *,
    project_file: Optional[Path] = None,
    dest: Optional[Path] = None,
    corpora: Iterable[str] = (),
) -> List[ExpectedFile]:
    """Decide which files to copy and which hashes each must have.

    mirror (Path): The mirror root.
    project_file (Optional[Path]): A project.yml; its assets under `dest`
        are fetched, checked against both its MD5 and the manifest's sha256.
    dest (Optional[Path]): The destination root (needed with project_file).
    corpora (Iterable[str]): Corpus names from the manifest to fetch (all
        splits), in addition to the project's assets.
    RETURNS (List[ExpectedFile]): The files, sorted by path.
    """
    sha = read_manifest(mirror)
    wanted: Dict[str, ExpectedFile] = {}
    if project_file is not None:
        assert dest is not None, "dest is needed to match project assets"
        for rel, md5 in project_assets_under(project_file, dest).items():
            wanted[rel] = ExpectedFile(rel, sha256=sha.get(rel), md5=md5)
    names = list(corpora)
    if names:
        splits = manifest_corpora(mirror)
        unknown = [name for name in names if name not in splits]
        if unknown:
            raise AssetError([(name, "corpus not in the mirror's manifest") for name in unknown])
        for name in names:
            for rel in splits[name]:
                wanted.setdefault(rel, ExpectedFile(rel, sha256=sha[rel]))
    return sorted(wanted.values(), key=lambda f: f.path)


def _mismatch(expected: ExpectedFile, sha256: str, md5: str) -> Optional[str]:
    if expected.sha256 and sha256 != expected.sha256:
        return f"sha256 {sha256} != manifest {expected.sha256}"
    if expected.md5 and md5 != expected.md5:
        return f"md5 {md5} != project.yml checksum {expected.md5}"
    return None


def fetch_file(mirror: Path, dest_root: Path, expected: ExpectedFile) -> str:
    """Copy one file from the mirror and verify it, atomically.

    mirror (Path): The mirror root.
    dest_root (Path): The destination root; the file keeps its relative path.
    expected (ExpectedFile): The file and its expected hashes.
    RETURNS (str): "skipped" when a verified copy was already there, else
        "copied".
    RAISES (AssetError): When the source is missing, has no expected hash or
        fails verification. Nothing is left at the destination then: an
        existing copy that fails verification is removed too, because a
        stale file would otherwise let later steps run on bad data.
    """
    src = mirror / expected.path
    dest = dest_root / expected.path
    if not expected.sha256 and not expected.md5:
        raise AssetError([(expected.path, "no checksum known (not in manifest or project.yml)")])
    if dest.exists():
        if _mismatch(expected, *file_hashes(dest)) is None:
            return "skipped"
        dest.unlink()
    if not src.is_file():
        raise AssetError([(expected.path, f"missing in mirror ({src})")])
    with atomic_path(dest) as tmp:
        with tmp.open("wb") as out, src.open("rb") as inp:
            shutil.copyfileobj(inp, out, _CHUNK)
        problem = _mismatch(expected, *file_hashes(tmp))
        if problem is not None:
            raise AssetError([(expected.path, problem)])
    return "copied"


def fetch_from_mirror(
    mirror: Path,
    dest: Path,
    *,
    project_file: Optional[Path] = None,
    corpora: Iterable[str] = (),
) -> Dict[str, str]:
    """Copy and verify every planned file; report all failures at once.

    mirror (Path): The mirror root, holding manifest.json.
    dest (Path): The destination root.
    project_file (Optional[Path]): A project.yml whose assets under `dest`
        are fetched.
    corpora (Iterable[str]): Extra corpus names to fetch whole.
    RETURNS (Dict[str, str]): {relative path: "copied" | "skipped"}.
    RAISES (AssetError): After trying every file, naming each one that failed.
    """
    files = plan_files(mirror, project_file=project_file, dest=dest, corpora=corpora)
    if not files:
        raise AssetError([(str(dest), "nothing to fetch: no project assets under it and no --corpus")])
    done: Dict[str, str] = {}
    failures: List[Tuple[str, str]] = []
    for expected in files:
        try:
            done[expected.path] = fetch_file(mirror, dest, expected)
        except AssetError as err:
            failures.extend(err.failures)
            continue
        msg.good(f"{done[expected.path]:8} {expected.path}")
    if failures:
        raise AssetError(failures)
    return done


def verify_files(dest: Path, files: Iterable[ExpectedFile]) -> List[Tuple[str, str]]:
    """Check copies already in place, without touching the mirror.

    dest (Path): The destination root.
    files (Iterable[ExpectedFile]): What should be there.
    RETURNS (List[Tuple[str, str]]): (path, problem) for each bad or missing file.
    """
    problems = []
    for expected in files:
        path = dest / expected.path
        if not path.is_file():
            problems.append((expected.path, "missing"))
            continue
        problem = _mismatch(expected, *file_hashes(path))
        if problem is not None:
            problems.append((expected.path, problem))
    return problems
