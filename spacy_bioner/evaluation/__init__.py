"""Entity-level evaluation: exact, left- and right-boundary matching
(matching.py), the registered `spacy-bioner.boundary_scorer.v1` (scorer.py),
pipeline evaluation (evaluate.py), the in-/out-of-corpus matrix
(cross_corpus.py), t-tests and k-fold splits (stats.py) and error reports
(report.py). matplotlib and scipy are imported only where they are used."""
from .cross_corpus import CrossCorpusResult, cross_corpus
from .evaluate import EvalResult, evaluate_pipeline, load_examples
from .matching import CRITERIA, EntityScores, Mention, match_mentions, score_examples
from .report import write_report
from .scorer import make_boundary_scorer
from .stats import Comparison, compare, kfold_splits

__all__ = [
    "CRITERIA",
    "Comparison",
    "CrossCorpusResult",
    "EntityScores",
    "EvalResult",
    "Mention",
    "compare",
    "cross_corpus",
    "evaluate_pipeline",
    "kfold_splits",
    "load_examples",
    "make_boundary_scorer",
    "match_mentions",
    "score_examples",
    "write_report",
]
