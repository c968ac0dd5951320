"""Building, updating and reopening the index; refusing one built differently; surviving a failed build."""
import dataclasses
import json
import shutil

import numpy as np
import pytest

from qa.config import Settings
from qa.build import build_index
from qa.index import FORMAT_VERSION, Index, IndexMismatch, current_build, read_manifest


def settings_for(corpus, index_dir):
    return Settings.from_env(corpus_dir=corpus, index_dir=index_dir)


class CountingEncoder:
    """The real encoder, counting what it is asked to embed."""

    def __init__(self, encoder):
        self.inner, self.texts = encoder, []

    def encode(self, texts, progress=None):
        self.texts += texts
        return self.inner.encode(texts, progress)

    @property
    def dim(self):
        return self.inner.dim


class FailingEncoder(CountingEncoder):
    def encode(self, texts, progress=None):
        raise KeyboardInterrupt  # as if the user pressed Ctrl-C in the middle of embedding


def test_round_trip(assistant, bundled_settings):
    manifest = read_manifest(bundled_settings.index_dir)
    assert manifest["format_version"] == FORMAT_VERSION and manifest["model"] == "all-MiniLM-L6-v2"
    assert manifest["embedding_dim"] == 384 and manifest["counts"]["articles"] == 5
    assert set(manifest["files"]) == {p.stem for p in bundled_settings.corpus_dir.glob("*.txt")}
    folder = current_build(bundled_settings.index_dir)
    assert not list(folder.glob("**/*.pkl")) and not list(folder.glob("**/*.pickle"))
    reopened = Index.open(bundled_settings.index_dir, bundled_settings)
    chunk = reopened.store.chunk(3)
    article = reopened.store.article(reopened.store.article_index(chunk.article_id))
    assert chunk.text.startswith(" ".join(article.text[chunk.start:chunk.end].split())[:40])
    assert manifest["counts"]["chunks"] == len(reopened.store.chunk_article) == reopened.bm25.n_docs
    vectors = reopened.sentence_vectors(range(manifest["counts"]["sentences"]))
    assert vectors.shape == (manifest["counts"]["sentences"], 384)
    norms = np.linalg.norm(vectors, axis=1)
    assert np.allclose(norms, 1, atol=1e-2)


def test_index_built_with_another_model_or_format_is_refused(tmp_path, bundled_settings):
    index_dir = tmp_path / "index"
    shutil.copytree(bundled_settings.index_dir, index_dir)
    other = dataclasses.replace(settings_for(bundled_settings.corpus_dir, index_dir), model="some/other-model")
    with pytest.raises(IndexMismatch, match="rebuild"):
        Index.open(index_dir, other)
    manifest_path = current_build(index_dir) / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["format_version"] = 0
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(IndexMismatch, match="qa index --rebuild"):
        Index.open(index_dir, settings_for(bundled_settings.corpus_dir, index_dir))


def test_index_folder_from_elsewhere_is_refused(tmp_path):
    (tmp_path / "index").mkdir()
    (tmp_path / "index" / "index.pkl").write_bytes(b"old")
    with pytest.raises(IndexMismatch, match="rebuild"):
        Index.open(tmp_path / "index", settings_for(tmp_path, tmp_path / "index"))


def test_incremental_update_embeds_only_what_changed(tmp_path, corpus_copy, encoder):
    settings = settings_for(corpus_copy, tmp_path / "index")
    first = build_index(settings, encoder=encoder, progress=False)
    counting = CountingEncoder(encoder)

    again = build_index(settings, encoder=counting, progress=False)
    assert again.up_to_date and counting.texts == []

    (corpus_copy / "new.txt").write_text("The envoys met in Geneva on Tuesday. They agreed on a prisoner swap.")
    (corpus_copy / "003_42fb9e8cdcba927c.txt").unlink()
    report = build_index(settings, encoder=counting, progress=False)
    assert not report.up_to_date
    assert report.reused_files == 4 and report.removed_files == 1
    assert set(counting.texts) == {"The envoys met in Geneva on Tuesday.", "They agreed on a prisoner swap.",
                                   # the chunk: title (here the first sentence), then the sentences
                                   "The envoys met in Geneva on Tuesday. The envoys met in Geneva on Tuesday. They "
                                   "agreed on a prisoner swap."}
    index = Index.open(settings.index_dir, settings)
    assert index.article_ids() == {p.stem for p in corpus_copy.glob("*.txt")} and "new" in index.article_ids()
    assert report.segments == 2 and len(index.store.live_articles()) == report.articles == 5
    # Kept vectors are the ones a full build computes.
    full = build_index(dataclasses.replace(settings, index_dir=tmp_path / "full"), encoder=encoder, progress=False)
    assert full.chunks == report.chunks and first.chunks != report.chunks and full.segments == 1
    fresh = Index.open(tmp_path / "full", settings)
    for article_id in index.article_ids():
        rows = [index.store.chunk_windows(index.store.article_index(article_id))[0],
                fresh.store.chunk_windows(fresh.store.article_index(article_id))[0]]
        assert np.allclose(index.chunk_vectors([rows[0]]), fresh.chunk_vectors([rows[1]]), atol=1e-5)


def test_interrupted_build_leaves_the_previous_index_usable(tmp_path, corpus_copy, encoder):
    settings = settings_for(corpus_copy, tmp_path / "index")
    build_index(settings, encoder=encoder, progress=False)
    before = current_build(settings.index_dir)
    (corpus_copy / "new.txt").write_text("A new article arrives. It has two sentences.")
    with pytest.raises(KeyboardInterrupt):
        build_index(settings, encoder=FailingEncoder(encoder), progress=False)
    assert current_build(settings.index_dir) == before
    assert [p.name for p in (settings.index_dir / "builds").iterdir()] == [before.name]
    index = Index.open(settings.index_dir, settings)
    assert index.manifest["counts"]["articles"] == 5
