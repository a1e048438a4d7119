"""The demo's last step: annotate a sample abstract and report test F1.

    python scripts/demo.py training/demo/model-best \
        --test assets/corpora/NCBI-disease/test.tsv
"""
from pathlib import Path
from typing import Any, Dict, List, Optional

import typer
from spacy.language import Language
from spacy.tokens import Doc, Span
from wasabi import msg

# Written for this demo (not from any corpus), so that it is not in a test split.
SAMPLE_ABSTRACT = (
    "Germline mutations in BRCA1 and BRCA2 predispose carriers to hereditary breast and ovarian cancer. "
    "We studied 212 families with early-onset breast cancer and found that patients with Lynch syndrome "
    "also had an increased risk of colorectal cancer and endometrial carcinoma. Two probands were "
    "diagnosed with Duchenne muscular dystrophy, and one with cystic fibrosis. In mice, loss of Apc "
    "caused intestinal adenomas, while Escherichia coli infection did not change tumour incidence."
)


def entity_confidence(span: Span) -> Optional[float]:
    """The confidence the component stored for an entity (the CRF's
    probability of exactly that span), or None for other pipelines."""
    from spacy_bioner.scores import get_score

    return get_score(span)


def describe_entities(doc: Doc) -> List[Dict[str, Any]]:
    """One dict per entity: text, label, confidence and character offsets."""
    return [
        {"text": ent.text, "label": ent.label_, "confidence": entity_confidence(ent),
         "start_char": ent.start_char, "end_char": ent.end_char}
        for ent in doc.ents
    ]


def main(
    model: Path = typer.Argument(..., help="Trained pipeline folder", exists=True),
    test: Optional[Path] = typer.Option(None, "--test", help="Gold .tsv to report exact-match F1 on"),
    text: Optional[str] = typer.Option(None, "--text", help="Text to annotate instead of the sample abstract"),
) -> None:
    """Annotate the sample abstract and print the test F1."""
    import spacy

    nlp: Language = spacy.load(model)
    doc = nlp(text or SAMPLE_ABSTRACT)
    msg.divider("Sample abstract")
    print(doc.text)
    rows = [(e["text"], e["label"], "n/a" if e["confidence"] is None else f"{e['confidence']:.3f}",
             e["start_char"], e["end_char"]) for e in describe_entities(doc)]
    msg.divider(f"{len(rows)} entities")
    if rows:
        msg.table(rows, header=("text", "label", "confidence", "start", "end"), divider=True)
    if test is not None:
        from spacy_bioner.evaluation.evaluate import evaluate_pipeline

        result = evaluate_pipeline(nlp, test, match="exact")
        msg.divider(f"Test set: {test}")
        msg.good(f"exact-match  P {100 * result.p:.2f}  R {100 * result.r:.2f}  F1 {100 * result.f:.2f}  ({result.n_docs} sentences)")


if __name__ == "__main__":
    typer.run(main)
