"""The `spacy package` path: a trained pipeline packaged as a wheel installs
into a fresh virtualenv and loads there with `spacy.load`, without `--code`,
with every head, its scores and its weights.

Slow (builds two wheels and a virtualenv, about a minute); CI runs it.
"""
import importlib.util
import json
import shutil
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


# Run in the installed package's venv too: every span group with its scores,
# and a digest of the torch state_dict.
DESCRIBE = """
import hashlib, json
def describe(nlp, text):
    doc = nlp(text)
    groups = {k: [(s.start_char, s.end_char, s.label_) for s in g] + [round(x, 5) for x in g.attrs["scores"]]
              for k, g in sorted(doc.spans.items())}
    state = nlp.get_pipe("bilstm_crf_ner").model.layers[0].shims[0]._model.state_dict()
    digest = hashlib.sha256()
    for key in sorted(state):
        digest.update(key.encode()); digest.update(state[key].numpy().tobytes())
    return json.dumps([[(e.start_char, e.end_char, e.label_) for e in doc.ents], groups, digest.hexdigest()])
"""


def train_tiny_pipeline(path: Path) -> str:
    """Train the real component with two heads for a few steps, save it, and
    return what it predicts for SENTENCE and its weights' digest (as JSON),
    to compare after install."""
    nlp = spacy.blank("en")
    nlp.add_pipe("bilstm_crf_ner", config={"model": TINY_MODEL, "heads": ["a", "b"]})
    examples = []
    for head in ("a", "b"):
        for text, ents in TRAIN:
            doc = nlp.make_doc(text)
            eg = Example.from_dict(doc, {"entities": ents})
            eg.reference.user_data["spacy_bioner_head"] = head
            examples.append(eg)
    optimizer = nlp.initialize(lambda: examples)
    for _ in range(5):
        nlp.update(examples, sgd=optimizer)
    nlp.to_disk(path)
    scope: dict = {}
    exec(DESCRIBE, scope)
    return scope["describe"](nlp, SENTENCE)


def build_project_wheel(out: Path) -> Path:
    """`pip wheel --no-deps` of this repo, built from a copy of its sources so
    the working tree is not touched, without build isolation (offline)."""
    src = out / "src"
    shutil.copytree(ROOT / "spacy_bioner", src / "spacy_bioner",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in ("setup.cfg", "pyproject.toml", "README.md", "LICENSE"):
        if (ROOT / name).exists():
            shutil.copy(ROOT / name, src / name)
    if not (src / "README.md").exists():
        (src / "README.md").write_text("spacy-bioner\n")
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
          "-w", out / "wheels", src])
    return next((out / "wheels").glob("spacy_bioner-*.whl"))


def make_venv(path: Path) -> Path:
    """A fresh virtualenv that can import the current environment's packages
    (torch, spaCy: no re-download) but not its editable spacy-bioner."""
    _run([sys.executable, "-m", "venv", path])
    python = path / "bin" / "python"
    site = Path(_run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).strip())
    # A plain path line in a .pth file: its directory goes on sys.path after
    # the venv's own site-packages, and the .pth files inside it (the
    # editable install's finder) are not executed.
    (site / "_parent_env.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python


@pytest.mark.skipif(not _can_build_wheels(), reason="spacy package --build wheel needs `wheel` (pip install wheel)")
def test_spacy_package_installs_and_loads(tmp_path):
    model_dir = tmp_path / "model"
    expected = train_tiny_pipeline(model_dir)

    (tmp_path / "packages").mkdir()
    _run([sys.executable, "-m", "spacy", "package", model_dir, tmp_path / "packages",
          "--name", NAME, "--version", VERSION, "--build", "wheel", "--force"])
    model_wheel = next((tmp_path / "packages").rglob(f"en_{NAME}-{VERSION}-*.whl"))
    with zipfile.ZipFile(model_wheel) as zf:
        metadata = zf.read(f"en_{NAME}-{VERSION}.dist-info/METADATA").decode()
    # spaCy adds the package that provides the factory to the requirements.
    assert "Requires-Dist: spacy-bioner" in metadata, metadata

    project_wheel = build_project_wheel(tmp_path)
    python = make_venv(tmp_path / "venv")
    _run([python, "-m", "pip", "install", "--no-deps", "--no-index", project_wheel, model_wheel])
    script = DESCRIBE + (
        "import spacy, spacy_bioner\n"
        f"nlp = spacy.load('en_{NAME}')\n"
        "print(spacy_bioner.__file__)\n"
        "print(nlp.pipe_names)\n"
        f"print(describe(nlp, {SENTENCE!r}))\n"
    )
    out = _run([python, "-c", script], cwd=tmp_path).strip().splitlines()
    assert str(tmp_path / "venv") in out[0], "spacy_bioner must come from the installed wheel"
    assert out[1] == "['bilstm_crf_ner']"
    assert out[2] == expected, "the installed package predicts (every head, with scores) what the trained pipeline predicted, with the same weights"
    assert '"bilstm_crf_ner_b"' in expected
