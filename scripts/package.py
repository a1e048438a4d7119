"""The project's `package` step: evaluate the model on its test splits, write
its model card, and build the model's and spacy-bioner's wheels into one folder.

    python scripts/package.py training/demo/model-best packages \
        --name bioner_ncbi_disease --version 0.1.0 --train-corpus NCBI-disease \
        --test NCBI-disease=assets/corpora/NCBI-disease/test.tsv \
        --test-other BC5CDR-disease=assets/corpora/BC5CDR-disease/test.tsv

Writes `packages/meta.json` and `packages/wheels/` (both wheels); install with
`pip install --find-links packages/wheels en_<name>`.
"""
from pathlib import Path
from typing import Dict, List

import srsly
import typer
from wasabi import msg

ROOT = Path(__file__).resolve().parents[1]


def _pairs(values: List[str], option: str) -> Dict[str, Path]:
    pairs = {}
    for value in values:
        name, sep, path = value.partition("=")
        if not sep or not name or not path:
            msg.fail(f"{option} {value!r}: expected CORPUS=PATH", exits=1)
        if not Path(path).is_file():
            msg.fail(f"{option} {value!r}: no such file {path}", exits=1)
        pairs[name] = Path(path)
    return pairs


def main(
    model: Path = typer.Argument(..., help="Trained pipeline folder", exists=True, file_okay=False),
    output: Path = typer.Argument(..., help="Folder for meta.json, build/ and wheels/"),
    name: str = typer.Option(..., "--name", help="Package name without the language prefix"),
    version: str = typer.Option(..., "--version", help="Package version"),
    train_corpus: str = typer.Option(..., "--train-corpus", help="Corpus the model was trained on (its sources go in the card)"),
    test: List[str] = typer.Option([], "--test", help="CORPUS=PATH: in-corpus test split, exact match (repeatable)"),
    test_other: List[str] = typer.Option([], "--test-other", help="CORPUS=PATH: out-of-corpus test split, right-boundary match with the default label map (repeatable)"),
    project: Path = typer.Option(ROOT / "project.yml", "--project", help="project.yml with the corpus assets", exists=True, dir_okay=False),
) -> None:
    """Package a trained model with its model card, beside spacy-bioner's wheel."""
    import spacy

    from spacy_bioner.corpora.labels import load_label_map
    from spacy_bioner.evaluation.evaluate import evaluate_pipeline
    from spacy_bioner.project.package import build_wheels, corpus_sources, model_card, test_score_record

    in_corpus, other = _pairs(test, "--test"), _pairs(test_other, "--test-other")
    try:
        sources = corpus_sources(project, train_corpus)
    except ValueError as err:
        msg.fail(str(err), exits=1)
    nlp = spacy.load(model)
    scores = {}
    for corpus, path in [*in_corpus.items(), *other.items()]:
        match, label_map = ("exact", None) if corpus in in_corpus else ("right", load_label_map("default"))
        msg.text(f"Evaluating on {corpus} ({path}, {match} match)...")
        result = evaluate_pipeline(nlp, path, match=match, label_map=label_map)
        scores[corpus] = test_score_record(result, str(path))
        msg.good(f"{corpus}: F1 {100 * result.f:.2f} ({result.n_docs} sentences)")
    meta = model_card(srsly.read_json(model / "meta.json"), name=name, version=version,
                      train_corpus=train_corpus, sources=sources, test_scores=scores)
    meta_path = output / "meta.json"
    output.mkdir(parents=True, exist_ok=True)
    srsly.write_json(meta_path, meta)
    msg.text(f"Building the wheels into {output / 'wheels'}...")
    try:
        wheels = build_wheels(model, output / "wheels", meta_path, name=name, version=version,
                              project_dir=ROOT, build_dir=output / "build")
    except RuntimeError as err:
        msg.fail(str(err).splitlines()[0], str(err), exits=1)
    for wheel in wheels:
        msg.good(f"Wrote {wheel}")
    msg.info(f"Install with: pip install --find-links {output / 'wheels'} {meta['lang']}_{name}")


if __name__ == "__main__":
    typer.run(main)
