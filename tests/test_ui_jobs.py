"""Upload jobs survive a stopped or killed server: nothing half-added stays in the corpus, no partial build stays in
the index folder, and the job runs again at the next start."""
from __future__ import annotations

import hashlib
import json
import shutil
import time
from pathlib import Path
from types import SimpleNamespace

from gradio_client import Client, handle_file

from ui.jobs import STAGING, UploadJobs
from ui.server import serve

from tests.test_ui_api import long_article, wait_job

REPO = Path(__file__).resolve().parent.parent
ARTICLE = b"# Harbour quay approved\n\nThe harbour council met on Tuesday and approved the new quay.\n"


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _stub(corpus: Path, index_dir: Path, indexed: dict[str, str] | None = None):
    """What UploadJobs reads of an Assistant at start: its settings and the live index's file fingerprints."""
    return SimpleNamespace(settings=SimpleNamespace(corpus_dir=corpus, index_dir=index_dir), encoder=None,
                           index=SimpleNamespace(manifest={"files": indexed or {}}))


def _index_with_partial_build(index_dir: Path) -> None:
    (index_dir / "builds" / "live").mkdir(parents=True)
    (index_dir / "builds" / "killed-1234").mkdir()  # a build that was being written when the server was killed
    (index_dir / "builds" / "killed-1234" / "store.sqlite").write_bytes(b"partial")
    (index_dir / "builds" / "old.damaged").mkdir()  # kept aside for the user: never removed
    (index_dir / "CURRENT").write_text("live")


def _journal(folder: Path, job_id: str, files: list[dict], cancelled: bool = False) -> None:
    folder.mkdir(parents=True)
    (folder / "job.json").write_text(json.dumps({"id": job_id, "created": time.time(), "cancelled": cancelled,
                                                  "files": files}))


def test_the_next_start_puts_unindexed_uploads_back_and_runs_their_job_again(tmp_path):
    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    (corpus / "kept.txt").write_bytes(b"# Kept\n\nAn article that was there before any upload.\n")
    _index_with_partial_build(index_dir)
    staging = corpus / STAGING
    # Killed while indexing: its file is in the corpus, not in the index.
    (corpus / "quay.txt").write_bytes(ARTICLE)
    _journal(staging / "aaa", "aaa", [{"name": "quay.txt", "staged": "0.upload", "sha256": _sha(ARTICLE),
                                       "state": "indexing", "path": "quay.txt", "placed": "placed"}])
    # Killed while being received: no journal yet.
    (staging / "bbb").mkdir()
    (staging / "bbb" / "0.upload").write_bytes(b"half an upl")
    # Killed while being cancelled: its file leaves the corpus.
    (corpus / "gone.txt").write_bytes(ARTICLE + b"x")
    _journal(staging / "ccc", "ccc", [{"name": "gone.txt", "staged": "0.upload", "sha256": _sha(ARTICLE + b"x"),
                                       "state": "indexing", "path": "gone.txt", "placed": "placed"}], cancelled=True)

    jobs = UploadJobs(_stub(corpus, index_dir), start=False)

    assert sorted(p.name for p in (index_dir / "builds").iterdir()) == ["live", "old.damaged"]
    assert sorted(p.name for p in corpus.iterdir()) == [STAGING, "kept.txt"]  # only what the index holds
    assert (staging / "aaa" / "0.upload").read_bytes() == ARTICLE  # back in staging, whole
    assert sorted(p.name for p in staging.iterdir()) == ["aaa"]
    listed = {j["id"]: j for j in jobs.snapshot()}
    assert listed["aaa"]["state"] == "queued" and listed["aaa"]["position"] == 1 and listed["aaa"]["resumed"]
    assert listed["aaa"]["files"][0]["state"] == "waiting"
    assert listed["ccc"]["state"] == "cancelled" and "bbb" not in listed


def test_the_next_start_keeps_an_upload_the_live_index_already_holds(tmp_path):
    """Killed after its commit, before it cleaned up: the file is indexed, so it stays and the job is done."""
    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    _index_with_partial_build(index_dir)
    (corpus / "quay.txt").write_bytes(ARTICLE)
    _journal(corpus / STAGING / "ddd", "ddd", [{"name": "quay.txt", "staged": "0.upload", "sha256": _sha(ARTICLE),
                                                "state": "indexing", "path": "quay.txt", "placed": "placed"}])

    jobs = UploadJobs(_stub(corpus, index_dir, {"quay": _sha(ARTICLE)[:16]}), start=False)

    assert (corpus / "quay.txt").read_bytes() == ARTICLE
    assert not (corpus / STAGING).exists()
    job = jobs.snapshot()[0]
    assert job["state"] == "done" and job["files"][0]["state"] == "added"


def _builds(index_dir: Path) -> list[str]:
    return sorted(p.name for p in (index_dir / "builds").iterdir())


def test_a_server_killed_mid_upload_leaves_no_unindexed_file_and_no_build_folder(tmp_path):
    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    shutil.copytree(REPO / "corpus", corpus)
    article = tmp_path / "upload" / "ledger_killed.txt"
    article.parent.mkdir()
    article.write_text(long_article("Corvin", 400), encoding="utf-8")

    with serve(corpus, index_dir, log_path=tmp_path / "first.log") as server:
        client = Client(server.url, verbose=False)
        job = client.predict([handle_file(str(article))], api_name="/upload")
        wait_job(client, job["id"], until=lambda j: j["state"] == "running" and j["files"][0]["state"] == "indexing")
        deadline = time.monotonic() + 60
        while len(_builds(index_dir)) < 2:  # the new build folder is being written
            assert time.monotonic() < deadline
            time.sleep(0.05)
        server.process.kill()  # SIGKILL: no clean-up of any kind
        server.process.wait(30)
    assert (corpus / "ledger_killed.txt").exists() and len(_builds(index_dir)) == 2  # what the kill left

    with serve(corpus, index_dir, log_path=tmp_path / "second.log") as server:
        client = Client(server.url, verbose=False)
        done = wait_job(client, job["id"])
        assert done["state"] == "done" and done["resumed"], done
        assert "\u2713 ledger_killed.txt: added" in done["report"]
        indexed = {row[-1] for row in client.predict(api_name="/collection")["data"]}
        on_disk = {p.name for p in corpus.iterdir()}
        assert on_disk == indexed  # every file in the corpus is in the index, the upload once, nothing staged
        assert (corpus / "ledger_killed.txt").read_bytes() == article.read_bytes()
        assert _builds(index_dir) == [(index_dir / "CURRENT").read_text()]  # no partial build folder
        got = client.predict("Which dock did crate 37 of the Corvin ledger leave from?", api_name="/ask")
        assert any(c["article_id"] == "ledger_killed" for c in got["citations"])
