"""Approximate dense search (HNSW) agrees with exact search on a generated, clustered collection."""
import dataclasses

import numpy as np

from qa import dense
from qa.config import DenseSettings


def unit(x):
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def clustered(n, dim, clusters, rng):
    """Vectors around topic centres (cosine about 0.7 to their centre), as sentence embeddings of an archive are;
    uniformly random vectors, with no neighbourhoods at all, would say nothing about real search."""
    centres = unit(rng.normal(size=(clusters, dim)))
    return unit(centres[rng.integers(0, clusters, n)] + rng.normal(size=(n, dim)) / np.sqrt(dim))


def test_hnsw_recall_at_10_against_exact(tmp_path):
    rng = np.random.default_rng(7)
    vectors = clustered(20_000, 384, 200, rng)
    queries = unit(vectors[rng.integers(0, len(vectors), 200)] + 0.5 * rng.normal(size=(200, 384)) / np.sqrt(384))
    settings = DenseSettings(exact_below=10_000)
    approx, params = dense.build(vectors, settings)
    assert params == {"type": "hnsw", "m": settings.hnsw_m, "ef_construction": settings.ef_construction}
    exact, exact_params = dense.build(vectors, dataclasses.replace(settings, exact_below=10**9))
    assert exact_params == {"type": "flat"}
    dense.save(approx, tmp_path / "chunks.faiss")
    approx = dense.load(tmp_path / "chunks.faiss", settings)
    assert approx.hnsw.efSearch == settings.ef_search
    found = []
    for q in queries:
        truth, _ = dense.search(exact, q, 10, None, settings)
        got, scores = dense.search(approx, q, 10, None, settings)
        assert list(scores) == sorted(scores, reverse=True)
        found.append(len(set(truth) & set(got)) / 10)
    assert np.mean(found) >= 0.98


def test_filtered_search_returns_only_allowed_rows():
    rng = np.random.default_rng(3)
    vectors = clustered(12_000, 64, 20, rng)
    settings = DenseSettings(exact_below=10_000)
    index, _ = dense.build(vectors, settings)
    allowed = np.zeros(len(vectors), dtype=bool)
    allowed[::7] = True
    rows, _ = dense.search(index, vectors[5], 20, allowed, settings)
    assert len(rows) == 20 and allowed[rows].all()
