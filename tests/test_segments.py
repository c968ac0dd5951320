"""The segmented index: after additions, changes, removals and merges it scores exactly as a fresh single build of
the same collection; a build or merge killed with SIGKILL leaves the last commit answering."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from qa.build import build_index
from qa.config import SegmentSettings, Settings
from qa.index import Index
from qa.text import tokenize

REPO = Path(__file__).resolve().parent.parent


class HashEncoder:
    """Unit vectors fixed by each text's hash: the same text gets the same vector in every build, at no model cost."""

    dim = 32

    def encode(self, texts, progress=None):
        rows = [np.random.default_rng(int(hashlib.sha256(t.encode()).hexdigest()[:12], 16)).standard_normal(self.dim)
                for t in texts]
        out = np.array(rows, dtype=np.float32).reshape(len(texts), self.dim)
        if progress:
            progress(len(texts))
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)

    def encode_query(self, text):
        return self.encode([text])[0]


def _key(index: Index, row: int) -> tuple:
    chunk = index.store.chunk(int(row))
    return chunk.article_id, chunk.start, chunk.end


def assert_same_retrieval(segmented: Index, fresh: Index, queries: list[str], encoder) -> None:
    """BM25 scores of every matching chunk equal (1e-6), and the top-10 of BM25 and of dense search the same."""
    assert segmented.article_ids() == fresh.article_ids()
    assert segmented.bm25.n_docs == fresh.bm25.n_docs
    for query in queries:
        tokens = tokenize(query)
        got = {_key(segmented, r): s for r, s in zip(*segmented.bm25.matches(tokens))}
        want = {_key(fresh, r): s for r, s in zip(*fresh.bm25.matches(tokens))}
        assert got.keys() == want.keys(), query
        assert max((abs(got[k] - want[k]) for k in want), default=0) <= 1e-6, query
        top = lambda scores: sorted(scores, key=lambda k: (-round(scores[k], 6), k))[:10]  # noqa: E731
        assert top(got) == top(want), query
        vector = encoder.encode_query(query)
        (rows, scores), (fresh_rows, fresh_scores) = (index.dense_search(vector, 10) for index in (segmented, fresh))
        # The model's vectors of a text differ by ~1e-5 with the batch it was encoded in.
        assert [_key(segmented, r) for r in rows] == [_key(fresh, r) for r in fresh_rows], query
        assert np.allclose(scores, fresh_scores, atol=1e-4), query


def _settings(corpus: Path, index_dir: Path, **segments) -> Settings:
    return dataclasses.replace(Settings.from_env(corpus_dir=corpus, index_dir=index_dir),
                               segments=SegmentSettings(**segments))


def test_bundled_collection_segmented_equals_a_fresh_build(tmp_path, encoder):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    files = sorted((REPO / "corpus").glob("*.txt"))
    settings = _settings(corpus, tmp_path / "index", merge_factor=3)
    for path in files[:3]:  # one article at a time: a segment each, merged three by three
        shutil.copy(path, corpus / path.name)
        build_index(settings, encoder=encoder, progress=False)
    for path in files[3:]:
        shutil.copy(path, corpus / path.name)
    (corpus / files[0].name).write_text(files[0].read_text() + "\n\nThe talks will resume in Geneva next spring.\n")
    (corpus / files[1].name).unlink()
    report = build_index(settings, encoder=encoder, progress=False, allow_shrink=True)
    assert report.segments == 2 and report.removed_articles == 1 and report.articles == 4
    manifest = json.loads((settings.index_dir / "builds" / (settings.index_dir / "CURRENT").read_text()
                           / "manifest.json").read_text())
    assert sum(len(s["deleted"]) for s in manifest["segments"]) == 2  # the changed and the removed file

    fresh_settings = _settings(corpus, tmp_path / "fresh")
    assert build_index(fresh_settings, encoder=encoder, progress=False).segments == 1
    segmented, fresh = Index.open(settings.index_dir, settings), Index.open(fresh_settings.index_dir, fresh_settings)
    queries = ["What was agreed in San Francisco?", "Blinken Qin Gang Beijing", "Taiwan", "Geneva spring talks",
               "military contacts fentanyl", "Busan meeting Trump Xi", "zebra"]
    assert_same_retrieval(segmented, fresh, queries, encoder)

    optimized = build_index(settings, encoder=encoder, progress=False, optimize=True)
    assert optimized.segments == 1 and optimized.articles == 4 and optimized.embedded_texts == 0
    merged = Index.open(settings.index_dir, settings)
    assert not any(s["deleted"] for s in merged.manifest["segments"])
    assert_same_retrieval(merged, fresh, queries, encoder)


