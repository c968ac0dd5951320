"""The one query pipeline: the question's time words -> retrieve (BM25 and dense, fused) -> answer-sentence
candidates -> rerank (optional) -> select. ``Assistant.ask`` runs it; ``qa eval`` composes the same stages for each
configuration it compares."""
from __future__ import annotations

import datetime as dt
import time

import numpy as np

from .answer import AnswerSelector
from .candidates import CandidateFinder, Candidates
from .config import MAX_K
from .rerank import Reranker
from .retrieve import DateRange, Retriever
from .temporal import TimeScoper, undated_note
from .types import Answer, Hit


ORDERED_K_FACTOR = 3  # "the latest ..." reads this many times the sources, and quotes the newest good answer


class QueryPipeline:
    def __init__(self, retriever: Retriever, finder: CandidateFinder, selector: AnswerSelector,
                 reranker: Reranker | None = None, combiner: str = "full"):
        self.retriever, self.finder, self.selector = retriever, finder, selector
        self.reranker, self.combiner = reranker, combiner
        self.scoper = TimeScoper(retriever)

    def candidates(self, question: str, query_vector: np.ndarray, *, k: int, mode: str | None = None,
                   fusion: str | None = None, dates: DateRange | None = None, exclude: set[str] | None = None,
                   rerank: bool = True, today: dt.date | None = None) -> tuple[list[Hit], Candidates]:
        """The stages up to the selector: the top ``k`` chunks and their sentences, within ``dates`` and the
        question's own time scope, scored by the reranker when it is there and ``rerank``; the candidates carry the
        scope's ordering and notes and each stage's time."""
        started = time.perf_counter()
        scope = self.scoper.resolve(question, today)
        if scope.dates is not None:
            dates = scope.dates.intersect(dates)
        if scope.order:  # the newest (oldest) answer may be far down a ranking that does not know time
            k = min(MAX_K, ORDERED_K_FACTOR * k)
        if scope.query:
            question, query_vector = scope.query, self.retriever.encoder.encode_query(scope.query)
        hits = self.retriever.search(question, k, mode=mode, fusion=fusion, dates=dates, query_vector=query_vector,
                                     exclude=exclude)
        retrieved = time.perf_counter()
        cands = self.finder.find(question, hits, query_vector, dates)
        cands.order = scope.order
        cands.notes = scope.notes + undated_note(self.retriever.undated_left_out(dates))
        if rerank and self.reranker is not None:
            self.reranker.score(cands)
        cands.timings_ms = {"retrieve": _ms(retrieved - started), "rerank": _ms(time.perf_counter() - retrieved)}
        return hits, cands

    def run(self, question: str, query_vector: np.ndarray, *, k: int, mode: str | None = None,
            fusion: str | None = None, dates: DateRange | None = None, fast: bool = False,
            today: dt.date | None = None) -> Answer:
        rerank = not fast and self.reranker is not None
        hits, cands = self.candidates(question, query_vector, k=k, mode=mode, fusion=fusion, dates=dates,
                                      rerank=rerank, today=today)
        started = time.perf_counter()
        answer = self.selector.select(cands, hits, self.reranker.combiners[self.combiner] if rerank else None)
        answer.question = question  # the candidates may have searched for less of it (see TimeScoper)
        answer.timings_ms = {**cands.timings_ms, "select": _ms(time.perf_counter() - started)}
        return answer


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)
