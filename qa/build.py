"""Building and updating the index: read, clean, split and chunk the corpus's new or changed files, embed them while
later files are parsed, write BM25, the dense index, the sentence vectors and the store into a new build folder, and
make it live by one atomic rename (see ``qa.index`` for the layout and why an interrupted build loses nothing)."""
from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import shutil
import sqlite3
import time
from collections import Counter, deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import numpy as np

from . import dense as dense_index
from .bm25 import BM25Builder
from .chunk import article_chunks, chunk_text
from .config import Settings
from .embed import Encoder
from .index import (DAMAGED_SUFFIX, Index, IndexDamaged, IndexMismatch, IndexMissing, IndexShrink, IndexWriteError,
                    _compat, _file_records, current_build, load_manifest, verify_files)
from .ingest import IngestError, Skipped, display_path, read_articles, scan_corpus, skip_path
from .store import StoreWriter
from .text import tokenize

log = logging.getLogger(__name__)

ENCODE_BLOCK = 4096  # texts embedded together; files are parsed ahead while a block is embedded
SHRINK_LIMIT = 0.5  # the largest share of the index's articles a build may remove without allow_shrink


@dataclass
class BuildReport:
    corpus: str
    index: str = ""
    articles: int = 0
    chunks: int = 0
    sentences: int = 0
    embedded_texts: int = 0
    reused_files: int = 0
    removed_files: int = 0
    removed_articles: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    up_to_date: bool = False
    seconds: float = 0.0
    encode_seconds: float = 0.0
    dim: int = 0
    dense_index: dict = field(default_factory=dict)
    damaged_build: str | None = None  # where the damaged build this one replaced was moved aside

    def to_json(self) -> dict:
        """One JSON-ready object; skips are ``{"path", "reason"}``."""
        return asdict(self)


