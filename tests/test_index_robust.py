"""The index loses nothing by accident: unreadable files are skips, a build that would empty the index is refused,
a damaged index says so in one line and is rebuilt, a full disk leaves the previous index live."""
import dataclasses
import errno
import json
import os
import pwd
import shutil
import site
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from qa import cli
from qa.config import Settings
from qa.embed import Encoder
from qa.build import build_index
from qa.index import DAMAGED_SUFFIX, Index, IndexDamaged, IndexShrink, IndexWriteError, current_build

REPO = Path(__file__).resolve().parent.parent
ARTICLES = {
    "summit": "Summit ends\n\nThe summit ended on Friday in Geneva. Both leaders agreed to meet again in spring.",
    "trade": "Trade talks\n\nThe trade talks resumed on Monday. Negotiators discussed tariffs on steel and grain.",
    "storm": "Storm warning\n\nA storm is expected to reach the coast on Tuesday. Schools will close early.",
}


def make_corpus(folder: Path, names=tuple(ARTICLES)) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / f"{name}.txt").write_text(ARTICLES[name] + "\n")
    return folder


def settings_for(corpus, index_dir, **limits):
    settings = Settings.from_env(corpus_dir=corpus, index_dir=index_dir)
    return dataclasses.replace(settings, limits=dataclasses.replace(settings.limits, **limits))


@pytest.fixture
def use_encoder(monkeypatch, encoder):
    """Commands run in-process use the session's loaded model (and no reranker), not a fresh one."""
    monkeypatch.setattr(Encoder, "from_settings", classmethod(lambda cls, settings: encoder))
    monkeypatch.setenv("QA_RERANKER", "off")
    return encoder


