"""k-fold cross-validation, as the papers report in-corpus figures (5 folds).

The sentences of a corpus's train and dev files are pooled and dealt into k
folds (whole `-DOCSTART-` documents stay together where the corpus marks
them). Fold i is the test set, fold i+1 (mod k) the dev set for early
stopping, the other k-2 folds the training set. Each fold is written as an
ordinary corpus folder `<corpus>-fold<i>/{train,dev,test}.tsv`, so that the
grid trains and scores folds exactly as it does corpora, with the same
resumable steps and metrics files (`results/cv/<variant>/<corpus>-fold<i>/seed<k>.json`).
The official test split is never part of any fold.
"""
from dataclasses import replace
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

from ..corpora.conll import DOCSTART, Sentence, parse_conll
from ..corpora.util import atomic_path
from ..evaluation.stats import kfold_splits
from .grid import GridSettings, Step, write_json_atomic

FOLDS_META = "folds.json"
# Where the fold corpora go, relative to the project folder.
FOLDS_DIR = Path("corpus") / "cv"


Document = List[Sentence]


def read_documents(path: Path) -> Tuple[List[Document], bool]:
    """The documents of a CoNLL/TSV file, read with the corpus parser (so a
    bad line fails naming file and line), and whether it marks documents.

    path (Path): The file.
    RETURNS (Tuple[List[Document], bool]): Documents of sentences of rows; a
        file without `-DOCSTART-` lines gives one document per sentence.
    """
    docs, has_docstart = parse_conll(path)
    if not has_docstart:
        docs = [[sentence] for doc in docs for sentence in doc]
    return docs, has_docstart


def _write(path: Path, docs: Sequence[Document], docstart: bool) -> None:
    parts = []
    for doc in docs:
        if docstart:
            parts.append(f"{DOCSTART}\tO\n")
        parts.extend("".join(f"{token}\t{tag}\n" for token, tag, _ in sentence) for sentence in doc)
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(parts), encoding="utf8")


def write_folds(corpus_dir: Path, output_dir: Path, k: int = 5, seed: int = 0) -> List[str]:
    """Write the k fold corpora of one corpus.

    corpus_dir (Path): Folder with train.tsv and dev.tsv.
    output_dir (Path): Where `<corpus>-fold<i>/` folders are written.
    k (int): Number of folds (at least 3: one test, one dev, the rest train).
    seed (int): Seed of the fold assignment.
    RETURNS (List[str]): The fold corpus names, in fold order.
    """
    if k < 3:
        raise ValueError(f"Cross-validation needs k >= 3 (test, dev and train folds), got {k}.")
    docs: List[Document] = []
    docstart = False
    for split in ("train", "dev"):
        path = corpus_dir / f"{split}.tsv"
        if not path.exists():
            raise FileNotFoundError(f"{path} not found: cross-validation pools train and dev.")
        split_docs, split_docstart = read_documents(path)
        docs.extend(split_docs)
        docstart = docstart or split_docstart
    folds = [test for _, test in kfold_splits(len(docs), k=k, seed=seed)]
    names = []
    for i in range(k):
        name = f"{corpus_dir.name}-fold{i}"
        folder = output_dir / name
        folder.mkdir(parents=True, exist_ok=True)
        dev_fold = (i + 1) % k
        train = [docs[j] for f in range(k) if f not in (i, dev_fold) for j in folds[f]]
        _write(folder / "train.tsv", train, docstart)
        _write(folder / "dev.tsv", [docs[j] for j in folds[dev_fold]], docstart)
        _write(folder / "test.tsv", [docs[j] for j in folds[i]], docstart)
        names.append(name)
    write_json_atomic(output_dir / f"{corpus_dir.name}-{FOLDS_META}", {
        "corpus": corpus_dir.name, "k": k, "seed": seed, "documents": len(docs),
        "fold_sizes": [len(f) for f in folds],
        "scheme": "fold i = test, fold i+1 (mod k) = dev, the rest = train; train+dev pooled",
    })
    return names


def cv_settings(settings: GridSettings, folds_dir: Path, corpus: str, names: Sequence[str]) -> GridSettings:
    """Grid settings that treat each fold as a corpus of its own group, so
    that no fold is scored out-of-corpus against another."""
    return replace(
        settings,
        corpora_dir=folds_dir,
        training_dir=settings.training_dir / "cv",
        results_dir=settings.results_dir / "cv",
        groups={name: [name] for name in names},
    )


def prepare_cv(settings: GridSettings, corpus: str, k: int = 5, seed: int = 0) -> Tuple[GridSettings, List[str]]:
    """Write the fold corpora of a project corpus under FOLDS_DIR and return
    the grid settings that run them.

    settings (GridSettings): The project's grid settings.
    corpus (str): A corpus folder under `settings.corpora_dir`.
    k (int): Number of folds.
    seed (int): Seed of the fold assignment.
    RETURNS (Tuple[GridSettings, List[str]]): Settings for `run_grid` and the fold names.
    """
    corpus_dir = settings.path(settings.corpora_dir) / corpus
    if not corpus_dir.is_dir():
        raise FileNotFoundError(f"{corpus_dir}: no such corpus folder (run `spacy project run assets-local`)")
    names = write_folds(corpus_dir, settings.path(FOLDS_DIR), k=k, seed=seed)
    return cv_settings(settings, FOLDS_DIR, corpus, names), names


def cv_steps(variant: str, names: Sequence[str], seeds: Sequence[int]) -> List[Step]:
    """One grid step per (fold, seed)."""
    return [Step(variant, name, seed, name) for seed in seeds for name in names]


def summarize(settings: GridSettings, variant: str, names: Sequence[str], seeds: Sequence[int]) -> Dict[str, object]:
    """Mean and standard deviation of in-corpus F1 over the finished folds."""
    import json
    import statistics

    values = []
    for step in cv_steps(variant, names, seeds):
        path = settings.path(settings.metrics_path(step))
        if path.exists():
            values.append(json.loads(path.read_text(encoding="utf8"))["in_corpus"]["f1"])
    return {
        "variant": variant,
        "runs": len(values),
        "expected": len(names) * len(seeds),
        "mean_f1": statistics.mean(values) if values else None,
        "sd_f1": statistics.stdev(values) if len(values) > 1 else None,
    }
