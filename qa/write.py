"""Writing new segments: the new and changed files parsed in a worker thread while the encoder embeds earlier ones,
each segment finished (dense index, sentence vectors, postings) when it reaches its size (``qa.build`` commits
them)."""
from __future__ import annotations

import logging
import time
from collections import Counter, deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from .chunk import article_chunks
from .config import Settings
from .embed import Encoder
from .ingest import IngestError, Skipped, read_articles, skip_path
from .segment import SegmentInfo, SegmentWriter
from .text import tokenize

if TYPE_CHECKING:
    from .commit import BuildReport

log = logging.getLogger("qa.build")

ENCODE_BLOCK = 4096  # texts embedded together; files are parsed ahead while a block is embedded


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


def _read_ahead(pool, fn, items, depth: int = 2):
    """``fn(item)`` for each item in order, computed up to ``depth`` items ahead in the pool. Parsing is far faster
    than embedding, so two files ahead keep the encoder busy; more would hold more parsed files in memory (a .jsonl
    file of thousands of articles, parsed, takes hundreds of MB)."""
    futures = deque()
    for item in items:
        futures.append((item, pool.submit(fn, item)))
        if len(futures) >= depth:
            first, future = futures.popleft()
            yield first, future.result()
    while futures:
        first, future = futures.popleft()
        yield first, future.result()


def write_segments(files, settings: Settings, encoder: Encoder, new_folder: Callable[[], Path],
                   on_segment: Callable[[SegmentInfo], None], report: BuildReport, progress: bool = True,
                   checkpoint: Callable[[], None] | None = None) -> None:
    """Reads, chunks and embeds ``files`` into new segments of about ``settings.segments.max_chunks`` chunks each (a
    file's articles stay in one), written to the folders ``new_folder`` gives; ``on_segment`` is called as each is
    finished, so a build can commit it before the next begins. ``checkpoint`` is called between files and embedding
    blocks."""
    from tqdm import tqdm

    check = checkpoint or (lambda: None)
    with ThreadPoolExecutor(1) as pool, tqdm(desc="Embedding", unit="text", disable=None if progress else True) as bar:
        def step(n: int) -> None:
            bar.update(n)
            check()

        pending = _Pending()
        writer = None
        for source, parsed in _read_ahead(pool, lambda f: _parse(f, settings), files):
            check()
            if isinstance(parsed, Skipped):
                report.skipped.append(parsed)
                log.debug("skipped %s", parsed)  # reported by the caller from report.skipped, once
                continue
            writer = writer or SegmentWriter(new_folder(), settings, encoder.dim)
            writer.files.add(source.rel_id)  # also a file that gave no article: its fingerprint is now indexed
            for article, sentences, windows, texts, term_counts in parsed:
                writer.add_article(article, source.rel_id, sentences, windows, term_counts)
                pending.chunks += texts
                pending.sentences += [article.text[s:e] for s, e in sentences]
            if pending.size() >= ENCODE_BLOCK:
                pending.encode_into(writer, encoder, step, report)
            if writer.n_chunks >= settings.segments.max_chunks:
                pending.encode_into(writer, encoder, step, report)
                on_segment(_finish(writer, progress))
                writer = None
        if writer is not None:
            pending.encode_into(writer, encoder, step, report)
            on_segment(_finish(writer, progress))


class _Pending:
    """Texts of the rows written but not yet embedded, in row order."""

    def __init__(self):
        self.chunks: list[str] = []
        self.sentences: list[str] = []

    def size(self) -> int:
        return len(self.chunks) + len(self.sentences)

    def encode_into(self, writer: SegmentWriter, encoder: Encoder, progress, report: BuildReport) -> None:
        if not self.size():
            return
        started = time.perf_counter()
        vectors = encoder.encode(self.chunks + self.sentences, progress=progress)
        report.encode_seconds += time.perf_counter() - started
        report.embedded_texts += len(vectors)
        writer.add_vectors(vectors[:len(self.chunks)], vectors[len(self.chunks):])
        self.chunks, self.sentences = [], []


def _finish(writer: SegmentWriter, progress: bool) -> SegmentInfo:
    from tqdm import tqdm

    with tqdm(desc="Dense index", unit="chunk", total=writer.n_chunks, disable=None if progress else True) as bar:
        return writer.finish(progress=bar.update)
