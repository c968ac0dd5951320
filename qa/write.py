"""Writing one build folder: the new and changed files parsed in a worker thread while the encoder embeds earlier
ones, unchanged files' vectors copied from the previous build, then BM25, the dense index, the sentence vectors and
the store (``qa.build`` makes the folder live)."""
from __future__ import annotations

import errno
import logging
import time
from collections import Counter, deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from . import dense as dense_index
from .bm25 import BM25Builder
from .chunk import article_chunks, chunk_text
from .config import Settings
from .embed import Encoder
from .ingest import IngestError, Skipped, read_articles, skip_path
from .store import StoreWriter
from .text import tokenize

if TYPE_CHECKING:
    from .build import BuildReport

log = logging.getLogger("qa.build")

ENCODE_BLOCK = 4096  # texts embedded together; files are parsed ahead while a block is embedded


@dataclass
class _Vectors:
    """Vectors of the new build's rows as they arrive: encoded in blocks, or copied from the previous build."""

    chunk_rows: list[int] = field(default_factory=list)
    chunk_texts: list[str] = field(default_factory=list)
    sentence_rows: list[int] = field(default_factory=list)
    sentence_texts: list[str] = field(default_factory=list)
    # (chunk rows, their vectors, sentence rows, their vectors) per encoded block
    encoded: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=list)
    reused_chunks: list[tuple[int, int]] = field(default_factory=list)  # (new row, old row)
    reused_sentences: list[tuple[int, int]] = field(default_factory=list)

    def pending(self) -> int:
        return len(self.chunk_texts) + len(self.sentence_texts)

    def encode(self, encoder: Encoder, progress, report: BuildReport) -> None:
        if not self.pending():
            return
        started = time.perf_counter()
        vectors = encoder.encode(self.chunk_texts + self.sentence_texts, progress=progress)
        report.encode_seconds += time.perf_counter() - started
        report.embedded_texts += len(vectors)
        # Sentence vectors are kept (and stored) in half precision: they only rank a chunk's sentences.
        n = len(self.chunk_rows)
        self.encoded.append((np.asarray(self.chunk_rows, dtype=np.int64), vectors[:n].copy(),
                             np.asarray(self.sentence_rows, dtype=np.int64), vectors[n:].astype(np.float16)))
        self.chunk_rows, self.chunk_texts, self.sentence_rows, self.sentence_texts = [], [], [], []


def _parse(source, settings: Settings):
    """Read, clean, split and chunk one file (run ahead of the encoder in a worker thread)."""
    try:
        articles = read_articles(source, max_bytes=settings.limits.max_file_bytes)
    except IngestError as exc:
        return Skipped(skip_path(source.path), str(exc))
    parsed = []
    for article in articles:
        sentences, windows, texts = article_chunks(article, settings.chunking, settings.limits.max_sentence_chars)
        parsed.append((article, sentences, windows, texts, [Counter(tokenize(t)) for t in texts]))
    return parsed


def _read_ahead(pool, fn, items, depth: int = 16):
    """``fn(item)`` for each item in order, computed up to ``depth`` items ahead in the pool."""
    futures = deque()
    for item in items:
        futures.append((item, pool.submit(fn, item)))
        if len(futures) >= depth:
            first, future = futures.popleft()
            yield first, future.result()
    while futures:
        first, future = futures.popleft()
        yield first, future.result()


def write_build(folder, files, old, settings, encoder, progress, report, checkpoint=None) -> set[str]:
    """Writes the build's files into ``folder``; returns the ids of its articles. ``checkpoint`` is called between
    files and embedding batches."""
    build = _BuildWriter(folder, settings, encoder or Encoder.from_settings(settings), report,
                         checkpoint or (lambda: None))
    old_files = old.manifest["files"] if old is not None else {}
    changed = [f for f in files if old_files.get(f.rel_id) != f.fingerprint]
    changed_ids = {f.rel_id for f in changed}
    build.copy_unchanged([f for f in files if f.rel_id not in changed_ids], old)
    build.embed(changed, progress)
    build.write_vectors(old, progress)
    return build.article_ids


