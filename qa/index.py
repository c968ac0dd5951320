"""The index folder: its layout, its manifest, and ``Index.open`` (building it is ``qa.build``).

Layout: ``INDEX_DIR/CURRENT`` names the live commit, ``INDEX_DIR/builds/<name>/`` holds it: ``manifest.json`` names
its segments, in order, and the articles deleted from each; each segment is a folder of immutable files (see
``qa.segment``). Adding articles writes a new segment; a changed or removed file's articles are marked deleted. A commit
is written to a new folder, the segments it keeps hard-linked into it (their files are never written again), and made
live by replacing ``CURRENT`` in one atomic rename, so an interrupted or failed build (disk full and kill -9 included)
leaves the last commit usable. Nothing in the folder is pickled: loading it cannot run code.

The manifest records the size of every other file of its build, and the SHA-256 of those up to 16 MB (hashing the big
ones at every open would cost more than it finds: a truncated file changes size). ``Index.open`` checks them, so a
damaged index says so in one line, and a plain build replaces it from the corpus, keeping the damaged build aside as
``builds/<name>.damaged``. A build that would remove more than half of the index's articles (an emptied or wrong
corpus folder) is refused unless ``allow_shrink``.
"""
from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

import numpy as np

from . import dense as dense_index
from .bm25 import BM25Index
from .config import Settings
from .segment import OpenSegment
from .store import Offsets, SegmentedStore

log = logging.getLogger(__name__)

FORMAT_VERSION = 3  # 2: article date sources and publishers, sentence event dates; 3: segments
CHECKSUM_MAX_BYTES = 16 * 2**20  # index files up to this size also get a SHA-256, checked at every open
DAMAGED_SUFFIX = ".damaged"


class IndexError_(Exception):
    """The index cannot be used; the message says what to do."""


class IndexMissing(IndexError_):
    pass


class IndexMismatch(IndexError_):
    pass


class IndexDamaged(IndexError_):
    """A file of the live build is missing, truncated or corrupt; ``part`` names it."""

    def __init__(self, index_dir: Path, part: str):
        super().__init__(f"index at {index_dir} is damaged ({part}): run `qa index --rebuild`")
        self.index_dir, self.part = index_dir, part


class IndexShrink(IndexError_):
    """The build would remove most of the index; ``allow_shrink`` lets it."""


class IndexWriteError(IndexError_):
    """The build could not be written (disk full, no permission); the previous index is kept."""


def _compat(settings: Settings) -> dict:
    """What an index must have been built with to be used (or updated) with these settings."""
    return {
        "format_version": FORMAT_VERSION,
        "model": settings.model,
        "chunking": asdict(settings.chunking),
        "bm25": {"k1": settings.retrieval.bm25_k1, "b": settings.retrieval.bm25_b,
                 "epsilon": settings.retrieval.bm25_epsilon},
        "max_sentence_chars": settings.limits.max_sentence_chars,
    }


def current_build(index_dir: Path) -> Path | None:
    """The live build's folder, as ``CURRENT`` names it; None when there is none."""
    pointer = index_dir / "CURRENT"
    try:
        name = pointer.read_text().strip() if pointer.is_file() else ""
    except (OSError, ValueError):  # unreadable or not text: no usable pointer
        return None
    if not name or "/" in name or name in (".", ".."):
        return None
    folder = index_dir / "builds" / name
    return folder if folder.is_dir() else None


def read_manifest(index_dir: Path) -> dict | None:
    folder = current_build(index_dir)
    return load_manifest(folder, index_dir) if folder else None


def load_manifest(folder: Path, index_dir: Path) -> dict:
    """A build's manifest; IndexDamaged when it is missing, unreadable or not what a build of this format writes."""
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
    except FileNotFoundError:
        raise IndexDamaged(index_dir, "manifest.json missing") from None
    except (OSError, ValueError):
        raise IndexDamaged(index_dir, "manifest.json") from None
    if not isinstance(manifest, dict):
        raise IndexDamaged(index_dir, "manifest.json")
    # Another format's manifest is for check_manifest to refuse by its version, not to call damaged.
    if manifest.get("format_version") == FORMAT_VERSION and not _well_formed(manifest):
        raise IndexDamaged(index_dir, "manifest.json")
    return manifest


