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

from qa.assistant import Assistant
from qa.config import Settings
from qa.build import build_index
from ui.jobs import UploadJobs
from ui.jobs_model import STAGING
from tools.ui_server import serve

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


# --- removal and reindex jobs -----------------------------------------------------------------------------------------

BLINKEN = "How long did Blinken's meeting with Chinese foreign minister Qin Gang last?"
BLINKEN_FILE = "004_853fa212cfd9642b.txt"


def _live(corpus: Path, index_dir: Path, encoder, *, start: bool = True) -> UploadJobs:
    """UploadJobs over a real, freshly built index of ``corpus``."""
    settings = Settings.from_env(corpus_dir=corpus, index_dir=index_dir)
    if not (index_dir / "CURRENT").exists():
        build_index(settings, encoder=encoder, progress=False)
    return UploadJobs(Assistant(settings, build_if_missing=False, encoder=encoder), start=start)


def _wait(jobs: UploadJobs, job, until=lambda j: not j.active, timeout: float = 300):
    deadline = time.monotonic() + timeout
    while not until(job):
        assert time.monotonic() < deadline, f"job {job.id} still {job.state}: {job.report()}"
        time.sleep(0.05)
    return jobs.as_json(job)


def _articles(jobs: UploadJobs) -> int:
    return jobs.assistant.index.manifest["counts"]["articles"]


def _cited(jobs: UploadJobs, question: str) -> set[str]:
    return {c.article_id for c in jobs.assistant.ask(question).citations}


def test_a_removal_job_moves_the_article_to_the_trash_and_out_of_the_index(corpus_copy, tmp_path, encoder):
    original = (corpus_copy / BLINKEN_FILE).read_bytes()
    jobs = _live(corpus_copy, tmp_path / "index", encoder)
    try:
        assert _articles(jobs) == 5 and "004_853fa212cfd9642b" in _cited(jobs, BLINKEN)
        generation = jobs.generation
        job = jobs.submit_removal([BLINKEN_FILE, "missing.txt", f"{STAGING}/x.txt"])
        done = _wait(jobs, job)

        assert done["kind"] == "removal" and done["state"] == "done", done
        assert f"\u2713 {BLINKEN_FILE}: removed \u2014 moved to .trash/{BLINKEN_FILE}" in done["report"]
        assert "\u2717 missing.txt: no such file in the corpus folder" in done["report"]
        assert f"\u2717 {STAGING}/x.txt: a hidden name" in done["report"]
        assert done["report"].splitlines()[-1].startswith("1 of 3 files removed")
        assert not (corpus_copy / BLINKEN_FILE).exists()
        assert (corpus_copy / ".trash" / BLINKEN_FILE).read_bytes() == original  # kept, whole
        assert _articles(jobs) == 4 and jobs.generation == generation + 1
        assert "004_853fa212cfd9642b" not in _cited(jobs, BLINKEN)  # no longer answered from
        assert not (corpus_copy / STAGING).exists()  # its journal is gone with it
    finally:
        jobs.close()


def test_a_reindex_job_takes_in_files_put_into_the_corpus_by_hand_and_can_rebuild(corpus_copy, tmp_path, encoder):
    jobs = _live(corpus_copy, tmp_path / "index", encoder)
    try:
        (corpus_copy / "quay.txt").write_bytes(ARTICLE)  # not through an upload: the index does not know it yet
        job = jobs.submit_reindex()
        done = _wait(jobs, job)
        assert done["kind"] == "reindex" and done["state"] == "done", done
        assert done["report"].startswith("Index updated: 6 articles, ") and _articles(jobs) == 6
        assert "quay" in _cited(jobs, "What did the harbour council approve on Tuesday?")

        again = _wait(jobs, jobs.submit_reindex())
        assert "(it was up to date)" in again["report"]
        generation = jobs.generation
        rebuilt = _wait(jobs, jobs.submit_reindex(rebuild=True))
        assert rebuilt["state"] == "done" and rebuilt["report"].startswith("Index rebuilt: 6 articles, ")
        assert jobs.generation == generation + 1 and _articles(jobs) == 6
    finally:
        jobs.close()