def run_cli(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


# --- unreadable files, as a user who cannot read them ----------------------------------------------------------------


def _as_nobody() -> list[str] | None:
    """The command prefix that runs as the unprivileged user ``nobody``; None when neither setpriv nor su exists."""
    if shutil.which("setpriv"):
        return ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
    if shutil.which("su"):
        return ["su", "-s", "/bin/sh", "nobody", "-c"]  # followed by one shell command line
    return None


def _python_for_nobody(prefix, env) -> str | None:
    """An interpreter of this Python version that ``nobody`` can run (a venv's may live under /root)."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for python in (sys.executable, shutil.which(version, path="/usr/local/bin:/usr/bin:/bin")):
        if not python:
            continue
        command = [python, "-c", "import numpy, qa.ingest"]
        if prefix[0] == "su":
            command = [subprocess.list2cmdline(command)]
        if subprocess.run(prefix + command, env=env, capture_output=True, cwd="/").returncode == 0:
            return python
    return None


def test_unreadable_file_and_folder_are_skipped_not_fatal():
    if os.geteuid() != 0:
        pytest.skip("needs root to hand the files to another user")
    prefix = _as_nobody()
    if prefix is None:
        pytest.skip("neither setpriv nor su is installed")
    nobody = pwd.getpwnam("nobody")
    work = Path(tempfile.mkdtemp(prefix="qa-nobody-"))  # not under pytest's tmp_path, which only root can enter
    try:
        corpus = make_corpus(work / "corpus", ["summit"])
        (corpus / "locked.txt").write_text(ARTICLES["trade"])
        (corpus / "private").mkdir()
        (corpus / "private" / "inner.txt").write_text(ARTICLES["storm"])
        for path in [work, *work.rglob("*")]:
            os.chown(path, nobody.pw_uid, nobody.pw_gid)
        work.chmod(0o755)
        (corpus / "locked.txt").chmod(0)
        (corpus / "private").chmod(0)
        env = {**os.environ, "HOME": str(work), "XDG_CACHE_HOME": str(work / ".cache"), "HF_HUB_OFFLINE": "1",
               "PYTHONPATH": os.pathsep.join([str(REPO), *site.getsitepackages()])}
        python = _python_for_nobody(prefix, env)
        if python is None:
            pytest.skip("no Python interpreter that the user nobody can run")

        def qa_index(*args):
            command = [python, "-m", "qa", "index", "--corpus", "corpus", "--index-dir", "index", *args]
            if prefix[0] == "su":
                command = [f"cd {work} && " + subprocess.list2cmdline(command)]
            return subprocess.run(prefix + command, env=env, cwd=work, capture_output=True, text=True, timeout=300)

        run = qa_index("--json")
        assert run.returncode == 0, run.stderr
        report = json.loads(run.stdout)
        assert report["articles"] == 1
        assert report["skipped"] == [{"path": "corpus/locked.txt", "reason": "cannot read: Permission denied"},
                                     {"path": "corpus/private", "reason": "cannot read folder: Permission denied"}]
        assert "Traceback" not in run.stderr
        again = qa_index()  # up to date, and still says what it could not read
        assert again.returncode == 0, again.stderr
        assert "up to date" in again.stdout and "skipped 2 files" in again.stdout
        assert "skipped corpus/locked.txt: cannot read: Permission denied" in again.stdout.splitlines()
    finally:
        shutil.rmtree(work, ignore_errors=True)


# --- shrinking ----------------------------------------------------------------------------------------------------


def test_emptied_corpus_is_refused_unless_allowed(tmp_path, capsys, use_encoder):
    corpus, empty, index_dir = make_corpus(tmp_path / "corpus"), tmp_path / "empty", tmp_path / "index"
    empty.mkdir()
    assert build_index(settings_for(corpus, index_dir), encoder=use_encoder, progress=False).articles == 3
    live = current_build(index_dir)

    code, out, err = run_cli(capsys, "index", "--corpus", empty, "--index-dir", index_dir)
    assert code == 1 and out == ""
    [line] = err.splitlines()
    assert line.startswith("qa index: error: refusing to remove 3 of the 3 articles") and "--allow-shrink" in line
    assert current_build(index_dir) == live and [p.name for p in (index_dir / "builds").iterdir()] == [live.name]
    with pytest.raises(IndexShrink):  # --rebuild is no way around it
        build_index(settings_for(empty, index_dir), rebuild=True, encoder=use_encoder, progress=False)

    code, out, err = run_cli(capsys, "index", "--corpus", empty, "--index-dir", index_dir, "--allow-shrink", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert (report["articles"], report["removed_articles"], report["skipped"]) == (0, 3, [])
    empty_index = Index.open(index_dir, settings_for(empty, index_dir))  # an empty index is a sound one
    assert empty_index.manifest["counts"]["articles"] == 0
    empty_index.close()
    # Filling the emptied index again is growth, not a shrink.
    assert build_index(settings_for(corpus, index_dir), encoder=use_encoder, progress=False).articles == 3


def test_removing_a_few_articles_still_works_most_is_refused(tmp_path, use_encoder):
    corpus, index_dir = make_corpus(tmp_path / "corpus"), tmp_path / "index"
    settings = settings_for(corpus, index_dir)
    build_index(settings, encoder=use_encoder, progress=False)
    (corpus / "storm.txt").unlink()
    report = build_index(settings, encoder=use_encoder, progress=False)  # one of three: fine
    assert (report.articles, report.removed_articles, report.removed_files) == (2, 1, 1)
    (corpus / "trade.txt").write_bytes(b"\x00\x01binary now")  # changed into something unreadable: 1 of 2 left
    report = build_index(settings, encoder=use_encoder, progress=False)
    assert report.articles == 1 and report.removed_articles == 1  # exactly half: allowed
    make_corpus(corpus, ["trade", "storm"])
    build_index(settings, encoder=use_encoder, progress=False)
    for name in ("summit", "trade"):
        (corpus / f"{name}.txt").unlink()
    with pytest.raises(IndexShrink, match="refusing to remove 2 of the 3 articles"):
        build_index(settings, encoder=use_encoder, progress=False)
    assert Index.open(index_dir, settings).manifest["counts"]["articles"] == 3


# --- damage -------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def built_index(tmp_path_factory, encoder):
    """A small index, built once; each test damages its own copy."""
    root = tmp_path_factory.mktemp("damage")
    corpus = make_corpus(root / "corpus")
    build_index(settings_for(corpus, root / "index"), encoder=encoder, progress=False)
    return corpus, root / "index"


SEGMENT_FILES = ["store.sqlite", "chunks.faiss", "sentence_vectors.npy", "tf_data.npy", "tf_indices.npy",
                 "tf_indptr.npy", "lengths.npy", "vocab.json"]


def _segment(commit: Path) -> Path:
    """The one segment of a small index's commit."""
    (segment,) = [p for p in commit.iterdir() if p.is_dir()]
    return segment


def _damage(path: Path) -> None:
    data = path.read_bytes()
    if path.name == "manifest.json":
        path.write_bytes(b"\x8b\x00 not json {" + data[:40])
    else:
        path.write_bytes(data[: len(data) // 2])  # truncated, as by a crash or a full disk


@pytest.mark.parametrize("name", ["manifest.json"] + SEGMENT_FILES)
def test_damaged_index_is_one_line_and_rebuilt(name, built_index, tmp_path, capsys, use_encoder):
    corpus, template = built_index
    index_dir = tmp_path / "index"
    shutil.copytree(template, index_dir)
    damaged = current_build(index_dir)
    segment = _segment(damaged)
    assert {p.name for p in damaged.iterdir()} == {"manifest.json", segment.name}
    assert {p.name for p in segment.iterdir()} == set(SEGMENT_FILES)
    part = name if name == "manifest.json" else f"{segment.name}/{name}"
    _damage(damaged / part)
    settings = settings_for(corpus, index_dir)
    expected = f"index at {index_dir} is damaged ({part}): run `qa index --rebuild`"
    with pytest.raises(IndexDamaged) as exc:
        Index.open(index_dir, settings)
    assert str(exc.value) == expected
    code, out, err = run_cli(capsys, "ask", "When did the summit end?", "--index-dir", index_dir)
    assert code == 1 and err.splitlines() == [f"qa ask: error: {expected}"]

    code, out, err = run_cli(capsys, "index", "--corpus", corpus, "--index-dir", index_dir, "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["articles"] == 3 and report["removed_articles"] == 0
    kept = damaged.with_name(damaged.name + DAMAGED_SUFFIX)
    assert report["damaged_build"] == str(kept) and kept.is_dir()  # moved aside, not deleted
    index = Index.open(index_dir, settings)
    assert index.manifest["counts"]["articles"] == 3 and current_build(index_dir) != damaged
    index.close()


def test_same_size_corruption_is_caught_by_the_checksum(built_index, tmp_path):
    corpus, template = built_index
    index_dir = tmp_path / "index"
    shutil.copytree(template, index_dir)
    store = _segment(current_build(index_dir)) / "store.sqlite"
    data = bytearray(store.read_bytes())
    data[100:4000] = b"\xff" * 3900
    store.write_bytes(bytes(data))
    with pytest.raises(IndexDamaged, match=r"/store.sqlite\)"):
        Index.open(index_dir, settings_for(corpus, index_dir))


def test_damage_past_the_checksums_still_names_the_segment(built_index, tmp_path):
    corpus, template = built_index
    index_dir = tmp_path / "index"
    shutil.copytree(template, index_dir)
    folder = current_build(index_dir)
    segment = _segment(folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    del manifest["index_files"][f"{segment.name}/chunks.faiss"]["sha256"]  # as for a file over CHECKSUM_MAX_BYTES
    (folder / "manifest.json").write_text(json.dumps(manifest))
    Index.open(index_dir, settings_for(corpus, index_dir)).close()
    faiss_file = segment / "chunks.faiss"
    faiss_file.write_bytes(b"\0" * faiss_file.stat().st_size)  # same size: only loading it finds the damage
    with pytest.raises(IndexDamaged, match=rf"\({segment.name}\)"):
        Index.open(index_dir, settings_for(corpus, index_dir))


# --- disk full -----------------------------------------------------------------------------------------------------


def _disk_full(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


class _FullStore:
    def close(self):
        raise sqlite3.OperationalError("database or disk is full")


@pytest.mark.parametrize("where", ["faiss", "numpy", "sqlite"])
def test_disk_full_keeps_the_old_index_and_removes_the_partial_build(where, built_index, tmp_path, capsys,
                                                                     monkeypatch, use_encoder):
    corpus, template = built_index
    index_dir = tmp_path / "index"
    shutil.copytree(template, index_dir)
    live = current_build(index_dir)
    new_corpus = make_corpus(tmp_path / "corpus")
    (new_corpus / "extra.txt").write_text("Extra story\n\nA bridge opened on Sunday. Traffic was light.\n")
    if where == "faiss":
        def faiss_full(index, path):
            raise RuntimeError(f"Error in faiss::FileIOWriter: write error in {path}: 10 != 20 (No space left on device)")
        monkeypatch.setattr("qa.segment.dense_index.save", faiss_full)
    elif where == "numpy":
        monkeypatch.setattr("qa.bm25.np.save", _disk_full)
    else:
        monkeypatch.setattr("qa.store.StoreWriter.close", lambda self: _FullStore().close())
    with pytest.raises(IndexWriteError, match="disk full"):
        build_index(settings_for(new_corpus, index_dir), encoder=use_encoder, progress=False)
    code, out, err = run_cli(capsys, "index", "--corpus", new_corpus, "--index-dir", index_dir)
    assert code == 1
    assert err.splitlines() == [f"qa index: error: disk full while building the index at {index_dir}: the previous "
                                f"index is kept and the partial build removed"]
    assert current_build(index_dir) == live
    assert [p.name for p in (index_dir / "builds").iterdir()] == [live.name]
    monkeypatch.undo()
    Index.open(index_dir, settings_for(corpus, index_dir)).close()


# --- long sentences -------------------------------------------------------------------------------------------------


def test_endless_sentence_is_indexed_in_pieces_with_exact_offsets(tmp_path, use_encoder):
    corpus = make_corpus(tmp_path / "corpus", ["summit"])
    words = " ".join(f"entry{n}" for n in range(700))  # about 5,000 characters, no full stop
    (corpus / "table.txt").write_text(f"Price table\n\nThe table lists {words} and nothing else.\n")
    settings = settings_for(corpus, tmp_path / "index", max_sentence_chars=800)
    build_index(settings, encoder=use_encoder, progress=False)
    index = Index.open(settings.index_dir, settings)
    assert index.manifest["max_sentence_chars"] == 800
    a = index.store.article_index("table")
    first, ranges = index.store.sentence_ranges(a)
    on_disk = open(corpus / "table.txt").read()
    assert len(ranges) >= 6 and all(e - s <= 800 for s, e in ranges)
    sentences = index.store.sentences(first, first + len(ranges))
    assert all(on_disk[s.start:s.end] == s.text for s in sentences)
    index.close()