class _Lock:
    """One build at a time per index folder."""

    def __init__(self, index_dir: Path):
        try:
            index_dir.mkdir(parents=True, exist_ok=True)
            self.file = open(index_dir / ".lock", "w")
        except OSError as exc:
            raise IndexWriteError(f"cannot write the index folder {index_dir}: {exc.strerror or exc}") from None

    def __enter__(self):
        try:
            fcntl.flock(self.file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("another build of this index is running; waiting for it")
            fcntl.flock(self.file, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.file, fcntl.LOCK_UN)
        self.file.close()


def build_index(settings: Settings, *, rebuild: bool = False, encoder: Encoder | None = None,
                progress: bool = True, allow_shrink: bool = False,
                checkpoint: Callable[[], None] | None = None) -> BuildReport:
    """Build or update the index of ``settings.corpus_dir`` in ``settings.index_dir``.

    Files whose content is unchanged since the last build keep their vectors; only new or changed ones are embedded,
    and removed ones leave the index. A file that cannot be read is skipped with its reason (``report.skipped``). A
    damaged live index is rebuilt from the corpus. Raises IngestError when the corpus folder is missing, IndexShrink
    when the build would remove more than half of the index's articles (unless ``allow_shrink``), IndexWriteError
    when the build cannot be written; the previous index stays live in every case. ``checkpoint`` is called between
    files, between embedding batches and just before the new build goes live: whatever it raises stops the build
    there (the partial folder is removed, the previous index stays live) and is raised again.
    """
    started = time.perf_counter()
    corpus_dir, index_dir = settings.corpus_dir, settings.index_dir
    report = BuildReport(corpus=display_path(corpus_dir), index=display_path(index_dir))
    scan = scan_corpus(corpus_dir, max_bytes=settings.limits.max_file_bytes)
    files = scan.files
    with _Lock(index_dir):
        live = current_build(index_dir)
        old, damaged = _open_previous(index_dir, settings, rebuild)
        fingerprints = {f.rel_id: f.fingerprint for f in files}
        if old is not None and old.manifest["files"] == fingerprints:
            counts = old.manifest["counts"]
            report.articles, report.chunks, report.sentences = counts["articles"], counts["chunks"], counts["sentences"]
            report.dim, report.dense_index = old.manifest["embedding_dim"], old.manifest.get("dense_index", {})
            report.skipped = _sorted([Skipped(**s) for s in old.manifest.get("skipped", [])] + scan.skipped)
            report.up_to_date, report.reused_files = True, len(files)
            report.seconds = time.perf_counter() - started
            old.close()
            _clear_stale(index_dir, live.name, None)  # what a killed build left behind (the lock is ours)
            return report
        name = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ") + f"-{os.getpid()}"
        folder = index_dir / "builds" / name
        try:
            try:
                previous = _previous_article_ids(old, live)
                if previous and not allow_shrink:
                    _check_shrink(_removed_before_build(old, fingerprints, previous), len(previous), settings)
                folder.mkdir(parents=True)
                new_ids = _write_build(folder, files, old, settings, encoder, progress, report, checkpoint)
                if previous:
                    report.removed_articles = len(previous - new_ids)
                    if not allow_shrink:
                        _check_shrink(report.removed_articles, len(previous), settings)
                if old is not None:
                    report.removed_files = len(set(old.manifest["files"]) - set(fingerprints))
                    old.close()
                    old = None
                manifest = {
                    **_compat(settings),
                    "embedding_dim": report.dim,
                    "embedding_backend": settings.backend,  # informational: backends give vectors within bf16 rounding
                    "dense_index": report.dense_index,
                    "corpus": str(corpus_dir),
                    "files": fingerprints,
                    "skipped": [asdict(s) for s in report.skipped],  # files of ``files`` that gave no article
                    "unread": [asdict(s) for s in scan.skipped],  # files not even fingerprinted (for the record)
                    "counts": {"articles": report.articles, "chunks": report.chunks, "sentences": report.sentences},
                    "index_files": _file_records(folder),
                    "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                    "build_seconds": round(time.perf_counter() - started, 3),
                }
                (folder / "manifest.json").write_text(json.dumps(manifest, indent=1))
                if checkpoint is not None:
                    checkpoint()  # the last moment a build can still be stopped
                pointer = index_dir / "CURRENT.tmp"
                pointer.write_text(name)
                os.replace(pointer, index_dir / "CURRENT")  # the moment the new build goes live
            except (OSError, sqlite3.Error) as exc:
                raise _write_failure(exc, index_dir) from exc
        except BaseException:
            if old is not None:
                old.close()
            shutil.rmtree(folder, ignore_errors=True)
            raise
        report.skipped = _sorted(report.skipped + scan.skipped)
        report.damaged_build = _clear_stale(index_dir, name, damaged)
    report.seconds = time.perf_counter() - started
    return report


def _sorted(skipped: list[Skipped]) -> list[Skipped]:
    return sorted(skipped, key=lambda s: s.path)


def _open_previous(index_dir: Path, settings: Settings, rebuild: bool) -> tuple[Index | None, Path | None]:
    """The live index to update (None: build everything), and the live build's folder when it is damaged."""
    live = current_build(index_dir)
    try:
        if not rebuild:
            return Index.open(index_dir, settings), None
        if live is not None:  # checked only so that a damaged build is kept aside rather than deleted
            verify_files(live, load_manifest(live, index_dir), index_dir)
        return None, None
    except IndexMissing:
        return None, None
    except IndexDamaged as exc:
        log.warning("index at %s is damaged (%s): rebuilding it from %s", index_dir, exc.part,
                    display_path(settings.corpus_dir))
        return None, live
    except IndexMismatch as exc:
        if not rebuild:
            log.info("%s; rebuilding everything", str(exc).split(";")[0])
        return None, None


def _previous_article_ids(old: Index | None, live: Path | None) -> set[str] | None:
    """Ids of the articles in the live index (what a build could remove); None when they cannot be read."""
    if old is not None:
        return old.article_ids()
    if live is None or not (live / "store.sqlite").is_file():
        return None
    try:
        db = sqlite3.connect(f"file:{live / 'store.sqlite'}?mode=ro", uri=True)
        try:
            return {row[0] for row in db.execute("SELECT id FROM articles")}
        finally:
            db.close()
    except sqlite3.Error:
        return None  # a damaged store: nothing to compare with


def _removed_before_build(old: Index | None, fingerprints: dict, previous: set[str]) -> int:
    """The articles a build certainly removes, known before anything is embedded: those of files that are gone (what
    changed files give is known only after)."""
    if old is None:  # a full rebuild: only an empty corpus tells in advance
        return 0 if fingerprints else len(previous)
    gone = set(old.manifest["files"]) - set(fingerprints)
    return sum(len(old.store.articles_of_file(f)) for f in gone)


def _check_shrink(removed: int, total: int, settings: Settings) -> None:
    if total and removed > total * SHRINK_LIMIT:
        raise IndexShrink(
            f"refusing to remove {removed} of the {total} articles in the index at {settings.index_dir} (more than "
            f"{SHRINK_LIMIT:.0%}; is {display_path(settings.corpus_dir)} the right, complete corpus folder?): run "
            f"`qa index --allow-shrink` to remove them")


def _write_failure(exc: Exception, index_dir: Path) -> IndexWriteError:
    """One line for a build that could not be written."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    full = (isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)) or "disk is full" in text \
        or "No space left" in text
    if full:
        return IndexWriteError(f"disk full while building the index at {index_dir}: the previous index is kept and "
                               f"the partial build removed")
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else text
    if isinstance(exc, OSError) and exc.filename:
        reason = f"{reason}: {exc.filename}"
    return IndexWriteError(f"could not build the index at {index_dir} ({reason}): the previous index is kept and the "
                           f"partial build removed")


def _clear_stale(index_dir: Path, name: str, damaged: Path | None) -> str | None:
    """Removes the builds other than the live one, except a damaged one, which is renamed aside; returns where it went.
    Earlier damaged builds stay too: they are the user's to inspect and delete."""
    kept = None
    for stale in (index_dir / "builds").iterdir():
        if stale.name == name or stale.name.endswith(DAMAGED_SUFFIX):
            continue
        if damaged is not None and stale.name == damaged.name:
            target = stale.with_name(stale.name + DAMAGED_SUFFIX)
            try:
                stale.rename(target)
                kept = display_path(target)
                log.warning("the damaged build was replaced and kept as %s", kept)
            except OSError as exc:
                log.warning("could not move the damaged build %s aside (%s)", stale, exc.strerror or exc)
            continue
        shutil.rmtree(stale, ignore_errors=True)
    return kept


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


def _write_build(folder, files, old, settings, encoder, progress, report, checkpoint=None) -> set[str]:
    """Writes the build's files into ``folder``; returns the ids of its articles. ``checkpoint`` is called between
    files and embedding batches."""
    from tqdm import tqdm

    check = checkpoint or (lambda: None)

    writer = StoreWriter(folder / "store.sqlite")
    vectors = _Vectors()
    bm25 = BM25Builder()
    old_files = old.manifest["files"] if old is not None else {}
    encoder = encoder or Encoder.from_settings(settings)
    changed = [f for f in files if old_files.get(f.rel_id) != f.fingerprint]
    changed_ids = {f.rel_id for f in changed}
    article_ids = set()
    for source in files:
        check()
        if source.rel_id not in changed_ids:
            report.reused_files += 1
            for a in old.store.articles_of_file(source.rel_id):
                article = old.store.article(a)
                old_s0, sentences = old.store.sentence_ranges(a)
                old_c0, windows = old.store.chunk_windows(a)
                s0, c0 = writer.add(article, source.rel_id, sentences, windows)
                article_ids.add(article.id)
                vectors.reused_sentences += [(s0 + i, old_s0 + i) for i in range(len(sentences))]
                vectors.reused_chunks += [(c0 + i, old_c0 + i) for i in range(len(windows))]
                for w in windows:
                    bm25.add(Counter(tokenize(chunk_text(article, sentences, w))))
    # New and changed files: parsed in a worker thread while the encoder (which releases the GIL) embeds earlier ones.
    with ThreadPoolExecutor(1) as pool, tqdm(desc="Embedding", unit="text", disable=None if progress else True) as bar:
        def step(n: int) -> None:
            bar.update(n)
            check()

        for source, parsed in _read_ahead(pool, lambda f: _parse(f, settings), changed):
            check()
            if isinstance(parsed, Skipped):
                report.skipped.append(parsed)
                log.debug("skipped %s", parsed)  # reported by the caller from report.skipped, once
                continue
            for article, sentences, windows, texts, term_counts in parsed:
                s0, c0 = writer.add(article, source.rel_id, sentences, windows)
                article_ids.add(article.id)
                vectors.sentence_rows += range(s0, s0 + len(sentences))
                vectors.sentence_texts += [article.text[s:e] for s, e in sentences]
                vectors.chunk_rows += range(c0, c0 + len(windows))
                vectors.chunk_texts += texts
                for counts in term_counts:
                    bm25.add(counts)
            if vectors.pending() >= ENCODE_BLOCK:
                vectors.encode(encoder, step, report)
        vectors.encode(encoder, step, report)
    writer.close()
    report.articles, report.sentences, report.chunks = writer.n_articles, writer.n_sentences, writer.n_chunks

    if vectors.encoded:
        dim = vectors.encoded[0][1].shape[1]
    else:
        dim = old.manifest["embedding_dim"] if old is not None else encoder.dim
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

    with tqdm(desc="Dense index", unit="chunk", total=len(chunk_vectors), disable=None if progress else True) as bar:
        dense, report.dense_index = dense_index.build(chunk_vectors, settings.dense, progress=bar.update)
    try:
        dense_index.save(dense, folder / "chunks.faiss")
    except RuntimeError as exc:  # how faiss reports a failed write; its text carries strerror
        text = str(exc).splitlines()[0] if str(exc) else "write failed"
        raise OSError(errno.ENOSPC if "No space left" in text else errno.EIO, f"chunks.faiss: {text}") from exc
    np.save(folder / "sentence_vectors.npy", sentence_vectors)
    del dense, chunk_vectors, sentence_vectors  # before BM25 needs its memory
    r = settings.retrieval
    bm25.build(k1=r.bm25_k1, b=r.bm25_b, epsilon=r.bm25_epsilon).save(folder)
    return article_ids
