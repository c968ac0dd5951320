"""`qa index --ray` on a local Ray instance builds the same index as a local build: the same articles and chunks, BM25
scores equal, vectors within 1e-3, the same answers. Runs when the ray extra is installed (scripts/test installs it)."""
from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from qa.assistant import Assistant
from qa.build import build_index
from qa.config import Settings
from qa.index import Index

from test_segments import assert_same_retrieval

ray = pytest.importorskip("ray")
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def _same_vectors(a: Index, b: Index) -> None:
    for article_id in a.article_ids():
        rows = [index.store.chunk_windows(index.store.article_index(article_id)) for index in (a, b)]
        assert len(rows[0][1]) == len(rows[1][1])
        span = [np.arange(first, first + len(windows)) for first, windows in rows]
        assert np.abs(a.chunk_vectors(span[0]) - b.chunk_vectors(span[1])).max() <= 1e-3


def test_ray_build_of_the_bundled_collection_equals_a_local_build(local_ray, tmp_path, bundled_settings, assistant,
                                                                  encoder):
    corpus = tmp_path / "corpus"
    shutil.copytree(REPO / "corpus", corpus)
    (corpus / "unreadable.pdf").write_bytes(b"%PDF-1.4 not really")
    settings = Settings.from_env(corpus_dir=corpus, index_dir=tmp_path / "index")
    report = build_index(settings, ray="local", ray_workers=2, progress=False)
    assert report.articles == 5 and report.chunks == len(assistant.index.store.chunk_article)
    assert [s.path.endswith("unreadable.pdf") for s in report.skipped] == [True]
    on_ray, local = Index.open(settings.index_dir, settings), assistant.index
    assert len(on_ray.manifest["segments"]) > 1  # written by several actors
    assert_same_retrieval(on_ray, local, ["What was agreed in San Francisco?", "Taiwan", "Busan Trump Xi"], encoder)
    _same_vectors(on_ray, local)
    questions = [json.loads(line)["question"] for line in (REPO / "eval" / "sets" / "collection.jsonl").open()]
    bot = Assistant(settings, build_if_missing=False, encoder=encoder)
    for question in questions:
        assert bot.ask(question, fast=True).answer == assistant.ask(question, fast=True).answer, question


def test_ray_build_of_scifact_equals_a_local_build(local_ray, tmp_path, encoder):
    from eval.datasets import load_beir

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    docs = load_beir().documents[:120]
    for n in range(0, len(docs), 20):
        with open(corpus / f"part{n:04d}.jsonl", "w") as out:
            for d in docs[n:n + 20]:
                out.write(json.dumps({"id": d.id, "title": d.title, "text": d.text}) + "\n")
    local = Settings.from_env(corpus_dir=corpus, index_dir=tmp_path / "local")
    build_index(local, encoder=encoder, progress=False)
    remote = Settings.from_env(corpus_dir=corpus, index_dir=tmp_path / "ray")
    build_index(remote, ray="local", ray_workers=2, progress=False)
    a, b = Index.open(remote.index_dir, remote), Index.open(local.index_dir, local)
    assert_same_retrieval(a, b, [q.question for q in load_beir().questions[:30]], encoder)
    _same_vectors(a, b)


def test_a_failed_ray_build_commits_nothing(local_ray, tmp_path, encoder):
    corpus = tmp_path / "corpus"
    shutil.copytree(REPO / "corpus", corpus)
    settings = Settings.from_env(corpus_dir=corpus, index_dir=tmp_path / "index")
    build_index(settings, encoder=encoder, progress=False)
    live = (settings.index_dir / "CURRENT").read_text()
    broken = dataclasses.replace(settings, model=str(tmp_path / "no-such-model"))  # every actor fails to load it
    with pytest.raises(Exception, match="no-such-model"):
        build_index(broken, ray="local", ray_workers=1, progress=False, rebuild=True)
    assert (settings.index_dir / "CURRENT").read_text() == live
    assert [p.name for p in (settings.index_dir / "builds").iterdir()] == [live]
    assert Index.open(settings.index_dir, settings).article_ids() == assistant_ids(corpus)


def assistant_ids(corpus: Path) -> set[str]:
    return {p.stem for p in corpus.glob("*.txt")}


def test_sharded_serving_answers_as_one_process(local_ray, tmp_path, encoder):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    settings = Settings.from_env(corpus_dir=corpus, index_dir=tmp_path / "index")
    for path in sorted((REPO / "corpus").glob("*.txt")):  # a segment per article
        shutil.copy(path, corpus)
        build_index(settings, encoder=encoder, progress=False)
    (corpus / sorted(p.name for p in corpus.iterdir())[1]).unlink()  # and a deleted one
    build_index(settings, encoder=encoder, progress=False)
    one = Assistant(settings, build_if_missing=False, encoder=encoder)
    sharded = Assistant(dataclasses.replace(settings, ray="local", ray_shards=4), build_if_missing=False,
                        encoder=encoder)
    assert len(sharded.index.shards.actors) == 4 and len(sharded.index.segments) == 5
    assert_same_retrieval(sharded.index, one.index, ["What was agreed in San Francisco?", "Taiwan"], encoder)
    questions = [json.loads(line)["question"] for line in (REPO / "eval" / "sets" / "collection.jsonl").open()]
    for question in questions:
        assert sharded.ask(question, fast=True).answer == one.ask(question, fast=True).answer, question
    sharded.index.close()
