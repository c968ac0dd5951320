"""The one library call under the CLI and the UI: ``Assistant(...).ask(question) -> Answer``."""
from __future__ import annotations

import logging
import threading
import time

from .answer import AnswerSelector
from .config import Settings
from .embed import Encoder
from .index import BuildReport, Index, build_index
from .retrieve import DateRange, Retriever
from .types import Answer

log = logging.getLogger(__name__)


class Assistant:
    """Opens the index (building it first when there is none) and answers questions from it."""

    def __init__(self, settings: Settings | None = None, *, build_if_missing: bool = True, progress: bool = True,
                 encoder: Encoder | None = None):
        self.settings = settings or Settings.from_env()
        self.encoder = encoder or Encoder.from_settings(self.settings)
        self._lock = threading.Lock()
        if build_if_missing and not (self.settings.index_dir / "CURRENT").exists():
            log.info("no index in %s yet: building it from %s", self.settings.index_dir, self.settings.corpus_dir)
            for skipped in build_index(self.settings, encoder=self.encoder, progress=progress).skipped:
                log.warning("skipped %s", skipped)
        self._open()
        self.encoder.encode_query("warm up")  # load the model now, not on the first question

    def _open(self) -> None:
        self.index = Index.open(self.settings.index_dir, self.settings)
        self.retriever = Retriever(self.index, self.encoder, self.settings.retrieval, self.settings.dense)
        self.selector = AnswerSelector(self.index, self.settings.selector)

    def ask(self, question: str, *, k: int | None = None, mode: str | None = None,
            dates: DateRange | None = None) -> Answer:
        question = " ".join(question.split())
        if not question:
            raise ValueError("the question is empty")
        started = time.perf_counter()
        with self._lock:  # the index may be swapped by update()
            query_vector = self.encoder.encode_query(question)
            n = max(k or self.settings.selector.chunks, 1)
            hits = self.retriever.search(question, n, mode=mode, dates=dates, query_vector=query_vector)
            retrieved = time.perf_counter()
            answer = self.selector.select(question, hits, query_vector)
        done = time.perf_counter()
        answer.timings_ms = {"retrieve": round((retrieved - started) * 1000, 2),
                             "select": round((done - retrieved) * 1000, 2),
                             "total": round((done - started) * 1000, 2)}
        return answer

    def update(self, *, rebuild: bool = False) -> BuildReport:
        """Brings the index up to date with the corpus folder (only new or changed files are embedded)."""
        report = build_index(self.settings, rebuild=rebuild, encoder=self.encoder, progress=False)
        if not report.up_to_date:
            with self._lock:
                self.index.close()
                self._open()
        return report
