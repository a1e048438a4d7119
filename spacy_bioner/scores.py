"""Per-entity confidence helpers; they live beside the component in
`spacy_bioner.pipeline.scores`. Kept here so that
`from spacy_bioner.scores import get_score` goes on working."""
from .pipeline.scores import ScoreKey, get_heads, get_score, get_scores, set_score

__all__ = ["ScoreKey", "get_heads", "get_score", "get_scores", "set_score"]
