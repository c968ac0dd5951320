"""Build, update and open the index folder.

Layout: ``INDEX_DIR/CURRENT`` names the live build, ``INDEX_DIR/builds/<name>/`` holds it (manifest.json,
store.sqlite, bm25_*.npy, bm25_vocab.json, chunks.faiss, sentence_vectors.npy). A build is written to a new folder
and made live by replacing ``CURRENT`` in one atomic rename, so an interrupted or failed build leaves the previous
index usable. Nothing in the folder is pickled: loading it cannot run code.
"""
from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import time
from collections import Counter, deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from . import dense as dense_index
from .bm25 import BM25Builder, BM25Index
from .chunk import article_chunks, chunk_text
from .config import Settings
from .embed import Encoder
from .ingest import IngestError, Skipped, display_path, list_corpus, read_articles
from .store import Store, StoreWriter
from .text import tokenize

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
ENCODE_BLOCK = 4096  # texts embedded together; files are parsed ahead while a block is embedded


class IndexError_(Exception):
    """The index cannot be used; the message says what to do."""


class IndexMissing(IndexError_):
    pass


class IndexMismatch(IndexError_):
    pass


@dataclass
class BuildReport:
    corpus: str
    articles: int = 0
    chunks: int = 0
    sentences: int = 0
    embedded_texts: int = 0
    reused_files: int = 0
    removed_files: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    up_to_date: bool = False
    seconds: float = 0.0
    encode_seconds: float = 0.0
    dim: int = 0
    dense_index: dict = field(default_factory=dict)


def _compat(settings: Settings) -> dict:
    """What an index must have been built with to be used (or updated) with these settings."""
    return {
        "format_version": FORMAT_VERSION,
        "model": settings.model,
        "chunking": asdict(settings.chunking),
        "bm25": {"k1": settings.retrieval.bm25_k1, "b": settings.retrieval.bm25_b,
                 "epsilon": settings.retrieval.bm25_epsilon},
    }


def current_build(index_dir: Path) -> Path | None:
    pointer = index_dir / "CURRENT"
    if not pointer.is_file():
        return None
    folder = index_dir / "builds" / pointer.read_text().strip()
    return folder if (folder / "manifest.json").is_file() else None


def read_manifest(index_dir: Path) -> dict | None:
    folder = current_build(index_dir)
    return json.loads((folder / "manifest.json").read_text()) if folder else None


def check_manifest(manifest: dict, settings: Settings, index_dir: Path) -> None:
    want = _compat(settings)
    if manifest.get("format_version") != FORMAT_VERSION:
        raise IndexMismatch(f"{index_dir}: index format {manifest.get('format_version')} is not this version's "
                            f"({FORMAT_VERSION}); rebuild it with `qa index --rebuild`")
    for key in ("model", "chunking", "bm25"):
        if manifest.get(key) != want[key]:
            raise IndexMismatch(f"{index_dir}: index was built with {key} {manifest.get(key)!r}, but the settings "
                                f"ask for {want[key]!r}; rebuild it with `qa index --rebuild`")


class Index:
    """A built index opened for search: BM25 arrays, the faiss index, sentence vectors and the chunk store."""

    def __init__(self, folder: Path, manifest: dict, settings: Settings):
        self.folder = folder
        self.manifest = manifest
        n_chunks = manifest["counts"]["chunks"]
        self.bm25 = BM25Index.load(folder, n_chunks)
        self.dense = dense_index.load(folder / "chunks.faiss", settings.dense)
        self.sentence_vectors = np.load(folder / "sentence_vectors.npy", mmap_mode="r", allow_pickle=False)
        self.store = Store(folder / "store.sqlite")

    @classmethod
    def open(cls, index_dir: Path, settings: Settings) -> "Index":
        folder = current_build(index_dir)
        if folder is None and not any(p.name not in (".lock", "builds") for p in _entries(index_dir)):
            raise IndexMissing(f"{index_dir}: no index yet; build it with `qa index`")
        if folder is None:
            raise IndexMismatch(f"{index_dir}: not an index this version can read; rebuild it with `qa index --rebuild`")
        manifest = json.loads((folder / "manifest.json").read_text())
        check_manifest(manifest, settings, index_dir)
        return cls(folder, manifest, settings)

    def chunk_vectors(self, rows) -> np.ndarray:
        if not len(rows):
            return np.zeros((0, self.dense.d), dtype=np.float32)
        return self.dense.reconstruct_batch(np.asarray(rows, dtype=np.int64))

    def close(self) -> None:
        self.store.close()


def _entries(folder: Path) -> list[Path]:
    return list(folder.iterdir()) if folder.is_dir() else []


