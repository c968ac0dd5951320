"""The reranker stage: a cross-encoder that reads (question, sentence) together and scores how well one answers the
other.

It is the bundled all-MiniLM-L6-v2 with a LoRA adapter and a linear head over the mean-pooled tokens (``qa.lora``),
stored in ``qa/models/reranker/`` with its model card.
The same file holds the combiners fitted with it (``qa.combine``). Training: ``eval/train_reranker.py``.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from .candidates import Candidates
from .combine import Combiner
from .lora import WEIGHTS, ModelFileError, load_module, read_config, tokenize_pairs

log = logging.getLogger(__name__)

DEFAULT_DIR = Path(__file__).resolve().parent / "models" / "reranker"
CONFIG = "reranker.json"
__all__ = ["CONFIG", "DEFAULT_DIR", "WEIGHTS", "Reranker", "RerankerError"]


class RerankerError(Exception):
    pass


class Reranker:
    """Scores the best candidates (by the fast score) with the cross-encoder: ``score(candidates)`` adds the
    ``cross`` feature, NaN for the candidates pruned away."""

    def __init__(self, folder: Path | str | None = None, *, candidates: int = 10):
        self.folder = Path(folder or DEFAULT_DIR)
        self.candidates = candidates
        try:
            self.config = read_config(self.folder, CONFIG)
            self.combiners = {name: Combiner.from_dict(c) for name, c in self.config["combiners"].items()}
            self.model, self.tokenizer = load_module(self.folder, self.config, "pooled")
        except ModelFileError as exc:
            raise RerankerError(f"reranker {exc}") from None
        except (ValueError, KeyError, TypeError) as exc:
            raise RerankerError(f"reranker configuration {self.folder / CONFIG} is unreadable: {exc}") from None

    def score_pairs(self, question: str, texts: list[str]) -> np.ndarray:
        """The cross-encoder's logit for each (question, text)."""
        import torch

        if not texts:
            return np.zeros(0)
        with torch.inference_mode():
            batch = tokenize_pairs(self.tokenizer, [question] * len(texts), texts, self.config["max_length"])
            return self.model(**batch).float().numpy().astype(np.float64)

    def score(self, cands: Candidates) -> None:
        """Adds the ``cross`` feature to the best candidates. List questions are left to the fast score: the
        cross-encoder learned single-sentence answers, and on the collection's list questions it gathered fewer of
        the parts (list recall 0.73 against 0.875)."""
        if cands.kind.is_list:
            return
        keep = np.argsort(-cands.fast, kind="stable")[:self.candidates]
        cross = np.full(len(cands), np.nan)
        cross[keep] = self.score_pairs(cands.question, [" ".join(cands.sentences[i].text.split()) for i in keep])
        cands.features["cross"] = cross
