"""Articles, sentences and chunks in SQLite, so that a query reads only the rows it needs."""
from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np

from .dates import When, event_date
from .meta import DATE_SOURCES, day, report_days
from .types import Article, Chunk, Sentence

SCHEMA = """
CREATE TABLE articles (idx INTEGER PRIMARY KEY, id TEXT UNIQUE NOT NULL, file TEXT NOT NULL, title TEXT NOT NULL,
                       date TEXT, publisher TEXT, path TEXT NOT NULL, text TEXT NOT NULL, spans TEXT NOT NULL,
                       pages TEXT NOT NULL, date_source TEXT, date_note TEXT);
-- A sentence's event date where it states one ('on Monday' resolved against its article's day): the day range and
-- the words that say it.
CREATE TABLE sentences (idx INTEGER PRIMARY KEY, article INTEGER NOT NULL, start INTEGER NOT NULL, end INTEGER NOT NULL,
                        date_start TEXT, date_end TEXT, date_text TEXT);
CREATE TABLE chunks (idx INTEGER PRIMARY KEY, article INTEGER NOT NULL, first_sentence INTEGER NOT NULL,
                     last_sentence INTEGER NOT NULL);
"""


class StoreWriter:
    """Appends articles with their sentences and chunks; rows are numbered in the order they are added."""

    def __init__(self, path: Path):
        self.db = sqlite3.connect(path)
        self.db.execute("PRAGMA temp_store = FILE")  # a merge's renumbering tables can be large
        self.db.executescript(SCHEMA)
        self.n_articles = self.n_sentences = self.n_chunks = 0

    def add(self, article: Article, file: str, sentences: list[tuple[int, int]],
            windows: list[tuple[int, int]]) -> tuple[int, int]:
        """Adds one article; returns the index rows of its first sentence and first chunk."""
        a, s0, c0 = self.n_articles, self.n_sentences, self.n_chunks
        self.db.execute(
            "INSERT INTO articles VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (a, article.id, file, article.title, article.date, article.publisher, article.path, article.text,
             json.dumps(article.spans), json.dumps(article.pages), article.date_source, article.date_note),
        )
        base = day(article.date)
        rows = []
        for i, (s, e) in enumerate(sentences):
            when = event_date(article.text[s:e], base)
            rows.append((s0 + i, a, s, e) + ((when.start, when.end, when.text) if when else (None, None, None)))
        self.db.executemany("INSERT INTO sentences VALUES (?,?,?,?,?,?,?)", rows)
        self.db.executemany("INSERT INTO chunks VALUES (?,?,?,?)",
                            [(c0 + i, a, s0 + f, s0 + l) for i, (f, l) in enumerate(windows)])
        self.n_articles += 1
        self.n_sentences += len(sentences)
        self.n_chunks += len(windows)
        return s0, c0

    def append_segment(self, source: Path, dead: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """Copies the live articles of another segment's store (``dead``: its deleted article rows), renumbered after
        this one's rows, in bulk; returns the source's chunk and sentence rows that were copied, in order."""
        db, a0, s0, c0 = self.db, self.n_articles, self.n_sentences, self.n_chunks
        db.execute("ATTACH DATABASE ? AS src", (str(source),))  # only read: a segment's files are never written
        db.executescript("CREATE TEMP TABLE dead (idx INTEGER PRIMARY KEY);")
        db.executemany("INSERT INTO dead VALUES (?)", [(a,) for a in dead])
        db.execute("CREATE TEMP TABLE amap AS SELECT idx AS old, ? + ROW_NUMBER() OVER (ORDER BY idx) - 1 AS new "
                   "FROM src.articles WHERE idx NOT IN (SELECT idx FROM dead)", (a0,))
        db.execute("CREATE TEMP TABLE smap AS SELECT s.idx AS old, ? + ROW_NUMBER() OVER (ORDER BY s.idx) - 1 AS new, "
                   "m.new AS article FROM src.sentences s JOIN amap m ON s.article = m.old", (s0,))
        # An article's sentences stay contiguous, so its chunks' sentence bounds move by one shift per article.
        db.execute("CREATE TEMP TABLE shift AS SELECT article, MIN(new) - MIN(old) AS by FROM smap GROUP BY article")
        db.execute("INSERT INTO articles SELECT m.new, a.id, a.file, a.title, a.date, a.publisher, a.path, a.text, "
                   "a.spans, a.pages, a.date_source, a.date_note FROM src.articles a JOIN amap m ON a.idx = m.old "
                   "ORDER BY a.idx")
        db.execute("INSERT INTO sentences SELECT m.new, m.article, s.start, s.end, s.date_start, s.date_end, "
                   "s.date_text FROM src.sentences s JOIN smap m ON s.idx = m.old ORDER BY s.idx")
        chunks = np.array([r[0] for r in db.execute(
            "SELECT c.idx FROM src.chunks c JOIN amap m ON c.article = m.old ORDER BY c.idx")], dtype=np.int64)
        db.execute("INSERT INTO chunks SELECT ? + ROW_NUMBER() OVER (ORDER BY c.idx) - 1, m.new, "
                   "c.first_sentence + t.by, c.last_sentence + t.by FROM src.chunks c JOIN amap m ON c.article = m.old "
                   "JOIN shift t ON t.article = m.new ORDER BY c.idx", (c0,))
        sentences = np.array([r[0] for r in db.execute("SELECT old FROM smap ORDER BY old")], dtype=np.int64)
        self.n_articles += db.execute("SELECT COUNT(*) FROM amap").fetchone()[0]
        self.n_sentences += len(sentences)
        self.n_chunks += len(chunks)
        db.executescript("DROP TABLE dead; DROP TABLE amap; DROP TABLE smap; DROP TABLE shift;")
        db.commit()
        db.execute("DETACH DATABASE src")
        return chunks, sentences

    def close(self) -> None:
        # Indexes for the look-ups a query makes, created after the bulk insert (faster than maintaining them).
        self.db.executescript("""
            CREATE INDEX sentences_by_article ON sentences (article);
            CREATE INDEX chunks_by_article ON chunks (article);
            CREATE INDEX articles_by_file ON articles (file);
        """)
        self.db.commit()
        self.db.close()


@dataclass(frozen=True)
class Offsets:
    """Where a segment's rows start in the index's numbering: its first article, sentence and chunk row."""

    article: int = 0
    sentence: int = 0
    chunk: int = 0


class Store:
    """One segment's rows; every row number it takes or gives is the index's (its own plus ``offsets``)."""

    def __init__(self, path: Path, offsets: Offsets = Offsets()):
        # Read-only and shareable between the threads of a server.
        self.db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        self.offsets = o = offsets
        rows = self.db.execute("SELECT article FROM chunks ORDER BY idx").fetchall()
        self.chunk_article = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows)) + o.article
        self.article_dates: list[str | None] = [
            r[0] for r in self.db.execute("SELECT date FROM articles ORDER BY idx")]
        self.n_sentences = self.db.execute("SELECT COUNT(*) FROM sentences").fetchone()[0]
        # Whether any article states its date (an inferred one is a bound worked out from the text, which an
        # encyclopedia's paragraphs give too): only then do a question's time words scope and order the answers.
        stated = [s for s in DATE_SOURCES if s != "inferred"]
        self.dates_stated = self.db.execute(
            f"SELECT 1 FROM articles WHERE date_source IN ({','.join('?' * len(stated))}) LIMIT 1",
            stated).fetchone() is not None
        # The sentences that state their own date, as arrays (ISO days compare as strings): a date range admits an
        # article when its date or one of these meets the range.
        dated = self.db.execute("SELECT article, date_start, date_end FROM sentences WHERE date_start IS NOT NULL "
                                "ORDER BY idx").fetchall()
        self.dated_sentence_article = np.array([r[0] for r in dated], dtype=np.int64) + o.article
        self.dated_sentence_start = np.array([r[1] for r in dated], dtype="U10")
        self.dated_sentence_end = np.array([r[2] for r in dated], dtype="U10")
        self.article = lru_cache(maxsize=4096)(self._article)

    def _article(self, idx: int) -> Article:
        row = self.db.execute(
            "SELECT id, title, date, publisher, path, text, spans, pages, date_source, date_note FROM articles "
            "WHERE idx=?", (idx - self.offsets.article,)).fetchone()
        spans = [tuple(s) for s in json.loads(row[6])]
        return Article(*row[:6], spans=spans, pages=json.loads(row[7]), date_source=row[8], date_note=row[9])

    def article_index(self, article_id: str) -> int | None:
        row = self.db.execute("SELECT idx FROM articles WHERE id=?", (article_id,)).fetchone()
        return row[0] + self.offsets.article if row else None

    def articles_of_file(self, file: str) -> list[int]:
        return [r[0] + self.offsets.article
                for r in self.db.execute("SELECT idx FROM articles WHERE file=? ORDER BY idx", (file,))]

    def file_of(self, article_idx: int) -> str:
        return self.db.execute("SELECT file FROM articles WHERE idx=?",
                               (article_idx - self.offsets.article,)).fetchone()[0]

    def sentence_ranges(self, article_idx: int) -> tuple[int, list[tuple[int, int]]]:
        """First sentence row of an article and its sentence ranges."""
        rows = self.db.execute("SELECT idx, start, end FROM sentences WHERE article=? ORDER BY idx",
                               (article_idx - self.offsets.article,)).fetchall()
        return (rows[0][0] + self.offsets.sentence if rows else 0), [(s, e) for _, s, e in rows]

    def chunk_windows(self, article_idx: int) -> tuple[int, list[tuple[int, int]]]:
        """First chunk row of an article and its windows, relative to the article's first sentence."""
        local = article_idx - self.offsets.article
        rows = self.db.execute("SELECT idx, first_sentence, last_sentence FROM chunks WHERE article=? ORDER BY idx",
                               (local,)).fetchall()
        if not rows:
            return 0, []
        base = self.db.execute("SELECT MIN(idx) FROM sentences WHERE article=?", (local,)).fetchone()[0]
        return rows[0][0] + self.offsets.chunk, [(f - base, l - base) for _, f, l in rows]

    def sentences(self, first: int, last: int) -> list[Sentence]:
        o = self.offsets
        rows = self.db.execute("SELECT article, start, end, date_start, date_end, date_text FROM sentences "
                               "WHERE idx>=? AND idx<? ORDER BY idx", (first - o.sentence, last - o.sentence)).fetchall()
        out = []
        for a, s, e, date_start, date_end, date_text in rows:
            article = self.article(a + o.article)
            when = When(date_start, date_end, date_text) if date_start else None
            out.append(Sentence(article.id, s, e, article.text[s:e], when))
        return out

    def chunk(self, row: int) -> Chunk:
        o = self.offsets
        a, first, last = self.db.execute(
            "SELECT article, first_sentence, last_sentence FROM chunks WHERE idx=?", (row - o.chunk,)).fetchone()
        sentences = self.sentences(first + o.sentence, last + o.sentence)
        article = self.article(a + o.article)
        return Chunk(row, article.id, sentences[0].start, sentences[-1].end, first + o.sentence, last + o.sentence,
                     " ".join(" ".join(s.text.split()) for s in sentences))

    def close(self) -> None:
        self.db.close()