class _Lock:
    """One build at a time per index folder."""

    def __init__(self, index_dir: Path):
        index_dir.mkdir(parents=True, exist_ok=True)
        self.file = open(index_dir / ".lock", "w")

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
                progress: bool = True) -> BuildReport:
    """Build or update the index of ``settings.corpus_dir`` in ``settings.index_dir``.

    Files whose content is unchanged since the last build keep their vectors; only new or changed ones are embedded,
    and removed ones leave the index. Raises IngestError when the corpus folder is missing.
    """
    started = time.perf_counter()
    corpus_dir, index_dir = settings.corpus_dir, settings.index_dir
    report = BuildReport(corpus=display_path(corpus_dir))
    files = list_corpus(corpus_dir)
    with _Lock(index_dir):
        old = _open_previous(index_dir, settings, rebuild)
        fingerprints = {f.rel_id: f.fingerprint for f in files}
        if old is not None and old.manifest["files"] == fingerprints:
            counts = old.manifest["counts"]
            report.articles, report.chunks, report.sentences = counts["articles"], counts["chunks"], counts["sentences"]
            report.skipped = [Skipped(**s) for s in old.manifest.get("skipped", [])]
            report.up_to_date, report.reused_files = True, len(files)
            report.seconds = time.perf_counter() - started
            old.close()
            return report
        name = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ") + f"-{os.getpid()}"
        folder = index_dir / "builds" / name
        folder.mkdir(parents=True)
        try:
            _write_build(folder, files, old, settings, encoder, progress, report)
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
                "skipped": [asdict(s) for s in report.skipped],
                "counts": {"articles": report.articles, "chunks": report.chunks, "sentences": report.sentences},
                "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "build_seconds": round(time.perf_counter() - started, 3),
            }
            (folder / "manifest.json").write_text(json.dumps(manifest, indent=1))
            pointer = index_dir / "CURRENT.tmp"
            pointer.write_text(name)
            os.replace(pointer, index_dir / "CURRENT")  # the moment the new build goes live
        except BaseException:
            if old is not None:
                old.close()
            shutil.rmtree(folder, ignore_errors=True)
            raise
        for stale in (index_dir / "builds").iterdir():
            if stale.name != name:
                shutil.rmtree(stale, ignore_errors=True)
    report.seconds = time.perf_counter() - started
    return report


def _open_previous(index_dir: Path, settings: Settings, rebuild: bool) -> Index | None:
    if rebuild:
        return None
    try:
        return Index.open(index_dir, settings)
    except IndexMissing:
        return None
    except IndexMismatch as exc:
        log.info("%s; rebuilding everything", str(exc).split(";")[0])
        return None


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

    def encode(self, encoder: Encoder, bar, report: BuildReport) -> None:
        if not self.pending():
            return
        started = time.perf_counter()
        vectors = encoder.encode(self.chunk_texts + self.sentence_texts, progress=bar.update)
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
        articles = read_articles(source)
    except IngestError as exc:
        return Skipped(display_path(source.path), str(exc))
    except OSError as exc:
        return Skipped(display_path(source.path), f"cannot read: {exc.strerror or exc}")
    parsed = []
    for article in articles:
        sentences, windows, texts = article_chunks(article, settings.chunking)
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


def _write_build(folder, files, old, settings, encoder, progress, report) -> None:
    from tqdm import tqdm

    writer = StoreWriter(folder / "store.sqlite")
    vectors = _Vectors()
    bm25 = BM25Builder()
    old_files = old.manifest["files"] if old is not None else {}
    encoder = encoder or Encoder.from_settings(settings)
    changed = [f for f in files if old_files.get(f.rel_id) != f.fingerprint]
    changed_ids = {f.rel_id for f in changed}
    for source in files:
        if source.rel_id not in changed_ids:
            report.reused_files += 1
            for a in old.store.articles_of_file(source.rel_id):
                article = old.store.article(a)
                old_s0, sentences = old.store.sentence_ranges(a)
                old_c0, windows = old.store.chunk_windows(a)
                s0, c0 = writer.add(article, source.rel_id, sentences, windows)
                vectors.reused_sentences += [(s0 + i, old_s0 + i) for i in range(len(sentences))]
                vectors.reused_chunks += [(c0 + i, old_c0 + i) for i in range(len(windows))]
                for w in windows:
                    bm25.add(Counter(tokenize(chunk_text(article, sentences, w))))
    # New and changed files: parsed in a worker thread while the encoder (which releases the GIL) embeds earlier ones.
    with ThreadPoolExecutor(1) as pool, tqdm(desc="Embedding", unit="text", disable=None if progress else True) as bar:
        for source, parsed in _read_ahead(pool, lambda f: _parse(f, settings), changed):
            if isinstance(parsed, Skipped):
                report.skipped.append(parsed)
                log.debug("skipped %s", parsed)  # reported by the caller from report.skipped, once
                continue
            for article, sentences, windows, texts, term_counts in parsed:
                s0, c0 = writer.add(article, source.rel_id, sentences, windows)
                vectors.sentence_rows += range(s0, s0 + len(sentences))
                vectors.sentence_texts += [article.text[s:e] for s, e in sentences]
                vectors.chunk_rows += range(c0, c0 + len(windows))
                vectors.chunk_texts += texts
                for counts in term_counts:
                    bm25.add(counts)
            if vectors.pending() >= ENCODE_BLOCK:
                vectors.encode(encoder, bar, report)
        vectors.encode(encoder, bar, report)
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
    dense_index.save(dense, folder / "chunks.faiss")
    np.save(folder / "sentence_vectors.npy", sentence_vectors)
    del dense, chunk_vectors, sentence_vectors  # before BM25 needs its memory
    r = settings.retrieval
    bm25.build(k1=r.bm25_k1, b=r.bm25_b, epsilon=r.bm25_epsilon).save(folder)
