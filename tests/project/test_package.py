"""The `package` step: a trained pipeline packaged by scripts/package.py (the
project's `package` command) as two wheels in one folder installs into a fresh
virtualenv with the README's `pip install --find-links` command and loads there
with `spacy.load`, without `--code`, carrying its model card in `nlp.meta`.

Slow (builds two wheels and a virtualenv, about a minute); CI runs it.
"""
import importlib.util
import json
import shlex
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
import spacy
from spacy.training import Example

ROOT = Path(__file__).resolve().parents[2]
NAME, VERSION = "bioner_tiny", "0.0.1"
SENTENCE = "Mutations in BRCA1 cause breast cancer in humans ."
TRAIN = [
    ("Aspirin can cause asthma .", [(18, 24, "Disease")]),
    ("Patients with breast cancer were treated .", [(14, 27, "Disease")]),
    ("Mutations in BRCA1 cause breast cancer in humans .", [(25, 38, "Disease")]),
    ("No sign of diabetes was found .", [(11, 19, "Disease")]),
]
# Small layers, as in configs/tiny.cfg, so training takes seconds.
TINY_MODEL = {
    "@architectures": "spacy-bioner.BiLSTMCRF.v1",
    "char_embed_size": 8, "char_hidden_size": 8, "word_size": 16, "include_static_vectors": False,
    "word_min_count": 1, "hidden_size": 16, "depth": 1,
    "embed_dropout": 0.0, "input_dropout": 0.0, "output_dropout": 0.0, "recurrent_dropout": 0.0,
}

pytestmark = pytest.mark.slow


def _can_build_wheels() -> bool:
    # `spacy package --build wheel` needs `wheel` or `build`; without network
    # only `wheel` works (spaCy then runs setup.py bdist_wheel).
    return importlib.util.find_spec("wheel") is not None or importlib.util.find_spec("build") is not None


def _run(cmd, cwd=None):
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, capture_output=True, text=True)
    assert proc.returncode == 0, f"{' '.join(map(str, cmd))}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


def train_tiny_pipeline(path: Path) -> str:
    """Train the real component for a few steps, save it, and return the
    entities it predicts for SENTENCE (as JSON) to compare after install."""
    nlp = spacy.blank("en")
    nlp.add_pipe("bilstm_crf_ner", config={"model": TINY_MODEL})
    examples = []
    for text, ents in TRAIN:
        doc = nlp.make_doc(text)
        examples.append(Example.from_dict(doc, {"entities": ents}))
    optimizer = nlp.initialize(lambda: examples)
    for _ in range(5):
        nlp.update(examples, sgd=optimizer)
    nlp.to_disk(path)
    doc = nlp(SENTENCE)
    return json.dumps([(e.start_char, e.end_char, e.label_) for e in doc.ents])


def make_venv(path: Path) -> Path:
    """A fresh virtualenv that can import the current environment's packages
    (torch, spaCy: no re-download) but does not see its spacy-bioner, so
    that pip must install spacy-bioner from the wheel folder."""
    _run([sys.executable, "-m", "venv", path])
    python = path / "bin" / "python"
    site = Path(_run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).strip())
    # The parent's packages, less spacy-bioner (its editable install and
    # metadata, which would make pip skip the wheel as "already satisfied").
    parent = path.parent / "parent-site-packages"
    parent.mkdir()
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        if not entry.name.startswith(("spacy_bioner", "__editable__", "_parent_env")) and entry.suffix != ".pth":
            (parent / entry.name).symlink_to(entry)
    # A plain path line in a .pth file puts that folder on sys.path after the venv's own.
    (site / "_parent_env.pth").write_text(f"{parent}\n")
    # The venv's own old setuptools (from ensurepip) would shadow the parent's,
    # which torch requires, and --no-index cannot upgrade it.
    _run([python, "-m", "pip", "uninstall", "-y", "-q", "setuptools"])
    return python


@pytest.mark.skipif(not _can_build_wheels(), reason="spacy package --build wheel needs `wheel` (pip install wheel)")
def test_package_step_wheels_install_with_the_readme_command(tmp_path):
    """The project's `package` step (scripts/package.py) writes both wheels into
    one folder; the README's `pip install --find-links` command installs them
    into a fresh virtualenv, where `spacy.load` works and `nlp.meta` is the card."""
    model_dir = tmp_path / "model"
    expected = train_tiny_pipeline(model_dir)
    test_tsv = tmp_path / "test.tsv"
    test_tsv.write_text("Mutations\tO\nin\tO\nBRCA1\tO\ncause\tO\nbreast\tB-Disease\ncancer\tI-Disease\n.\tO\n")
    out = tmp_path / "packages"
    _run([sys.executable, ROOT / "scripts" / "package.py", model_dir, out, "--name", NAME, "--version", VERSION,
          "--train-corpus", "NCBI-disease", "--test", f"NCBI-disease={test_tsv}"], cwd=ROOT)
    wheels = sorted(p.name for p in (out / "wheels").glob("*.whl"))
    assert len(wheels) == 2 and wheels[0].startswith(f"en_{NAME}-{VERSION}-") and wheels[1].startswith("spacy_bioner-")
    with zipfile.ZipFile(out / "wheels" / wheels[0]) as zf:
        metadata = zf.read(f"en_{NAME}-{VERSION}.dist-info/METADATA").decode()
    assert "Requires-Dist: spacy-bioner" in metadata, metadata
    with zipfile.ZipFile(out / "wheels" / wheels[1]) as zf:
        packaged = {name for name in zf.namelist() if name.endswith(".py")}
    # Exactly the package's current sources: nothing stale from an old build/.
    assert packaged == {p.relative_to(ROOT).as_posix() for p in (ROOT / "spacy_bioner").rglob("*.py")}

    readme = (ROOT / "README.md").read_text()
    command = next(line for line in readme.splitlines() if "pip install --find-links" in line)
    words = shlex.split(command.strip().strip("`"))
    args = words[words.index("install") + 1:]
    assert args == ["--find-links", "packages/wheels", "en_bioner_ncbi_disease"], command
    python = make_venv(tmp_path / "venv")
    # The README's command with this test's folder and name; --no-index keeps
    # it offline (spaCy and torch come from the parent environment).
    _run([python, "-m", "pip", "install", "--no-index", "--find-links", out / "wheels", f"en_{NAME}"])
    script = (
        "import json, spacy, spacy_bioner\n"
        f"nlp = spacy.load('en_{NAME}')\n"
        f"doc = nlp({SENTENCE!r})\n"
        "print(spacy_bioner.__file__)\n"
        "print(json.dumps([(e.start_char, e.end_char, e.label_) for e in doc.ents]))\n"
        "print(json.dumps(nlp.meta))\n"
    )
    lines = _run([python, "-c", script], cwd=tmp_path).strip().splitlines()
    assert str(tmp_path / "venv") in lines[0], "spacy_bioner must come from the installed wheel"
    assert lines[1] == expected, "the installed package predicts what the trained pipeline predicted"
    meta = json.loads(lines[2])
    test = meta["performance"]["test"]["NCBI-disease"]
    assert test["match"] == "exact" and test["n_docs"] == 1 and 0.0 <= test["ents_f"] <= 1.0
    assert meta["sources"][0]["name"] == "NCBI-disease train" and meta["sources"][0]["url"].startswith("https://")
    assert "Disease" in meta["description"] and "NCBI-disease test (in-corpus, exact match)" in meta["description"]
