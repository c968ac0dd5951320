"""The one query pipeline: retrieve (BM25 and dense, fused) -> answer-sentence candidates -> rerank (optional) ->
select. ``Assistant.ask`` runs it; ``qa eval`` composes the same stages for each configuration it compares."""
from __future__ import annotations

import time

import numpy as np

from .answer import AnswerSelector
from .candidates import CandidateFinder, Candidates
from .rerank import Reranker
from .retrieve import DateRange, Retriever
from .types import Answer, Hit


class QueryPipeline:
    def __init__(self, retriever: Retriever, finder: CandidateFinder, selector: AnswerSelector,
                 reranker: Reranker | None = None, combiner: str = "full"):
        self.retriever, self.finder, self.selector = retriever, finder, selector
        self.reranker, self.combiner = reranker, combiner

    def candidates(self, question: str, query_vector: np.ndarray, *, k: int, mode: str | None = None,
                   fusion: str | None = None, dates: DateRange | None = None, exclude: set[str] | None = None,
                   rerank: bool = True) -> tuple[list[Hit], Candidates]:
        """The stages up to the selector: the top ``k`` chunks and their sentences, scored by the reranker when it
        is there and ``rerank``; the candidates carry each stage's time."""
        started = time.perf_counter()
        hits = self.retriever.search(question, k, mode=mode, fusion=fusion, dates=dates, query_vector=query_vector,
                                     exclude=exclude)
        retrieved = time.perf_counter()
        cands = self.finder.find(question, hits, query_vector)
        if rerank and self.reranker is not None:
            self.reranker.score(cands)
        cands.timings_ms = {"retrieve": _ms(retrieved - started), "rerank": _ms(time.perf_counter() - retrieved)}
        return hits, cands

    def run(self, question: str, query_vector: np.ndarray, *, k: int, mode: str | None = None,
            fusion: str | None = None, dates: DateRange | None = None, fast: bool = False) -> Answer:
        rerank = not fast and self.reranker is not None
        hits, cands = self.candidates(question, query_vector, k=k, mode=mode, fusion=fusion, dates=dates,
                                      rerank=rerank)
        started = time.perf_counter()
        answer = self.selector.select(cands, hits, self.reranker.combiners[self.combiner] if rerank else None)
        answer.timings_ms = {**cands.timings_ms, "select": _ms(time.perf_counter() - started)}
        return answer


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)
