"""Learned combination of a candidate's features into the probability that it holds the answer.

A logistic regression over standardised features (the cross-encoder's score and the candidate features), fitted on
questions the cross-encoder was not trained on, so its output is a calibrated probability. With it come the decisions
made on that probability, chosen on the same tune questions: the abstention threshold and the share of the best
probability a further sentence needs to be quoted.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .candidates import Candidates


def feature_matrix(cands: Candidates, names: list[str]) -> np.ndarray:
    """One row per candidate, one column per feature; counts (position, length) on a log scale."""
    columns = []
    for name in names:
        x = np.asarray(cands.features[name], dtype=np.float64)
        columns.append(np.log1p(x) if name in ("position", "length") else x)
    return np.column_stack(columns) if columns else np.zeros((len(cands), 0))


@dataclass
class Combiner:
    features: list[str]
    mean: list[float]
    scale: list[float]
    weights: list[float]
    bias: float
    abstain_below: float = 0.5  # best probability under which the assistant says it does not know
    keep_share: float = 0.5  # a further sentence is quoted when its probability is at least this share of the best
    list_keep_share: float = 0.3

    @classmethod
    def from_dict(cls, d: dict) -> "Combiner":
        combiner = cls(**d)
        if not len(combiner.features) == len(combiner.mean) == len(combiner.scale) == len(combiner.weights):
            raise ValueError("combiner: features, mean, scale and weights differ in length")
        return combiner

    def to_dict(self) -> dict:
        return asdict(self)

    def probability(self, cands: Candidates) -> np.ndarray:
        """P(answer) per candidate; 0 where a feature is missing (a candidate pruned before the cross-encoder)."""
        x = (feature_matrix(cands, self.features) - np.asarray(self.mean)) / np.asarray(self.scale)
        p = 1.0 / (1.0 + np.exp(-(x @ np.asarray(self.weights) + self.bias)))
        return np.where(np.isnan(p), 0.0, p)