class _BuildWriter:
    """The parts of one build as they are written: the store, the term counts for BM25, the vectors."""

    def __init__(self, folder, settings: Settings, encoder: Encoder, report: BuildReport, check):
        self.folder, self.settings, self.encoder, self.report, self.check = folder, settings, encoder, report, check
        self.writer = StoreWriter(folder / "store.sqlite")
        self.vectors = _Vectors()
        self.bm25 = BM25Builder()
        self.article_ids: set[str] = set()

    def copy_unchanged(self, files, old) -> None:
        """Files unchanged since the previous build: their rows and vectors are copied, nothing is embedded."""
        for source in files:
            self.check()
            self.report.reused_files += 1
            for a in old.store.articles_of_file(source.rel_id):
                article = old.store.article(a)
                old_s0, sentences = old.store.sentence_ranges(a)
                old_c0, windows = old.store.chunk_windows(a)
                s0, c0 = self.writer.add(article, source.rel_id, sentences, windows)
                self.article_ids.add(article.id)
                self.vectors.reused_sentences += [(s0 + i, old_s0 + i) for i in range(len(sentences))]
                self.vectors.reused_chunks += [(c0 + i, old_c0 + i) for i in range(len(windows))]
                for w in windows:
                    self.bm25.add(Counter(tokenize(chunk_text(article, sentences, w))))

    def embed(self, changed, progress: bool) -> None:
        """New and changed files: parsed in a worker thread while the encoder (which releases the GIL) embeds
        earlier ones."""
        from tqdm import tqdm

        vectors, report = self.vectors, self.report
        with ThreadPoolExecutor(1) as pool, tqdm(desc="Embedding", unit="text",
                                                 disable=None if progress else True) as bar:
            def step(n: int) -> None:
                bar.update(n)
                self.check()

            for source, parsed in _read_ahead(pool, lambda f: _parse(f, self.settings), changed):
                self.check()
                if isinstance(parsed, Skipped):
                    report.skipped.append(parsed)
                    log.debug("skipped %s", parsed)  # reported by the caller from report.skipped, once
                    continue
                for article, sentences, windows, texts, term_counts in parsed:
                    s0, c0 = self.writer.add(article, source.rel_id, sentences, windows)
                    self.article_ids.add(article.id)
                    vectors.sentence_rows += range(s0, s0 + len(sentences))
                    vectors.sentence_texts += [article.text[s:e] for s, e in sentences]
                    vectors.chunk_rows += range(c0, c0 + len(windows))
                    vectors.chunk_texts += texts
                    for counts in term_counts:
                        self.bm25.add(counts)
                if vectors.pending() >= ENCODE_BLOCK:
                    vectors.encode(self.encoder, step, report)
            vectors.encode(self.encoder, step, report)
        self.writer.close()
        report.articles, report.sentences, report.chunks = (self.writer.n_articles, self.writer.n_sentences,
                                                            self.writer.n_chunks)

    def write_vectors(self, old, progress: bool) -> None:
        """The chunk and sentence vectors in row order (new blocks and copied ones), the dense index, then BM25."""
        from tqdm import tqdm

        vectors, report, folder = self.vectors, self.report, self.folder
        if vectors.encoded:
            dim = vectors.encoded[0][1].shape[1]
        else:
            dim = old.manifest["embedding_dim"] if old is not None else self.encoder.dim
        report.dim = dim
        chunk_vectors = np.zeros((report.chunks, dim), dtype=np.float32)
        sentence_vectors = np.zeros((report.sentences, dim), dtype=np.float16)
        while vectors.encoded:  # each block is freed as soon as it is copied in
            chunk_rows, chunk_block, sentence_rows, sentence_block = vectors.encoded.pop()
            chunk_vectors[chunk_rows] = chunk_block
            sentence_vectors[sentence_rows] = sentence_block
        if vectors.reused_chunks:
            new, prev = map(list, zip(*vectors.reused_chunks))
            chunk_vectors[new] = old.dense.reconstruct_batch(np.asarray(prev, dtype=np.int64))
        if vectors.reused_sentences:
            new, prev = map(list, zip(*vectors.reused_sentences))
            sentence_vectors[new] = old.sentence_vectors[prev]
        with tqdm(desc="Dense index", unit="chunk", total=len(chunk_vectors),
                  disable=None if progress else True) as bar:
            dense, report.dense_index = dense_index.build(chunk_vectors, self.settings.dense, progress=bar.update)
        try:
            dense_index.save(dense, folder / "chunks.faiss")
        except RuntimeError as exc:  # how faiss reports a failed write; its text carries strerror
            text = str(exc).splitlines()[0] if str(exc) else "write failed"
            raise OSError(errno.ENOSPC if "No space left" in text else errno.EIO, f"chunks.faiss: {text}") from exc
        np.save(folder / "sentence_vectors.npy", sentence_vectors)
        del dense, chunk_vectors, sentence_vectors  # before BM25 needs its memory
        r = self.settings.retrieval
        self.bm25.build(k1=r.bm25_k1, b=r.bm25_b, epsilon=r.bm25_epsilon).save(folder)