def _counts_ok(counts) -> bool:
    return isinstance(counts, dict) and all(isinstance(counts.get(k), int) and counts[k] >= 0
                                            for k in ("articles", "chunks", "sentences"))


def _well_formed(manifest: dict) -> bool:
    files, records, segments = manifest.get("files"), manifest.get("index_files"), manifest.get("segments")
    return (_counts_ok(manifest.get("counts")) and isinstance(files, dict)
            and isinstance(manifest.get("embedding_dim"), int) and isinstance(manifest.get("skipped", []), list)
            and isinstance(segments, list)
            and all(isinstance(seg, dict) and isinstance(seg.get("name"), str) and "/" not in seg["name"]
                    and seg["name"] not in (".", "..", "") and _counts_ok(seg.get("counts"))
                    and isinstance(seg.get("deleted"), list) and all(isinstance(a, int) for a in seg["deleted"])
                    for seg in segments)
            and isinstance(records, dict)
            and all(isinstance(name, str) and name.count("/") == 1 and ".." not in name.split("/")
                    and isinstance(r, dict) and isinstance(r.get("bytes"), int) for name, r in records.items()))


def check_manifest(manifest: dict, settings: Settings, index_dir: Path) -> None:
    want = _compat(settings)
    if manifest.get("format_version") != FORMAT_VERSION:
        raise IndexMismatch(f"{index_dir}: index format {manifest.get('format_version')} is not this version's "
                            f"({FORMAT_VERSION}); rebuild it with `qa index --rebuild`")
    for key in ("model", "chunking", "bm25", "max_sentence_chars"):
        if key == "max_sentence_chars" and key not in manifest:
            continue  # built before the limit was recorded
        if manifest.get(key) != want[key]:
            raise IndexMismatch(f"{index_dir}: index was built with {key} {manifest.get(key)!r}, but the settings "
                                f"ask for {want[key]!r}; rebuild it with `qa index --rebuild`")


def verify_files(folder: Path, manifest: dict, index_dir: Path) -> None:
    """Every segment file the manifest lists is there, with its recorded size (and checksum)."""
    for name, record in manifest.get("index_files", {}).items():
        try:
            size = (folder / name).stat().st_size
        except OSError:
            raise IndexDamaged(index_dir, f"{name} missing") from None
        if size != record["bytes"] or ("sha256" in record and sha256_file(folder / name) != record["sha256"]):
            raise IndexDamaged(index_dir, name)


def file_records(segment: Path) -> dict:
    """Size (and checksum) of each file of a segment folder, named ``<segment>/<file>``."""
    records = {}
    for path in sorted(segment.iterdir()):
        size = path.stat().st_size
        records[f"{segment.name}/{path.name}"] = {
            "bytes": size, **({"sha256": sha256_file(path)} if size <= CHECKSUM_MAX_BYTES else {})}
    return records


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@contextmanager
def _damage_named(index_dir: Path, part: str):
    """What a loader raises on a file that passed the size check but is still corrupt, as IndexDamaged."""
    try:
        yield
    except (OSError, ValueError, RuntimeError, KeyError, IndexError, TypeError, EOFError, sqlite3.Error):
        raise IndexDamaged(index_dir, part) from None


