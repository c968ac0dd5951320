"""The index folder: its layout, its manifest, and ``Index.open`` (building it is ``qa.build``).

Layout: ``INDEX_DIR/CURRENT`` names the live build, ``INDEX_DIR/builds/<name>/`` holds it (manifest.json,
store.sqlite, bm25_*.npy, bm25_vocab.json, chunks.faiss, sentence_vectors.npy). A build is written to a new folder
and made live by replacing ``CURRENT`` in one atomic rename, so an interrupted or failed build (disk full included)
leaves the previous index usable. Nothing in the folder is pickled: loading it cannot run code.

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
from .store import Store

log = logging.getLogger(__name__)

FORMAT_VERSION = 2  # 2: article date sources and publishers, sentence event dates
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


def _well_formed(manifest: dict) -> bool:
    counts, files, records = manifest.get("counts"), manifest.get("files"), manifest.get("index_files", {})
    return (isinstance(counts, dict) and all(isinstance(counts.get(k), int) and counts[k] >= 0
                                             for k in ("articles", "chunks", "sentences"))
            and isinstance(files, dict) and isinstance(manifest.get("embedding_dim"), int)
            and isinstance(manifest.get("skipped", []), list) and isinstance(records, dict)
            and all(isinstance(name, str) and "/" not in name and isinstance(r, dict)
                    and isinstance(r.get("bytes"), int) for name, r in records.items()))


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
    """Every file the manifest lists is there, with its recorded size (and checksum); builds made before sizes were
    recorded have nothing to check."""
    for name, record in manifest.get("index_files", {}).items():
        try:
            size = (folder / name).stat().st_size
        except OSError:
            raise IndexDamaged(index_dir, f"{name} missing") from None
        if size != record["bytes"] or ("sha256" in record and sha256_file(folder / name) != record["sha256"]):
            raise IndexDamaged(index_dir, name)


def _file_records(folder: Path) -> dict:
    records = {}
    for path in sorted(folder.iterdir()):
        if path.name == "manifest.json":
            continue
        size = path.stat().st_size
        records[path.name] = {"bytes": size, **({"sha256": sha256_file(path)} if size <= CHECKSUM_MAX_BYTES else {})}
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
    """A built index opened for search: BM25 arrays, the faiss index, sentence vectors and the chunk store."""

    def __init__(self, folder: Path, manifest: dict, settings: Settings):
        self.folder = folder
        self.manifest = manifest
        index_dir = folder.parent.parent
        counts = manifest["counts"]
        n_chunks = counts["chunks"]
        with _damage_named(index_dir, "bm25 files"):
            self.bm25 = BM25Index.load(folder, n_chunks)
        with _damage_named(index_dir, "chunks.faiss"):
            self.dense = dense_index.load(folder / "chunks.faiss", settings.dense)
        if self.dense.ntotal != n_chunks:
            raise IndexDamaged(index_dir, "chunks.faiss")
        with _damage_named(index_dir, "sentence_vectors.npy"):
            self.sentence_vectors = np.load(folder / "sentence_vectors.npy", mmap_mode="r", allow_pickle=False)
        if self.sentence_vectors.shape != (counts["sentences"], self.dense.d):
            raise IndexDamaged(index_dir, "sentence_vectors.npy")
        with _damage_named(index_dir, "store.sqlite"):
            self.store = Store(folder / "store.sqlite")
        if len(self.store.chunk_article) != n_chunks or len(self.store.article_dates) != counts["articles"]:
            self.store.close()
            raise IndexDamaged(index_dir, "store.sqlite")

    @classmethod
    def open(cls, index_dir: Path, settings: Settings) -> "Index":
        folder = current_build(index_dir)
        if folder is None and not any(p.name not in (".lock", "builds") for p in _entries(index_dir)):
            raise IndexMissing(f"{index_dir}: no index yet; build it with `qa index`")
        if folder is None:
            raise IndexMismatch(f"{index_dir}: not an index this version can read; "
                                "rebuild it with `qa index --rebuild`")
        manifest = load_manifest(folder, index_dir)
        check_manifest(manifest, settings, index_dir)
        verify_files(folder, manifest, index_dir)
        return cls(folder, manifest, settings)

    def article_ids(self) -> set[str]:
        return {row[0] for row in self.store.db.execute("SELECT id FROM articles")}

    def chunk_vectors(self, rows) -> np.ndarray:
        if not len(rows):
            return np.zeros((0, self.dense.d), dtype=np.float32)
        return self.dense.reconstruct_batch(np.asarray(rows, dtype=np.int64))

    def close(self) -> None:
        self.store.close()


def _entries(folder: Path) -> list[Path]:
    return list(folder.iterdir()) if folder.is_dir() else []