class SegmentedStore:
    """The stores of an index's segments as one, in the index's numbering; a deleted article (``dead``: index article
    rows) is in no list and no look-up, though its rows keep their numbers."""

    def __init__(self, stores: list[Store], dead: np.ndarray):
        self.stores = stores
        self.starts = {kind: np.array([getattr(s.offsets, kind) for s in stores], dtype=np.int64)
                       for kind in ("article", "sentence", "chunk")}
        self.article_dates = [d for s in stores for d in s.article_dates]
        self.alive_article = np.ones(len(self.article_dates), dtype=bool)
        self.alive_article[dead] = False
        self.chunk_article = _concat([s.chunk_article for s in stores], np.int64)
        self.alive_chunk = self.alive_article[self.chunk_article]
        self.dates_stated = any(s.dates_stated for s in stores)
        self.dated_sentence_article = _concat([s.dated_sentence_article for s in stores], np.int64)
        self.dated_sentence_start = _concat([s.dated_sentence_start for s in stores], "U10")
        self.dated_sentence_end = _concat([s.dated_sentence_end for s in stores], "U10")

    @cached_property
    def article_report_days(self) -> tuple[np.ndarray, np.ndarray]:
        """Per article, the first and last day it may report on (``qa.meta.report_days``) as ISO days, an open end as
        "" or "9999-99-99", so that a date range is checked against every article in numpy (undated: both "")."""
        bounds = [report_days(d) for d in self.article_dates]
        return (np.array([first or "" for first, _ in bounds], dtype="U10"),
                np.array([last or ("9999-99-99" if d else "") for (_, last), d in zip(bounds, self.article_dates)],
                         dtype="U10"))

    def _store(self, kind: str, row: int) -> Store:
        return self.stores[int(np.searchsorted(self.starts[kind], row, side="right")) - 1]

    def live_articles(self) -> np.ndarray:
        """Rows of the articles that are not deleted."""
        return np.flatnonzero(self.alive_article)

    def article(self, idx: int) -> Article:
        return self._store("article", idx).article(idx)

    def article_index(self, article_id: str) -> int | None:
        for store in reversed(self.stores):  # the newest version of an article is in the latest segment
            idx = store.article_index(article_id)
            if idx is not None and self.alive_article[idx]:
                return idx
        return None

    def articles_of_file(self, file: str) -> list[int]:
        return [a for s in self.stores for a in s.articles_of_file(file) if self.alive_article[a]]

    def file_of(self, article_idx: int) -> str:
        return self._store("article", article_idx).file_of(article_idx)

    def sentence_ranges(self, article_idx: int) -> tuple[int, list[tuple[int, int]]]:
        return self._store("article", article_idx).sentence_ranges(article_idx)

    def chunk_windows(self, article_idx: int) -> tuple[int, list[tuple[int, int]]]:
        return self._store("article", article_idx).chunk_windows(article_idx)

    def sentences(self, first: int, last: int) -> list[Sentence]:
        return self._store("sentence", first).sentences(first, last)  # a chunk's sentences are in one segment

    def chunk(self, row: int) -> Chunk:
        return self._store("chunk", row).chunk(row)

    def close(self) -> None:
        for store in self.stores:
            store.close()


def _concat(arrays: list[np.ndarray], dtype) -> np.ndarray:
    return np.concatenate(arrays) if arrays else np.zeros(0, dtype=dtype)