def test_scifact_segmented_equals_a_fresh_build(tmp_path):
    from eval.datasets import load_beir

    scifact = load_beir()
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    docs = scifact.documents
    parts = [docs[i:i + 500] for i in range(0, len(docs), 500)]

    def write(n: int, part, suffix: str = "") -> None:
        with open(corpus / f"part{n:02d}.jsonl", "w") as out:
            for d in part:
                out.write(json.dumps({"id": d.id, "title": d.title, "text": d.text + suffix}) + "\n")

    encoder = HashEncoder()
    settings = _settings(corpus, tmp_path / "index", max_chunks=4000)
    for n, part in enumerate(parts[:6]):
        write(n, part)
    build_index(settings, encoder=encoder, progress=False)
    for n, part in enumerate(parts[6:], start=6):
        write(n, part)
    write(2, parts[2][:300], " Revised.")  # a changed file: 200 articles fewer, the rest changed
    (corpus / "part04.jsonl").unlink()
    report = build_index(settings, encoder=encoder, progress=False)
    assert report.segments >= 3 and report.removed_articles == 700

    fresh_settings = _settings(corpus, tmp_path / "fresh", max_chunks=10**9)
    assert build_index(fresh_settings, encoder=encoder, progress=False).segments == 1
    segmented, fresh = Index.open(settings.index_dir, settings), Index.open(fresh_settings.index_dir, fresh_settings)
    assert_same_retrieval(segmented, fresh, [q.question for q in scifact.questions[:50]], encoder)


KILLED_BUILD = r"""
import sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[4])
from qa.build import build_index
from qa.config import Settings
from qa.merge import SegmentWriter
from tests.test_segments import HashEncoder

marker, stage = Path(sys.argv[3]), sys.argv[5]

class Stalling(HashEncoder):
    def encode(self, texts, progress=None):
        marker.write_text("embedding")
        time.sleep(60)

finish = SegmentWriter.finish
def stalling_finish(self, progress=None):
    marker.write_text("merging")
    time.sleep(60)
SegmentWriter.finish = stalling_finish

settings = Settings.from_env(corpus_dir=sys.argv[1], index_dir=sys.argv[2])
build_index(settings, encoder=Stalling() if stage == "add" else HashEncoder(), progress=False,
            optimize=stage == "merge")
"""


@pytest.mark.parametrize("stage", ["add", "merge"])
def test_kill_9_during_an_add_or_a_merge_leaves_the_last_commit_answering(tmp_path, stage):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for path in sorted((REPO / "corpus").glob("*.txt"))[:3]:
        shutil.copy(path, corpus / path.name)
        build_index(_settings(corpus, tmp_path / "index"), encoder=HashEncoder(), progress=False)
    settings = _settings(corpus, tmp_path / "index")
    before = Index.open(settings.index_dir, settings).article_ids()
    if stage == "add":
        shutil.copy(sorted((REPO / "corpus").glob("*.txt"))[3], corpus)
    marker = tmp_path / "marker"
    process = subprocess.Popen([sys.executable, "-c", KILLED_BUILD, str(corpus), str(settings.index_dir),
                                str(marker), str(REPO), stage], cwd=REPO)
    try:
        deadline = time.monotonic() + 120
        while not marker.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert marker.exists(), "the build never reached the stage to kill"
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    index = Index.open(settings.index_dir, settings)
    assert index.article_ids() == before and len(index.manifest["segments"]) == 3
    rows, _ = index.bm25.matches(tokenize("San Francisco summit"))
    assert len(rows)
    report = build_index(settings, encoder=HashEncoder(), progress=False, optimize=stage == "merge")
    assert report.articles == len(before) + (stage == "add")
    assert [p.name for p in (settings.index_dir / "builds").iterdir()] == [(settings.index_dir / "CURRENT").read_text()]


def test_tiered_merge_policy():
    from qa.merge import pick

    def seg(name, chunks, deleted=()):
        return {"name": name, "live": {"chunks": chunks}, "deleted": list(deleted)}

    policy = SegmentSettings(merge_factor=3, max_merged_chunks=100)
    small = [seg(f"s{i}", 4) for i in range(3)]
    assert pick([seg("big", 5000)] + small[:2], policy, False) == []  # two of a tier: not yet
    assert pick([seg("big", 5000)] + small, policy, False) == small  # three: merged
    assert pick([seg("a", 40), seg("b", 50), seg("c", 30)], policy, False) == []  # would pass max_merged_chunks
    tier1 = [seg(f"t{i}", 12) for i in range(4)]
    assert pick(tier1, policy, False) == tier1[:3]  # merge_factor of them, not more
    assert pick([seg("only", 10)], policy, True) == []  # nothing to optimize
    assert pick([seg("only", 10, deleted=[3])], policy, True) != []  # but deleted rows to drop
