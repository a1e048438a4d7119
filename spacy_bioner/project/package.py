"""The project's `package` step: a model card for `spacy package` and one
folder holding every wheel a user needs.

A wheel built by `spacy package` requires `spacy-bioner` (the package that
provides its factory), which is on no index. So the step writes both wheels,
the model's and this project's, into one folder, and a user installs them
with `pip install --find-links FOLDER en_<name>`; everything else comes from
PyPI.

The model card is the package's `meta.json`: the trained pipeline's meta
plus its test scores per corpus (`performance["test"]`), its training data
sources (from project.yml's assets) and a description saying what it finds,
so that `nlp.meta` and `spacy info` show them.
"""
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence

import srsly

from ..evaluation.evaluate import EvalResult

# What setup.cfg needs besides the package itself to build the wheel.
PROJECT_FILES = ("setup.cfg", "pyproject.toml", "README.md", "LICENSE")


def corpus_sources(project_file: Path, corpus: str) -> List[Dict[str, str]]:
    """The training data sources of a corpus, from the assets in project.yml.

    project_file (Path): The project.yml.
    corpus (str): A corpus folder name, e.g. "NCBI-disease".
    RETURNS (List[Dict[str, str]]): One {"name", "url", "description"} per
        asset of the corpus's train and dev splits (what the model saw).
    """
    from weasel.util import load_project_config

    config = load_project_config(project_file.parent.resolve())
    sources = []
    for asset in config.get("assets", []):
        dest = Path(str(asset.get("dest", "")))
        if dest.parent.name == corpus and dest.stem in ("train", "dev"):
            sources.append({
                "name": f"{corpus} {dest.stem}",
                "url": str(asset.get("url") or ""),
                "description": " ".join(str(asset.get("description", "")).split()),
            })
    if not sources:
        raise ValueError(f"{project_file}: no train/dev assets for corpus {corpus!r}")
    return sources


def test_score_record(result: EvalResult, data: str) -> Dict[str, Any]:
    """The model card's record of one test evaluation.

    result (EvalResult): From `evaluate_pipeline`.
    data (str): The test file, as it should be named in the card.
    RETURNS (Dict[str, Any]): Headline match, micro P/R/F (fractions), per-type
        F, the number of sentences and the data file.
    """
    micro = result.primary.micro
    return {
        "match": result.match,
        "ents_p": round(micro.precision, 4),
        "ents_r": round(micro.recall, 4),
        "ents_f": round(micro.fscore, 4),
        "ents_per_type": {label: {"f": round(s.fscore, 4)} for label, s in result.primary.per_type.items()},
        "label_map": "default" if result.label_map is not None else None,
        "n_docs": result.n_docs,
        "data": data,
    }


def model_card(
    meta: Mapping[str, Any],
    *,
    name: str,
    version: str,
    train_corpus: str,
    sources: Sequence[Dict[str, str]],
    test_scores: Mapping[str, Dict[str, Any]],
) -> Dict[str, Any]:
    """The meta.json to package: the trained pipeline's meta plus a card.

    meta (Mapping[str, Any]): The trained pipeline's meta.json.
    name (str): Package name without the language prefix.
    version (str): Package version.
    train_corpus (str): The corpus the model was trained on.
    sources (Sequence[Dict[str, str]]): From `corpus_sources`.
    test_scores (Mapping[str, Dict[str, Any]]): Corpus → `test_score_record`.
    RETURNS (Dict[str, Any]): The new meta; the pipeline's dev scores stay
        in `performance`, the test scores go to `performance["test"]`.
    """
    card = dict(meta)
    labels = sorted({label for labels in meta.get("labels", {}).values() for label in labels})
    card.update(name=name, version=version, sources=list(sources))
    card["performance"] = {**meta.get("performance", {}), "test": dict(test_scores)}
    lines = []
    for corpus, record in test_scores.items():
        kind = "in-corpus" if corpus == train_corpus else "out-of-corpus"
        lines.append(f"{corpus} test ({kind}, {record['match']} match): F1 {100 * record['ents_f']:.2f}")
    card["description"] = (
        f"spacy-bioner BiLSTM-CRF (after Saber) trained on {train_corpus}; finds {', '.join(labels) or 'no'} "
        f"entities. Test scores: {'; '.join(lines) or 'none measured'}."
    )
    spacy_bioner_version = _spacy_bioner_version()
    requirements = [r for r in card.get("requirements", []) if not r.startswith("spacy-bioner")]
    card["requirements"] = requirements + [f"spacy-bioner=={spacy_bioner_version}"]
    return card


def _spacy_bioner_version() -> str:
    from ..about import __version__

    return __version__


def build_wheels(
    model: Path,
    output: Path,
    meta_path: Path,
    *,
    name: str,
    version: str,
    project_dir: Path,
    build_dir: Optional[Path] = None,
) -> List[Path]:
    """Build the model's wheel (`spacy package`) and this project's wheel
    (`pip wheel`) into one folder.

    model (Path): The trained pipeline folder.
    output (Path): The folder for both wheels (created).
    meta_path (Path): The model card, passed as `spacy package --meta-path`.
    name (str): Package name without the language prefix.
    version (str): Package version.
    project_dir (Path): The checkout of spacy-bioner whose wheel is built.
    build_dir (Optional[Path]): Where `spacy package` builds; default
        `output/../build`.
    RETURNS (List[Path]): The two wheels, model first.
    """
    output.mkdir(parents=True, exist_ok=True)
    build_dir = build_dir or output.parent / "build"
    build_dir.mkdir(parents=True, exist_ok=True)
    _run([sys.executable, "-m", "spacy", "package", str(model), str(build_dir), "--name", name,
          "--version", version, "--meta-path", str(meta_path), "--build", "wheel", "--force"])
    lang = srsly.read_json(meta_path)["lang"]
    model_wheels = sorted(build_dir.glob(f"{lang}_{name}-{version}/dist/{lang}_{name}-{version}-*.whl"))
    if not model_wheels:
        raise RuntimeError(f"spacy package wrote no wheel under {build_dir}")
    model_wheel = output / model_wheels[-1].name
    shutil.copy(model_wheels[-1], model_wheel)
    with tempfile.TemporaryDirectory() as tmp:
        # A clean copy of the sources: setuptools reuses a checkout's build/
        # folder, where files deleted since the last build would linger and
        # end up in the wheel.
        src = Path(tmp) / "src"
        shutil.copytree(project_dir / "spacy_bioner", src / "spacy_bioner",
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        for name in PROJECT_FILES:
            if (project_dir / name).exists():
                shutil.copy(project_dir / name, src / name)
        # Without build isolation: the dev environment has setuptools and
        # wheel, and the step then works offline.
        _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
              "-w", str(output), str(src)])
    project_wheels = sorted(output.glob("spacy_bioner-*.whl"))
    if not project_wheels:
        raise RuntimeError(f"pip wheel wrote no spacy_bioner wheel into {output}")
    return [model_wheel, project_wheels[-1]]


def _run(cmd: List[str]) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = (proc.stdout[-2000:] + proc.stderr[-2000:]).strip()
        raise RuntimeError(f"{' '.join(cmd[:4])} ... failed ({proc.returncode}):\n{tail}")
