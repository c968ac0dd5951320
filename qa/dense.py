"""The dense chunk index: exact inner-product search for small collections, HNSW above a size threshold.

What was built is recorded in the manifest (``{"type": "flat"}`` or ``{"type": "hnsw", "m", "ef_construction"}``);
the search-time breadth ``ef_search`` is a setting, applied when the index is opened.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .config import DenseSettings


ADD_BLOCK = 65_536  # vectors added per call, so that a long HNSW construction can report progress


def build(vectors: np.ndarray, settings: DenseSettings, progress=None):
    """A faiss index over unit vectors (inner product = cosine), and its manifest entry."""
    n, dim = vectors.shape
    return build_from_blocks((vectors[lo:lo + ADD_BLOCK] for lo in range(0, n, ADD_BLOCK)), n, dim, settings,
                             progress)


def build_from_blocks(blocks, n: int, dim: int, settings: DenseSettings, progress=None):
    """A faiss index over n unit vectors of ``dim`` (inner product = cosine), given as an iterable of row blocks,
    and its manifest entry. ``progress`` is called with the number of vectors added."""
    import faiss

    if n < settings.exact_below:
        index, params = faiss.IndexFlatIP(dim), {"type": "flat"}
    else:
        index = faiss.IndexHNSWFlat(dim, settings.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = settings.ef_construction
        params = {"type": "hnsw", "m": settings.hnsw_m, "ef_construction": settings.ef_construction}
    for block in blocks:
        index.add(np.ascontiguousarray(block, dtype=np.float32))
        if progress:
            progress(len(block))
    return index, params


def save(index, path: Path) -> None:
    import faiss

    faiss.write_index(index, str(path))


def load(path: Path, settings: DenseSettings):
    import faiss

    index = faiss.read_index(str(path))
    if isinstance(index, faiss.IndexHNSW):
        index.hnsw.efSearch = settings.ef_search
    return index


def search(index, query: np.ndarray, n: int, allowed: np.ndarray | None, settings: DenseSettings):
    """Rows and scores of the n best chunks (among ``allowed`` rows when given), best first."""
    import faiss

    q = np.ascontiguousarray(query, dtype=np.float32)[None, :]
    n = min(n, index.ntotal if allowed is None else int(allowed.sum()))
    if n <= 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    params = None
    if allowed is not None:
        selector = faiss.IDSelectorBatch(np.nonzero(allowed)[0].astype(np.int64))
        if isinstance(index, faiss.IndexHNSW):
            params = faiss.SearchParametersHNSW(sel=selector, efSearch=max(settings.ef_search, n))
        else:
            params = faiss.SearchParameters(sel=selector)
    scores, ids = index.search(q, n, params=params)
    keep = ids[0] >= 0
    return ids[0][keep], scores[0][keep]


def best(found: list[tuple[np.ndarray, np.ndarray]], n: int) -> tuple[np.ndarray, np.ndarray]:
    """The n best (row, score) pairs of several searches, best first."""
    if not found:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    rows, scores = np.concatenate([r for r, _ in found]), np.concatenate([s for _, s in found])
    order = np.argsort(-scores, kind="stable")[:n]
    return rows[order], scores[order]