def test_a_removal_cancelled_during_its_build_puts_the_file_back(corpus_copy, tmp_path, encoder):
    jobs = _live(corpus_copy, tmp_path / "index", encoder)
    try:
        # A long new article in the corpus makes the removal's build embed for a while: time to cancel it.
        (corpus_copy / "ledger.txt").write_text(long_article("Corvin", 400), encoding="utf-8")
        job = jobs.submit_removal([BLINKEN_FILE])
        _wait(jobs, job, until=lambda j: j.files[0].state == "removing")
        over = _wait(jobs, jobs.cancel(job.id))

        assert over["state"] == "cancelled", over
        assert f"\u2717 {BLINKEN_FILE}: cancelled, not removed" in over["report"]
        assert (corpus_copy / BLINKEN_FILE).exists() and not (corpus_copy / ".trash" / BLINKEN_FILE).exists()
        assert _articles(jobs) == 5 and "004_853fa212cfd9642b" in _cited(jobs, BLINKEN)
    finally:
        jobs.close()


def test_a_removal_stopped_by_the_server_stop_runs_again_at_the_next_start(corpus_copy, tmp_path, encoder):
    index_dir = tmp_path / "index"
    jobs = _live(corpus_copy, index_dir, encoder)
    (corpus_copy / "ledger.txt").write_text(long_article("Corvin", 400), encoding="utf-8")
    job = jobs.submit_removal([BLINKEN_FILE])
    _wait(jobs, job, until=lambda j: j.files[0].state == "removing")
    jobs.close()
    assert job.state == "interrupted" and job.files[0].state == "waiting"
    assert (corpus_copy / BLINKEN_FILE).exists()  # back where the live index still has it
    assert (corpus_copy / STAGING / job.id / "job.json").exists()

    again = _live(corpus_copy, index_dir, encoder)
    try:
        done = _wait(again, again.get(job.id))
        assert done["state"] == "done" and done["resumed"], done
        assert (corpus_copy / ".trash" / BLINKEN_FILE).exists() and _articles(again) == 5  # 4 + the ledger
        assert "004_853fa212cfd9642b" not in _cited(again, BLINKEN)
    finally:
        again.close()


def test_a_queued_removal_cancelled_leaves_the_corpus_as_it_was(tmp_path):
    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    (corpus / "quay.txt").write_bytes(ARTICLE)
    jobs = UploadJobs(_stub(corpus, index_dir), start=False)
    job = jobs.submit_removal(["quay.txt"])
    assert jobs.as_json(job)["position"] == 1 and (corpus / STAGING / job.id / "job.json").exists()
    jobs.cancel(job.id)
    assert job.state == "cancelled" and sorted(p.name for p in corpus.iterdir()) == ["quay.txt"]


def test_the_next_start_undoes_a_removal_killed_before_its_build_went_live(tmp_path):
    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    (corpus / ".trash").mkdir(parents=True)
    _index_with_partial_build(index_dir)
    (corpus / ".trash" / "quay.txt").write_bytes(ARTICLE)  # trashed; the live index still holds it
    (corpus / ".trash" / "old.txt").write_bytes(ARTICLE + b"y")  # trashed, and the index no longer holds it
    _journal(corpus / STAGING / "eee", "eee", [
        {"name": "quay.txt", "staged": "", "state": "removing", "path": "quay.txt", "placed": "trashed"},
        {"name": "old.txt", "staged": "", "state": "removing", "path": "old.txt", "placed": "trashed"}])
    (corpus / STAGING / "eee" / "job.json").write_text(json.dumps(
        {**json.loads((corpus / STAGING / "eee" / "job.json").read_text()), "kind": "removal"}))
    _journal(corpus / STAGING / "fff", "fff", [])
    (corpus / STAGING / "fff" / "job.json").write_text(json.dumps(
        {**json.loads((corpus / STAGING / "fff" / "job.json").read_text()), "kind": "reindex", "rebuild": True}))

    jobs = UploadJobs(_stub(corpus, index_dir, {"quay": _sha(ARTICLE)[:16]}), start=False)

    assert (corpus / "quay.txt").read_bytes() == ARTICLE and not (corpus / ".trash" / "quay.txt").exists()
    assert (corpus / ".trash" / "old.txt").exists() and not (corpus / "old.txt").exists()
    listed = {j["id"]: j for j in jobs.snapshot()}
    assert listed["eee"]["state"] == "queued" and listed["eee"]["kind"] == "removal"
    assert [f["state"] for f in listed["eee"]["files"]] == ["waiting", "removed"]
    assert listed["fff"]["state"] == "queued" and listed["fff"]["kind"] == "reindex"
    assert jobs.get("fff").rebuild and listed["fff"]["position"] == 2
