"""Hybrid retrieval: BM25 top-N and dense top-N over chunks, fused into one ranking of ``Hit``s."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import RetrievalSettings
from .embed import Encoder
from .index import Index
from .meta import report_days
from .text import tokenize
from .types import Hit

MODES = ("hybrid", "bm25", "dense")
FUSIONS = ("convex", "rrf")


@dataclass(frozen=True)
class DateRange:
    """Inclusive ISO days; None is open. An article is in range when the days it reports on (a stated day and the
    day before, see ``qa.meta.report_days``; an inferred year; a 'not before' bound) meet the range. An undated
    article is in a bounded range only with ``keep_undated``: a question's own time words cannot rule out what has no
    date (a collection without dates still answers "what happened in 1995?"), while a range the user sets does."""

    start: str | None = None
    end: str | None = None
    keep_undated: bool = False

    @property
    def bounded(self) -> bool:
        return self.start is not None or self.end is not None

    def overlaps(self, first: str | None, last: str | None) -> bool:
        """Whether the days ``first``..``last`` (None: open) meet the range."""
        return (self.start is None or last is None or last >= self.start) and \
            (self.end is None or first is None or first <= self.end)

    def admits(self, date: str | None) -> bool:
        if not self.bounded:
            return True
        return self.keep_undated if date is None else self.overlaps(*report_days(date))

    def intersect(self, other: "DateRange | None") -> "DateRange":
        if other is None:
            return self
        start = max((d for d in (self.start, other.start) if d), default=None)
        end = min((d for d in (self.end, other.end) if d), default=None)
        return DateRange(start, end, self.keep_undated and other.keep_undated)


def _top(scores: np.ndarray, n: int) -> np.ndarray:
    """Indices of the n highest scores, best first."""
    n = min(n, len(scores))
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    part = np.argpartition(-scores, n - 1)[:n]
    return part[np.argsort(-scores[part], kind="stable")]


def _lookup(matched_rows: np.ndarray, scores: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The scores of ``rows`` given those of the (ascending) matched rows; 0 for a row that holds no query term."""
    out = np.zeros(len(rows))
    at = np.searchsorted(matched_rows, rows)
    found = at < len(matched_rows)
    found[found] = matched_rows[at[found]] == rows[found]
    out[found] = scores[at[found]]
    return out


def _minmax(x: np.ndarray) -> np.ndarray:
    span = x.max() - x.min() if len(x) else 0.0
    return (x - x.min()) / span if span > 0 else np.ones_like(x)


class Retriever:
    def __init__(self, index: Index, encoder: Encoder, settings: RetrievalSettings):
        self.index = index
        self.encoder = encoder
        self.settings = settings

    def search(self, query: str, k: int = 10, *, mode: str | None = None, fusion: str | None = None,
               dates: DateRange | None = None, query_vector: np.ndarray | None = None,
               exclude: set[str] | None = None) -> list[Hit]:
        """The top ``k`` chunks, optionally only of articles ``dates`` admits and not of the articles in ``exclude``
        (ids; as if they were not in the index, BM25's statistics aside)."""
        mode = mode or self.settings.mode
        fusion = fusion or self.settings.fusion
        if mode not in MODES or fusion not in FUSIONS:
            raise ValueError(f"unknown retrieval mode {mode!r} or fusion {fusion!r}")
        n = max(k, self.settings.candidates)
        allowed = self._allowed(dates, exclude)

        bm25_rank, dense_rank = {}, {}
        matched = None  # BM25's (rows, scores) of the chunks holding a query term: all a query needs of BM25
        if mode in ("hybrid", "bm25"):
            matched = self.index.bm25.matches(tokenize(query))
            if allowed is not None:
                keep = allowed[matched[0]]
                matched = matched[0][keep], matched[1][keep]
            bm25_top = matched[0][_top(matched[1], n)]
            bm25_rank = {int(r): i + 1 for i, r in enumerate(bm25_top)}
        if mode in ("hybrid", "dense"):
            if query_vector is None:
                query_vector = self.encoder.encode_query(query)
            dense_top, _ = self.index.dense_search(query_vector, n, allowed)
            dense_rank = {int(r): i + 1 for i, r in enumerate(dense_top)}

        rows = np.array(sorted(set(bm25_rank) | set(dense_rank)), dtype=np.int64)
        if not len(rows):
            return []
        bm25 = None if matched is None else _lookup(*matched, rows)
        dense = None
        if mode != "bm25":
            dense = self.index.chunk_vectors(rows) @ query_vector.astype(np.float32)
        if mode == "bm25":
            fused = bm25
        elif mode == "dense":
            fused = dense
        elif fusion == "rrf":
            c = self.settings.rrf_k
            fused = np.array([(1 / (c + bm25_rank[r]) if r in bm25_rank else 0.0)
                              + (1 / (c + dense_rank[r]) if r in dense_rank else 0.0) for r in rows.tolist()])
        else:
            a = self.settings.alpha
            fused = a * _minmax(dense) + (1 - a) * _minmax(bm25)
        order = np.argsort(-fused, kind="stable")[:k]
        return [
            Hit(chunk=self.index.store.chunk(int(rows[i])), score=float(fused[i]),
                bm25_score=None if bm25 is None else float(bm25[i]),
                dense_score=None if dense is None else float(dense[i]),
                bm25_rank=bm25_rank.get(int(rows[i])), dense_rank=dense_rank.get(int(rows[i])))
            for i in order
        ]

    def undated_left_out(self, dates: DateRange | None) -> int:
        """How many articles a date range leaves out because their date is unknown."""
        if dates is None or not dates.bounded or dates.keep_undated:
            return 0
        store = self.index.store
        return sum(d is None for d, alive in zip(store.article_dates, store.alive_article) if alive)

    def admitted(self, dates: DateRange) -> np.ndarray:
        """Which articles a bounded date range admits (a mask over article rows, deleted ones included): those whose
        date may fall in it, and those with a sentence that states a date in it."""
        store = self.index.store
        first, last = store.article_report_days  # (DateRange.admits for every article at once)
        undated = last == ""
        ok_article = np.ones(len(last), dtype=bool)
        if dates.start:
            ok_article &= last >= dates.start
        if dates.end:
            ok_article &= first <= dates.end
        ok_article[undated] = dates.keep_undated
        # an article also reports what its sentences date: a 2025 report of a 2023 meeting is about 2023
        meets = np.ones(len(store.dated_sentence_article), dtype=bool)
        if dates.start:
            meets &= store.dated_sentence_end >= dates.start
        if dates.end:
            meets &= store.dated_sentence_start <= dates.end
        ok_article[store.dated_sentence_article[meets]] = True
        return ok_article

    def _allowed(self, dates: DateRange | None, exclude: set[str] | None) -> np.ndarray | None:
        """Which chunks may be returned; None when all may."""
        dated = dates is not None and dates.bounded
        if not dated and not exclude:
            return None  # deleted chunks are the index's to leave out
        store = self.index.store
        ok_article = self.admitted(dates) if dated else np.ones(len(store.article_dates), dtype=bool)
        for article_id in exclude or ():
            a = store.article_index(article_id)
            if a is not None:
                ok_article[a] = False
        return (ok_article & store.alive_article)[store.chunk_article]
