"""The one library call under the CLI and the UI: ``Assistant(...).ask(question) -> Answer``."""
from __future__ import annotations

import logging
import threading
import time

from .answer import AnswerSelector
from .candidates import CandidateFinder
from .config import MAX_K, TIMELINE_K, Settings
from .embed import Encoder
from .build import build_index
from .commit import BuildReport
from .index import Index
from .pipeline import QueryPipeline
from .reader import ReaderError, SpanReader
from .rerank import Reranker, RerankerError
from .retrieve import DateRange, Retriever
from .temporal import Timeline, timeline
from .types import Answer

log = logging.getLogger(__name__)


class Assistant:
    """Opens the index (building it first when there is none) and answers questions from it."""

    def __init__(self, settings: Settings | None = None, *, build_if_missing: bool = True, progress: bool = True,
                 encoder: Encoder | None = None):
        self.settings = settings or Settings.from_env()
        self.encoder = encoder or Encoder.from_settings(self.settings)
        self._lock = threading.Lock()
        self.reranker, self.reader = self._load_reranker(), self._load_reader()
        if build_if_missing and not (self.settings.index_dir / "CURRENT").exists():
            log.info("no index in %s yet: building it from %s", self.settings.index_dir, self.settings.corpus_dir)
            for skipped in build_index(self.settings, encoder=self.encoder, progress=progress).skipped:
                log.warning("skipped %s", skipped)
        self._open()
        self.encoder.encode_query("warm up")  # load the model now, not on the first question

    def _load_reranker(self) -> Reranker | None:
        """The cross-encoder stage, unless switched off; a missing or damaged one is a warning, not a failure: the
        assistant then answers as with ``--fast``."""
        cfg = self.settings.reranker
        if not cfg.enabled:
            return None
        try:
            return Reranker(cfg.path, candidates=cfg.candidates)
        except RerankerError as exc:
            log.warning("%s; answering without the reranker (as --fast)", exc)
            return None

    def _load_reader(self) -> SpanReader | None:
        """The span reader, unless switched off; a missing or damaged one is a warning: spans are then marked by the
        typed rules, as with ``--fast``."""
        cfg = self.settings.reader
        if not cfg.enabled:
            return None
        try:
            return SpanReader(cfg.path)
        except ReaderError as exc:
            log.warning("%s; marking answer spans by rules (as --fast)", exc)
            return None

    def _open(self) -> None:
        self.index = Index.open(self.settings.index_dir, self.settings, self._shards())
        retriever = Retriever(self.index, self.encoder, self.settings.retrieval)
        self.pipeline = QueryPipeline(retriever, CandidateFinder(self.index, self.settings.selector),
                                      AnswerSelector(self.index, self.settings.selector), self.reranker,
                                      self.settings.reranker.combiner, self.reader)

    def _shards(self):
        """The factory of the Ray actors that search the index, when ``settings.ray`` asks for them."""
        if not self.settings.ray:
            return None
        from .shards import Shards

        address = None if self.settings.ray == "local" else self.settings.ray
        return lambda index: Shards(index, address, self.settings.ray_shards)

    def ask(self, question: str, *, k: int | None = None, mode: str | None = None,
            dates: DateRange | None = None, fast: bool = False, history: list[str] | None = None) -> Answer:
        """Answers from the top ``k`` chunks (default ``settings.retrieval.k``); ``fast`` skips the reranker;
        ``history``, the questions asked before in the conversation (oldest first), for follow-ups."""
        question = " ".join(question.split())
        if not question:
            raise ValueError("the question is empty")
        k = self.settings.retrieval.k if k is None else k
        if not 1 <= k <= MAX_K:
            raise ValueError(f"k (number of sources) must be between 1 and {MAX_K}, not {k}")
        started = time.perf_counter()
        with self._lock:  # the index may be swapped by update()
            query_vector = self.encoder.encode_query(question)
            encoded = time.perf_counter()
            answer = self.pipeline.run(question, query_vector, k=k, mode=mode, dates=dates, fast=fast,
                                       history=[q for q in (history or []) if q and q.strip()])
        answer.timings_ms = {"encode": round((encoded - started) * 1000, 2), **answer.timings_ms,
                             "total": round((time.perf_counter() - started) * 1000, 2)}
        return answer

    def timeline(self, topic: str, *, k: int = TIMELINE_K, dates: DateRange | None = None) -> Timeline:
        """The dated events of the collection about ``topic``, oldest first (see ``qa.temporal.timeline``)."""
        topic = " ".join(topic.split())
        if not topic:
            raise ValueError("the topic is empty")
        if not 1 <= k <= MAX_K:
            raise ValueError(f"k (number of passages) must be between 1 and {MAX_K}, not {k}")
        with self._lock:
            return timeline(self.pipeline.retriever, topic, self.encoder.encode_query(topic), k=k, dates=dates)

    def update(self, *, rebuild: bool = False) -> BuildReport:
        """Brings the index up to date with the corpus folder (only new or changed files are embedded)."""
        report = build_index(self.settings, rebuild=rebuild, encoder=self.encoder, progress=False)
        if not report.up_to_date:
            with self._lock:
                self.index.close()
                self._open()
        return report
