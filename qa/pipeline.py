"""The one query pipeline: the question's time words -> retrieve (BM25 and dense, fused) -> answer-sentence
candidates -> rerank (optional) -> select (the span read by the span reader, unless fast). ``Assistant.ask`` runs it;
``qa eval`` composes the same stages for each configuration it compares."""
from __future__ import annotations

import datetime as dt
import time

import numpy as np

from .answer import AnswerSelector
from .candidates import CandidateFinder, Candidates
from .config import MAX_K
from .conversation import Turn, answer_names, answer_span, leans_on_previous, understand
from .reader import SpanReader
from .rerank import Reranker
from .retrieve import DateRange, Retriever
from .temporal import TimeScoper, undated_note
from .types import Answer, Hit


ORDERED_K_FACTOR = 3  # "the latest ..." reads this many times the sources, and quotes the newest good answer
MAX_HISTORY = 3  # previous questions a follow-up may lean on


class QueryPipeline:
    def __init__(self, retriever: Retriever, finder: CandidateFinder, selector: AnswerSelector,
                 reranker: Reranker | None = None, combiner: str = "full", reader: SpanReader | None = None):
        self.retriever, self.finder, self.selector = retriever, finder, selector
        self.reranker, self.combiner, self.reader = reranker, combiner, reader
        self.scoper = TimeScoper(retriever)

    def candidates(self, question: str, query_vector: np.ndarray, *, k: int, mode: str | None = None,
                   fusion: str | None = None, dates: DateRange | None = None, exclude: set[str] | None = None,
                   rerank: bool = True, today: dt.date | None = None, history: list[str] | None = None,
                   read_history: bool = True) -> tuple[list[Hit], Candidates]:
        """The stages up to the selector: the top ``k`` chunks and their sentences, within ``dates`` and the
        question's own time scope, scored by the reranker when it is there and ``rerank``; the candidates carry the
        scope's ordering and notes and each stage's time. With ``history`` (the questions asked before, oldest
        first), a follow-up is first made to stand alone (see qa.conversation); ``read_history`` says whether they
        were answered with the span reader (not with ``--fast``)."""
        started = time.perf_counter()
        follow, sentence_vector = None, None
        if history and leans_on_previous(question):  # one that stands alone needs no replay of the conversation
            encode = self.retriever.encoder.encode_query
            turns = self._conversation(history, read_history, k=k, mode=mode, fusion=fusion, dates=dates,
                                       today=today)
            follow = understand(question, turns, encode, self.finder.mentions)
            if follow.leans:
                own_vector = query_vector  # the follow-up's own words, as asked
                question, query_vector = follow.understood, encode(follow.understood)
                if follow.asked:  # sentences are compared with what is newly asked as much as with whom it is about
                    sentence_vector = _unit(own_vector + query_vector)
        scope = self.scoper.resolve(question, today)
        if scope.dates is not None:
            dates = scope.dates.intersect(dates)
        if scope.order:  # the newest (oldest) answer may be far down a ranking that does not know time
            k = min(MAX_K, ORDERED_K_FACTOR * k)
        if scope.query:
            question, query_vector = scope.query, self.retriever.encoder.encode_query(scope.query)
        # the articles searched are also those that can report what the question names; its sentences' own dates
        # are not held to that (a report of the thing may look back on what led to it)
        searched = dates if scope.reported is None else scope.reported.intersect(dates)
        hits = self.retriever.search(question, k, mode=mode, fusion=fusion, dates=searched, query_vector=query_vector,
                                     exclude=exclude)
        retrieved = time.perf_counter()
        cands = self.finder.find(question, hits, query_vector if sentence_vector is None else sentence_vector, dates)
        cands.order = scope.order
        cands.notes = scope.notes + undated_note(self.retriever.undated_left_out(dates))
        if follow is not None and follow.leans:
            cands.understood = follow.understood
            if follow.else_of is not None:  # not what was quoted before, unless nothing else answers at all
                cands.drop(turns[follow.else_of].quoted, floor=self.selector.settings.abstain_below,
                           unless=follow.else_new)
            elif follow.asked and turns[-1].lead is not None:
                cands.drop_answered(turns[-1].lead, follow.asked, floor=self.selector.settings.abstain_below,
                                    answered=turns[-1].lead_span)
            elif follow.others and turns[-1].lead is not None:
                cands.drop_answered(turns[-1].lead, follow.others, floor=self.selector.settings.abstain_below,
                                    typed_keeps=False)
        if rerank and self.reranker is not None:
            self.reranker.score(cands)
        cands.timings_ms = {"retrieve": _ms(retrieved - started), "rerank": _ms(time.perf_counter() - retrieved)}
        return hits, cands

    def run(self, question: str, query_vector: np.ndarray, *, k: int, mode: str | None = None,
            fusion: str | None = None, dates: DateRange | None = None, fast: bool = False,
            today: dt.date | None = None, history: list[str] | None = None) -> Answer:
        rerank = not fast and self.reranker is not None
        hits, cands = self.candidates(question, query_vector, k=k, mode=mode, fusion=fusion, dates=dates,
                                      rerank=rerank, today=today, history=history, read_history=not fast)
        started = time.perf_counter()
        answer = self.selector.select(cands, hits, self.reranker.combiners[self.combiner] if rerank else None,
                                      None if fast else self.reader)
        answer.question = question  # the candidates may have searched for another wording of it
        answer.timings_ms = {**cands.timings_ms, "select": _ms(time.perf_counter() - started)}
        return answer

    def _conversation(self, history: list[str], read: bool, **options) -> list[Turn]:
        """The previous questions, each made to stand alone and answered again, for what a follow-up leans on: their
        words and what they quoted. Only the last few count. Each is answered as the user was shown it (the span
        reader's pick, with ``read``), but without the reranker, whose cost a replay of three turns would triple."""
        turns: list[Turn] = []
        for asked in history[-MAX_HISTORY:]:
            follow = understand(asked, turns, self.retriever.encoder.encode_query, self.finder.mentions)
            vector = self.retriever.encoder.encode_query(follow.understood)
            hits, cands = self.candidates(follow.understood, vector, rerank=False, **options)
            answer = self.selector.select(cands, hits, None, self.reader if read else None)
            quoted = {(s.article_id, s.start) for s in answer.sentences} if not answer.abstained else set()
            lead = answer.sentences[0] if quoted else None
            day = lead.date if lead and lead.date and len(lead.date) == 10 else None
            turns.append(Turn(asked, follow.understood, quoted, day, answer_names(answer, follow.understood),
                              (lead.article_id, lead.start) if lead else None, answer_span(answer, follow.understood)))
        return turns


def _unit(vector: np.ndarray) -> np.ndarray:
    return vector / max(float(np.linalg.norm(vector)), 1e-12)


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)