class Index:
    """An opened commit: its segments (BM25 postings, faiss index, sentence vectors, store each) searched as one
    collection, rows numbered across segments in order; deleted articles' rows keep their numbers but are never
    returned (``store.alive_chunk``) and count in no statistic."""

    def __init__(self, folder: Path, manifest: dict, settings: Settings, shards=None):
        self.folder, self.manifest, self.settings = folder, manifest, settings
        index_dir = folder.parent.parent
        self.dim = manifest["embedding_dim"]
        self.segments: list[OpenSegment] = []
        self.shards = None
        dead, at = [], Offsets()
        try:
            for seg in manifest["segments"]:
                with _damage_named(index_dir, seg["name"]):
                    opened = OpenSegment(folder / seg["name"], at, settings, dense=shards is None)
                self.segments.append(opened)
                counts = seg["counts"]
                if ((opened.dense is not None and opened.dense.ntotal != counts["chunks"])
                        or len(opened.store.chunk_article) != counts["chunks"]
                        or opened.sentence_vectors.shape != (counts["sentences"], self.dim)
                        or opened.postings.n_chunks != counts["chunks"]
                        or len(opened.store.article_dates) != counts["articles"]
                        or any(not 0 <= a < counts["articles"] for a in seg["deleted"])):
                    raise IndexDamaged(index_dir, seg["name"])
                dead += [at.article + a for a in seg["deleted"]]
                at = Offsets(at.article + counts["articles"], at.sentence + counts["sentences"],
                             at.chunk + counts["chunks"])
        except BaseException:
            self.close()
            raise
        self.store = SegmentedStore([s.store for s in self.segments], np.array(dead, dtype=np.int64))
        self.chunk_starts = np.array([s.offsets.chunk for s in self.segments], dtype=np.int64)
        self.chunk_ends = self.chunk_starts + [s.postings.n_chunks for s in self.segments]
        self.sentence_starts = np.array([s.offsets.sentence for s in self.segments], dtype=np.int64)
        for seg, lo, hi in zip(self.segments, self.chunk_starts, self.chunk_ends):
            alive = self.store.alive_chunk[lo:hi]  # which of its chunks are not deleted; None when all are
            seg.alive = None if alive.all() else alive
        r = settings.retrieval
        self.bm25 = BM25Index([s.postings for s in self.segments], [s.alive for s in self.segments],
                              k1=r.bm25_k1, b=r.bm25_b, epsilon=r.bm25_epsilon)
        if shards is not None:
            self.shards = shards(self)  # searches (BM25 and dense) on Ray actors: qa.distributed.Shards
            self.bm25.scorer = self.shards

    @classmethod
    def open(cls, index_dir: Path, settings: Settings, shards=None) -> "Index":
        """The live commit, checked; ``shards``: a factory of the Ray actors that search it (None: this process)."""
        folder = current_build(index_dir)
        if folder is None and not any(p.name not in (".lock", "builds") for p in _entries(index_dir)):
            raise IndexMissing(f"{index_dir}: no index yet; build it with `qa index`")
        if folder is None:
            raise IndexMismatch(f"{index_dir}: not an index this version can read; "
                                "rebuild it with `qa index --rebuild`")
        manifest = load_manifest(folder, index_dir)
        check_manifest(manifest, settings, index_dir)
        verify_files(folder, manifest, index_dir)
        return cls(folder, manifest, settings, shards)

    def article_ids(self) -> set[str]:
        return {self.store.article(int(a)).id for a in self.store.live_articles()}

    def dense_search(self, query: np.ndarray, n: int, allowed: np.ndarray | None = None):
        """Rows and inner products of the n chunks closest to ``query`` (among ``allowed`` rows when given), best
        first: each segment's n best, merged."""
        if self.shards is not None:
            return self.shards.dense_search(query, n, allowed)
        found = []
        for seg, lo, hi in zip(self.segments, self.chunk_starts, self.chunk_ends):
            ids, scores = seg.dense_search(query, n, None if allowed is None else allowed[lo:hi])
            found.append((ids + lo, scores))
        return dense_index.best(found, n)

    def chunk_vectors(self, rows) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        if self.shards is not None:
            return self.shards.chunk_vectors(rows)
        out = np.zeros((len(rows), self.dim), dtype=np.float32)
        which = np.searchsorted(self.chunk_ends, rows, side="right")
        for i in np.unique(which):
            at = which == i
            seg = self.segments[i]
            out[at] = seg.dense.reconstruct_batch(rows[at] - seg.offsets.chunk)
        return out

    def sentence_vectors(self, rows) -> np.ndarray:
        """The sentences' vectors, as float32 (stored in half precision)."""
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        out = np.zeros((len(rows), self.dim), dtype=np.float32)
        which = np.searchsorted(self.sentence_starts, rows, side="right") - 1
        for i in np.unique(which):
            at = which == i
            seg = self.segments[i]
            out[at] = seg.sentence_vectors[rows[at] - seg.offsets.sentence]
        return out

    def close(self) -> None:
        for seg in self.segments:
            seg.close()
        if self.shards is not None:
            self.shards.close()


def _entries(folder: Path) -> list[Path]:
    return list(folder.iterdir()) if folder.is_dir() else []
