"""One segment of the index: an immutable folder of articles, sentences and chunks (store.sqlite), their BM25
postings, the chunk vectors' faiss index (chunks.faiss) and the sentence vectors (sentence_vectors.npy).

``SegmentWriter`` writes one as rows arrive, in row order: vectors go straight to files on disk (raw float blocks,
turned into the faiss index and the .npy at the end), so writing a segment holds only its term counts in memory.
``OpenSegment`` is one opened for search, numbered from the offsets the index gives it.
"""
from __future__ import annotations

import errno
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import dense as dense_index
from .bm25 import Postings, PostingsBuilder
from .config import Settings
from .store import Offsets, Store, StoreWriter
from .types import Article

VECTOR_BLOCK = 65_536  # rows copied or indexed at a time from the raw vector files


@dataclass
class SegmentInfo:
    """What the commit records of a written segment."""

    name: str
    counts: dict
    dense_index: dict
    files: set[str] = field(default_factory=set)  # the corpus files a build read into it (a merge: none)


class SegmentWriter:
    def __init__(self, folder: Path, settings: Settings, dim: int):
        folder.mkdir(parents=True)
        self.folder, self.settings, self.dim = folder, settings, dim
        self.store = StoreWriter(folder / "store.sqlite")
        self.postings = PostingsBuilder()
        self.chunk_file = open(folder / "chunks.f32", "wb")
        self.sentence_file = open(folder / "sentences.f16", "wb")
        self.files: set[str] = set()

    @property
    def n_chunks(self) -> int:
        return self.store.n_chunks

    def add_article(self, article: Article, file: str, sentences: list[tuple[int, int]],
                    windows: list[tuple[int, int]], term_counts: list[Counter] | None) -> tuple[int, int]:
        """Adds an article's rows (its vectors follow with ``add_vectors``, in the same order); ``term_counts`` per
        chunk, or None when they come with ``add_postings``. Returns its first sentence and chunk rows."""
        first = self.store.add(article, file, sentences, windows)
        for counts in term_counts or ():
            self.postings.add(counts)
        return first

    def add_postings(self, postings: Postings, chunks: np.ndarray) -> None:
        self.postings.extend(postings, chunks)

    def add_vectors(self, chunk_vectors: np.ndarray, sentence_vectors: np.ndarray) -> None:
        self.chunk_file.write(np.ascontiguousarray(chunk_vectors, dtype=np.float32).tobytes())
        self.sentence_file.write(np.ascontiguousarray(sentence_vectors, dtype=np.float16).tobytes())

    def finish(self, progress=None) -> SegmentInfo:
        """Writes the postings, the dense index and the sentence vectors (one after the other, so that their memory
        never adds up); the raw vector files are removed."""
        self.chunk_file.close()
        self.sentence_file.close()
        self.store.close()
        self.postings.postings().save(self.folder)
        self.postings = None
        n_chunks, n_sentences = self.store.n_chunks, self.store.n_sentences
        raw_chunks, raw_sentences = self.folder / "chunks.f32", self.folder / "sentences.f16"
        dense, params = dense_index.build_from_blocks(_blocks(raw_chunks, n_chunks, self.dim), n_chunks, self.dim,
                                                      self.settings.dense, progress=progress)
        try:
            dense_index.save(dense, self.folder / "chunks.faiss")
        except RuntimeError as exc:  # how faiss reports a failed write; its text carries strerror
            text = str(exc).splitlines()[0] if str(exc) else "write failed"
            raise OSError(errno.ENOSPC if "No space left" in text else errno.EIO, f"chunks.faiss: {text}") from exc
        del dense
        raw_chunks.unlink()
        # The .npy is a header and the raw rows: streamed, not mapped (mapped pages would count as this process's)
        with open(self.folder / "sentence_vectors.npy", "wb") as out, open(raw_sentences, "rb") as raw:
            np.lib.format.write_array_header_1_0(out, {"descr": "<f2", "fortran_order": False,
                                                       "shape": (n_sentences, self.dim)})
            shutil.copyfileobj(raw, out, 1 << 24)
        raw_sentences.unlink()
        counts = {"articles": self.store.n_articles, "chunks": n_chunks, "sentences": n_sentences}
        return SegmentInfo(self.folder.name, counts, params, self.files)


def _blocks(path: Path, n: int, dim: int):
    """The raw float32 rows of a file in blocks, read (not mapped)."""
    with open(path, "rb") as f:
        for lo in range(0, n, VECTOR_BLOCK):
            rows = min(VECTOR_BLOCK, n - lo)
            yield np.fromfile(f, dtype=np.float32, count=rows * dim).reshape(rows, dim)


class OpenSegment:
    """A segment opened for search, numbered from ``offsets``. ``alive`` (set by the index) marks the chunks whose
    article is not deleted; None when all are. A shard of a Ray cluster opens only what search needs (``store``
    False); an index whose search is on shards opens no dense index (``dense`` False)."""

    def __init__(self, folder: Path, offsets: Offsets, settings: Settings, *, store: bool = True, dense: bool = True):
        self.folder, self.offsets, self.settings = folder, offsets, settings
        self.alive: np.ndarray | None = None
        self.postings = Postings.load(folder)
        self.dense = dense_index.load(folder / "chunks.faiss", settings.dense) if dense else None
        if store:
            self.sentence_vectors = np.load(folder / "sentence_vectors.npy", mmap_mode="r", allow_pickle=False)
            self.store = Store(folder / "store.sqlite", offsets)
        else:
            self.sentence_vectors = self.store = None

    def dense_search(self, query: np.ndarray, n: int, allowed: np.ndarray | None):
        """This segment's rows (its own) and inner products of the n chunks closest to ``query``, among ``allowed``
        (a mask of its rows) when given."""
        if allowed is not None:
            return dense_index.search(self.dense, query, n, allowed, self.settings.dense)
        # Deleted rows are few: ask for as many more and drop them, rather than filter every row.
        extra = 0 if self.alive is None else int((~self.alive).sum())
        ids, scores = dense_index.search(self.dense, query, n + extra, None, self.settings.dense)
        if self.alive is not None:
            keep = self.alive[ids]
            ids, scores = ids[keep][:n], scores[keep][:n]
        return ids, scores

    def close(self) -> None:
        if self.store is not None:
            self.store.close()
