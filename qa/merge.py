"""Merging segments, so that many small additions do not leave many small segments to search.

Tiered, as Lucene's policy: a segment's tier is the power of ``merge_factor`` its live chunk count is in (1-9
chunks, 10-99, ...); when a tier holds ``merge_factor`` segments, they are merged into one (of the next tier), while the
result stays under ``max_merged_chunks`` (bigger merges take memory and time; ``qa index --optimize`` merges
everything into one). A merge copies the live rows only, so it also drops deleted articles for good. Rows are copied
in bulk: the store with SQL, postings as sparse arrays, vectors in blocks from the segments' files.
"""
from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING

import numpy as np

from . import dense as dense_index
from .bm25 import Postings
from .config import SegmentSettings
from .segment import VECTOR_BLOCK, SegmentWriter

if TYPE_CHECKING:
    from .commit import BuildRun

log = logging.getLogger("qa.build")


def pick(segments: list[dict], settings: SegmentSettings, optimize: bool) -> list[dict]:
    """The segments to merge next (none: nothing to merge)."""
    if optimize:
        return segments if len(segments) > 1 or any(s["deleted"] for s in segments) else []
    tiers: dict[int, list[dict]] = {}
    for seg in segments:
        size = seg["live"]["chunks"]
        if size < settings.max_merged_chunks:
            tiers.setdefault(int(math.log(max(size, 1), settings.merge_factor)), []).append(seg)
    for tier in sorted(tiers):
        group = sorted(tiers[tier], key=lambda s: s["live"]["chunks"])[:settings.merge_factor]
        if len(group) >= settings.merge_factor and \
                sum(s["live"]["chunks"] for s in group) <= settings.max_merged_chunks:
            return group
    return []


def merge_segments(run: "BuildRun", optimize: bool, progress: bool) -> None:
    """Merges what ``pick`` chooses, committing each merge, until nothing is left to merge."""
    while group := pick(run.commit.segments, run.settings.segments, optimize):
        optimize = False  # one merge of everything is enough
        folder = run.new_segment()
        writer = SegmentWriter(folder, run.settings, run.report.dim)
        for seg in group:
            _copy_live(writer, run.commit.places[seg["name"]], seg["deleted"], run.settings)
        info = writer.finish(progress=None)
        log.info("merged %d segments into one of %d chunks", len(group), info.counts["chunks"])
        first = min(run.commit.segments.index(s) for s in group)
        run.commit.drop({s["name"] for s in group})
        encoders = [s.get("encoder") for s in group]
        run.commit.add(info, folder, encoders[0] if all(e == encoders[0] for e in encoders) else None, at=first)
        run.go_live()


def _copy_live(writer: SegmentWriter, place, deleted: list[int], settings) -> None:
    chunks, sentences = writer.store.append_segment(place / "store.sqlite", deleted)
    writer.add_postings(Postings.load(place), chunks)
    dense = dense_index.load(place / "chunks.faiss", settings.dense)
    vectors = np.load(place / "sentence_vectors.npy", mmap_mode="r", allow_pickle=False)
    empty = np.zeros((0, writer.dim), dtype=np.float32)
    for lo in range(0, len(chunks), VECTOR_BLOCK):
        writer.add_vectors(dense.reconstruct_batch(chunks[lo:lo + VECTOR_BLOCK]), empty)
    for lo in range(0, len(sentences), VECTOR_BLOCK):
        writer.add_vectors(empty, vectors[sentences[lo:lo + VECTOR_BLOCK]])
