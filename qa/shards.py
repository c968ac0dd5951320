"""Searching an index from Ray actors (``qa ui --ray ADDRESS``, ``Assistant(settings)`` with ``settings.ray``).

The segments are placed on ``settings.ray_shards`` actors, balanced by size; each holds its segments' BM25 postings
and faiss indexes in its own memory, which is what grows with a collection. This process keeps the store and the
sentence vectors (memory-mapped, read per hit) and the collection-wide BM25 statistics, and fans each query out: the
query's terms with their idf go to every shard, which scores its postings with them, so the merged scores equal a
single process's; the dense search runs on every shard and the n best are merged. The selector runs here on the merged
hits, as without Ray.
"""
from __future__ import annotations

import logging

import numpy as np

from .config import Settings
from .dense import best
from .distributed import connect
from .segment import OpenSegment

log = logging.getLogger(__name__)


class Shard:
    """One actor's segments (search parts only); rows in and out are the index's."""

    def __init__(self, settings: Settings, segments: list[tuple], k1: float):
        import faiss

        faiss.omp_set_num_threads(1)  # one query at a time: threads would only contend with the other shards
        self.k1, self.segments, self.norms = k1, [], []
        for folder, offsets, alive, norm in segments:
            seg = OpenSegment(folder, offsets, settings, store=False)
            seg.alive = alive
            self.segments.append(seg)
            self.norms.append(norm)

    def bm25(self, query: dict) -> tuple[np.ndarray, np.ndarray]:
        rows, scores = [], []
        for seg, norm in zip(self.segments, self.norms):
            out = np.zeros(seg.postings.n_chunks)
            seg.postings.score(query, norm, seg.alive, self.k1, out)
            hit = np.flatnonzero(out > 0)
            rows.append(hit + seg.offsets.chunk)
            scores.append(out[hit])
        return np.concatenate(rows), np.concatenate(scores)

    def dense(self, query: np.ndarray, n: int, allowed: dict | None) -> tuple[np.ndarray, np.ndarray]:
        found = []
        for seg in self.segments:
            mask = None if allowed is None else allowed[seg.offsets.chunk]
            ids, scores = seg.dense_search(query, n, mask)
            found.append((ids + seg.offsets.chunk, scores))
        return best(found, n)

    def vectors(self, rows: np.ndarray) -> np.ndarray:
        out = np.zeros((len(rows), self.segments[0].dense.d), dtype=np.float32)  # only asked for rows it holds
        for seg in self.segments:
            at = (rows >= seg.offsets.chunk) & (rows < seg.offsets.chunk + seg.postings.n_chunks)
            if at.any():
                out[at] = seg.dense.reconstruct_batch(rows[at] - seg.offsets.chunk)
        return out


class Shards:
    """The actors searching one opened index, and the fan-out."""

    def __init__(self, index, address: str | None, n_shards: int):
        ray = connect(address, "searching from Ray actors (--ray, QA_RAY)")
        self.ray, self.dim = ray, index.dim
        order = sorted(range(len(index.segments)), key=lambda i: -index.segments[i].postings.n_chunks)
        placed: list[list[int]] = [[] for _ in range(max(1, min(n_shards, len(order))))]
        load = [0] * len(placed)
        for i in order:  # the biggest segment first, each to the emptiest shard
            target = int(np.argmin(load))
            placed[target].append(i)
            load[target] += index.segments[i].postings.n_chunks
        actor = ray.remote(num_cpus=0)(Shard)
        self.actors = [actor.remote(index.settings, [(index.segments[i].folder, index.segments[i].offsets,
                                                      index.segments[i].alive, index.bm25.norms[i]) for i in group],
                                    index.bm25.k1) for group in placed if group]
        self.starts = [[index.segments[i].offsets.chunk for i in group] for group in placed if group]
        self.ends = [[index.segments[i].offsets.chunk + index.segments[i].postings.n_chunks for i in group]
                     for group in placed if group]
        log.info("searching %d segments on %d Ray actors", len(order), len(self.actors))

    def bm25_matches(self, query: dict) -> tuple[np.ndarray, np.ndarray]:
        parts = self.ray.get([a.bm25.remote(query) for a in self.actors])
        if not parts:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        rows, scores = np.concatenate([r for r, _ in parts]), np.concatenate([s for _, s in parts])
        order = np.argsort(rows)
        return rows[order], scores[order]

    def dense_search(self, query: np.ndarray, n: int, allowed: np.ndarray | None):
        calls = []
        for actor, starts, ends in zip(self.actors, self.starts, self.ends):
            masks = None if allowed is None else {lo: allowed[lo:hi] for lo, hi in zip(starts, ends)}
            calls.append(actor.dense.remote(query, n, masks))
        return best(self.ray.get(calls), n)

    def chunk_vectors(self, rows: np.ndarray) -> np.ndarray:
        out = np.zeros((len(rows), self.dim), dtype=np.float32)
        for actor, starts, ends in zip(self.actors, self.starts, self.ends):
            mine = np.zeros(len(rows), dtype=bool)
            for lo, hi in zip(starts, ends):
                mine |= (rows >= lo) & (rows < hi)
            if mine.any():
                out[mine] = self.ray.get(actor.vectors.remote(rows[mine]))
        return out

    def close(self) -> None:
        for actor in self.actors:
            self.ray.kill(actor)
