"""Articles, sentences and chunks in SQLite, so that a query reads only the rows it needs."""
from __future__ import annotations

import json
import sqlite3
from functools import lru_cache
from pathlib import Path

import numpy as np

from .dates import When, event_date
from .meta import DATE_SOURCES, day
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

    def close(self) -> None:
        # Indexes for the look-ups a query makes, created after the bulk insert (faster than maintaining them).
        self.db.executescript("""
            CREATE INDEX sentences_by_article ON sentences (article);
            CREATE INDEX chunks_by_article ON chunks (article);
            CREATE INDEX articles_by_file ON articles (file);
        """)
        self.db.commit()
        self.db.close()


class Store:
    def __init__(self, path: Path):
        # Read-only and shareable between the threads of a server.
        self.db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        rows = self.db.execute("SELECT article FROM chunks ORDER BY idx").fetchall()
        self.chunk_article = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        self.article_dates: list[str | None] = [
            r[0] for r in self.db.execute("SELECT date FROM articles ORDER BY idx")]
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
        self.dated_sentence_article = np.array([r[0] for r in dated], dtype=np.int64)
        self.dated_sentence_start = np.array([r[1] for r in dated], dtype="U10")
        self.dated_sentence_end = np.array([r[2] for r in dated], dtype="U10")
        self.article = lru_cache(maxsize=4096)(self._article)

    def _article(self, idx: int) -> Article:
        row = self.db.execute(
            "SELECT id, title, date, publisher, path, text, spans, pages, date_source, date_note FROM articles "
            "WHERE idx=?", (idx,)).fetchone()
        spans = [tuple(s) for s in json.loads(row[6])]
        return Article(*row[:6], spans=spans, pages=json.loads(row[7]), date_source=row[8], date_note=row[9])

    def article_index(self, article_id: str) -> int | None:
        row = self.db.execute("SELECT idx FROM articles WHERE id=?", (article_id,)).fetchone()
        return row[0] if row else None

    def articles_of_file(self, file: str) -> list[int]:
        return [r[0] for r in self.db.execute("SELECT idx FROM articles WHERE file=? ORDER BY idx", (file,))]

    def sentence_ranges(self, article_idx: int) -> tuple[int, list[tuple[int, int]]]:
        """First sentence row of an article and its sentence ranges."""
        rows = self.db.execute("SELECT idx, start, end FROM sentences WHERE article=? ORDER BY idx",
                               (article_idx,)).fetchall()
        return (rows[0][0] if rows else 0), [(s, e) for _, s, e in rows]

    def chunk_windows(self, article_idx: int) -> tuple[int, list[tuple[int, int]]]:
        """First chunk row of an article and its windows, relative to the article's first sentence."""
        rows = self.db.execute("SELECT idx, first_sentence, last_sentence FROM chunks WHERE article=? ORDER BY idx",
                               (article_idx,)).fetchall()
        if not rows:
            return 0, []
        base = self.db.execute("SELECT MIN(idx) FROM sentences WHERE article=?", (article_idx,)).fetchone()[0]
        return rows[0][0], [(f - base, l - base) for _, f, l in rows]

    def sentences(self, first: int, last: int) -> list[Sentence]:
        rows = self.db.execute("SELECT article, start, end, date_start, date_end, date_text FROM sentences "
                               "WHERE idx>=? AND idx<? ORDER BY idx", (first, last)).fetchall()
        out = []
        for a, s, e, date_start, date_end, date_text in rows:
            article = self.article(a)
            when = When(date_start, date_end, date_text) if date_start else None
            out.append(Sentence(article.id, s, e, article.text[s:e], when))
        return out

    def chunk(self, row: int) -> Chunk:
        a, first, last = self.db.execute(
            "SELECT article, first_sentence, last_sentence FROM chunks WHERE idx=?", (row,)).fetchone()
        sentences = self.sentences(first, last)
        article = self.article(a)
        return Chunk(row, article.id, sentences[0].start, sentences[-1].end, first, last,
                     " ".join(" ".join(s.text.split()) for s in sentences))

    def close(self) -> None:
        self.db.close()
