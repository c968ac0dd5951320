"""Uploads as background jobs: the request returns at once, a worker indexes one job at a time, a job can be
cancelled, and nothing is lost or half-added when the server is stopped or killed.

The life of a job:

1. ``submit`` copies the uploaded files into ``<corpus>/.uploads/<job id>/`` (a hidden folder: the corpus listing
   skips it) and writes the job's journal, ``job.json``, last: a folder without a journal is an upload that never
   got its job, and is removed at the next start.
2. The worker checks each file with the library's reader (``ui/uploads.py``), then links the accepted ones into the
   corpus under a free name; the journal records each path before the link is made.
3. ``build_index`` embeds them into a new build folder; the job commits when that build goes live (one atomic
   rename). Until then the previous index is the live one.
4. Cancelled or failed before the commit, the job takes its files out of the corpus again: the corpus and the index
   are exactly as before. A server that stops cleanly moves them back into the staging folder; a killed one does not
   get the chance, so the next start does it (and removes any partial build folder), then runs the job again.
   Files that the live index already holds (a job killed after its commit) stay where they are.

Two more kinds of job share the queue, so that no two changes of the index ever run at once: a removal
(``submit_removal``) moves each file into ``<corpus>/.trash/`` (``qa/trash.py``) and then updates the index; undone,
it moves them back under their own names. A reindex (``submit_reindex``) updates or rebuilds the index from the
corpus folder. Both keep a journal in the staging folder too, and run again at the next start if the server stopped.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import shutil
import threading
import time
import uuid
from collections import deque
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from qa.build import build_index
from qa.index import DAMAGED_SUFFIX, IndexError_, current_build, sha256_file
from qa.ingest import IngestError
from qa.trash import TRASH, TrashError, restore, trash

from .uploads import Saved, check_upload, place

log = logging.getLogger("qa.ui.jobs")

STAGING = ".uploads"
JOURNAL = "job.json"
KEEP_FINISHED = 50  # finished jobs remembered for /jobs
SHOWN_FINISHED = 5  # finished jobs shown on the page

ACTIVE = ("queued", "running", "cancelling")
FILE_MARKS = {"waiting": "\u00b7", "checking": "\u2026", "indexing": "\u2026", "added": "\u2713",
              "unchanged": "\u2713", "refused": "\u2717", "cancelled": "\u2717", "failed": "\u2717",
              "removing": "\u2026", "removed": "\u2713"}
DONE = {"upload": "added", "removal": "removed"}  # what a job's files become once its build is live


class JobCancelled(Exception):
    """Raised at a checkpoint of a job whose cancellation was asked for."""


class ShuttingDown(Exception):
    """Raised at a checkpoint when the server stops: the job is put back to run again at the next start."""


class JobError(Exception):
    """A job request that cannot be carried out; the message is one line for the user."""


@dataclass
class FileJob:
    """One uploaded file of a job (or one file a removal job takes out), as the journal records it."""

    name: str  # the name it was uploaded with (removal: its path relative to the corpus folder)
    staged: str  # its copy's name in the job's staging folder ("" for a removal)
    sha256: str = ""
    state: str = "waiting"  # waiting, checking, indexing, added, unchanged, refused, cancelled, failed
    note: str = ""  # (removal: waiting, removing, removed, refused, cancelled, failed)
    path: str = ""  # its name in the corpus folder, once placed there (removal: in the trash folder, once moved)
    placed: str = ""  # "placing" (about to be linked in), "placed" (linked in by this job), "" (not ours there);
    # removal: "trashing" (about to be moved), "trashed" (moved into the trash by this job)
    chunks: list = field(default_factory=list)  # [(title, chunks)] once indexed

    def line(self, undone: str = "not added") -> str:
        mark = FILE_MARKS.get(self.state, "\u00b7")
        if self.state in ("added", "unchanged"):
            what = "; ".join(f"\u201c{t}\u201d ({c} chunk{'s' if c != 1 else ''})" for t, c in self.chunks)
            return f"{mark} {self.name}: {self.state} \u2014 {self.note}" + (f" \u2014 {what}" if what else "")
        if self.state in ("refused", "failed"):
            return f"{mark} {self.name}: {self.note}"
        if self.state == "cancelled":
            return f"{mark} {self.name}: cancelled, {undone}"
        return f"{mark} {self.name}: {self.state}" + (f" \u2014 {self.note}" if self.note else "")


@dataclass
class Job:
    id: str
    files: list[FileJob]
    created: float = field(default_factory=time.time)
    state: str = "queued"  # queued, running, cancelling, done, cancelled, failed, interrupted
    message: str = ""
    started: float | None = None
    finished: float | None = None
    cancel_requested: bool = False
    committed: bool = False
    resumed: bool = False
    kind: str = "upload"  # upload, removal, reindex
    rebuild: bool = False  # reindex: from scratch
    changed: bool = False  # its build changed the live index

    @property
    def active(self) -> bool:
        return self.state in ACTIVE

    def seconds(self) -> float:
        if self.started is None:
            return 0.0
        return (self.finished or time.time()) - self.started

    def report(self) -> str:
        """One line per file, then a summary once the job is over (the upload report of the page and of /jobs)."""
        if self.kind == "reindex":
            return self._reindex_report()
        done = DONE[self.kind]
        lines = [f.line(f"not {done}") for f in self.files]
        n = len(self.files)
        if self.state == "done":
            count = sum(1 for f in self.files if f.state == done)
            lines.append(f"{count} of {n} file{'s' if n != 1 else ''} {done} ({self.seconds():.1f} s).")
        elif self.state == "cancelled":
            lines.append(f"Cancelled: nothing was {done} ({self.seconds():.1f} s).")
        elif self.state == "failed":
            lines.append(f"Failed, nothing was {done}: {self.message}")
        elif self.state == "interrupted":
            lines.append("Interrupted by a server stop: the job runs again at the next start.")
        return "\n".join(lines)

    def _reindex_report(self) -> str:
        task, done = ("rebuild", "rebuilt") if self.rebuild else ("update", "updated")
        if self.state == "done":
            return f"Index {done}: {self.message} ({self.seconds():.1f} s)."
        if self.state == "cancelled":
            return f"Cancelled: the index is as it was ({self.seconds():.1f} s)."
        if self.state == "failed":
            return f"Failed, the index is as it was: {self.message}"
        if self.state == "interrupted":
            return "Interrupted by a server stop: the job runs again at the next start."
        return f"\u2026 index {task}: {self.state}"

    def to_json(self, position: int) -> dict:
        return {"id": self.id, "kind": self.kind, "state": self.state, "position": position, "message": self.message,
                "files": [{"name": f.name, "state": f.state, "note": f.note, "saved_as": f.path or None}
                          for f in self.files],
                "report": self.report(), "created": self.created, "seconds": round(self.seconds(), 2),
                "resumed": self.resumed}

    def journal(self) -> dict:
        return {"id": self.id, "kind": self.kind, "rebuild": self.rebuild, "created": self.created,
                "cancelled": self.cancel_requested,
                "files": [{k: v for k, v in asdict(f).items() if k != "chunks"} for f in self.files]}


def _same_file(path: Path, sha256: str) -> bool:
    """``path`` is a regular file with these bytes (only then is it ours to take out of the corpus)."""
    try:
        return path.is_file() and not path.is_symlink() and sha256_file(path) == sha256
    except OSError:
        return False


def remove_partial_builds(index_dir: Path) -> list[str]:
    """Removes the build folders a killed build left (all but the live one and damaged ones kept aside). Done under
    the index's build lock (the file ``build_index`` locks), taken without waiting: a build running now clears them
    itself when it goes live. Nothing is removed when no live build can be read."""
    builds = index_dir / "builds"
    live = current_build(index_dir)
    if live is None or not builds.is_dir():
        return []
    try:
        lock = open(index_dir / ".lock", "a")
    except OSError:
        return []
    removed = []
    with lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return []
        try:
            live = current_build(index_dir)
            for folder in builds.iterdir():
                if live is None or folder.name == live.name or folder.name.endswith(DAMAGED_SUFFIX):
                    continue
                shutil.rmtree(folder, ignore_errors=True)
                removed.append(folder.name)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    if removed:
        log.info("removed %d partial index build%s left by an interrupted build", len(removed),
                 "s" if len(removed) != 1 else "")
    return removed


def reopen(assistant) -> None:
    """Makes the assistant answer from the build that just went live: the swap step of ``Assistant.update`` (which
    cannot take a checkpoint), under the same lock, so a question never sees a closed index."""
    with assistant._lock:
        assistant.index.close()
        assistant._open()


class UploadJobs:
    """The upload jobs of one index: a queue, one worker thread, cancellation, and recovery at start."""

    def __init__(self, assistant, describe: Callable[[Path], list[tuple[str, int]]] | None = None, *,
                 start: bool = True):
        self.assistant = assistant
        self.settings = assistant.settings
        self.corpus = Path(self.settings.corpus_dir)
        self.staging = self.corpus / STAGING
        self.describe = describe or (lambda path: [])
        self._cond = threading.Condition()
        self._queue: deque[Job] = deque()
        self._jobs: dict[str, Job] = {}
        self._stopping = False
        self.generation = 0  # counts the jobs that changed the index (the page then reloads its collection)
        self.recover()
        self._thread = threading.Thread(target=self._work, name="qa-upload-jobs", daemon=True)
        if start:
            self._thread.start()

    # -- requests (any thread) ----------------------------------------------------------------------------------------

    def submit(self, uploads: list[tuple[Path, str]]) -> Job:
        """Stages the uploaded files (path, name as uploaded) and queues their job; returns it at once."""
        if not uploads:
            raise JobError("no files uploaded")
        if self.staging.is_symlink():
            raise JobError(f"cannot stage the upload: {self.staging} is a link")
        job = Job(uuid.uuid4().hex[:12], [])
        folder = self.staging / job.id
        try:
            with self._cond:  # not while a finishing job removes the (empty) staging folder
                folder.mkdir(parents=True)
            for n, (source, name) in enumerate(uploads):
                job.files.append(self._stage(folder, n, Path(source), name))
            self._write_journal(job)  # last: only now is this a job that must not be lost
        except OSError as exc:
            shutil.rmtree(folder, ignore_errors=True)
            raise JobError(f"cannot stage the upload in {self.staging}: {exc.strerror or exc}") from None
        return self._add(job)

    def submit_removal(self, rel_files: list[str]) -> Job:
        """Queues a job that moves each file (its path relative to the corpus folder, as the page shows it) into
        ``<corpus>/.trash/`` and then updates the index; returns it at once."""
        names = [rel_files] if isinstance(rel_files, str) else list(rel_files or [])
        names = list(dict.fromkeys(str(name).strip() for name in names if str(name).strip()))
        if not names:
            raise JobError("no files to remove")
        return self._add(self._journaled(Job(uuid.uuid4().hex[:12], [FileJob(name, "") for name in names],
                                             kind="removal")))

    def submit_reindex(self, rebuild: bool = False) -> Job:
        """Queues a job that updates the index from the corpus folder (``rebuild``: from scratch); returns it at
        once."""
        return self._add(self._journaled(Job(uuid.uuid4().hex[:12], [], kind="reindex", rebuild=bool(rebuild))))

    def _journaled(self, job: Job) -> Job:
        """A job with nothing to stage, with its journal written (so that a stop does not lose it)."""
        if self.staging.is_symlink():
            raise JobError(f"cannot queue the job: {self.staging} is a link")
        folder = self.staging / job.id
        try:
            with self._cond:
                folder.mkdir(parents=True)
            self._write_journal(job)
        except OSError as exc:
            shutil.rmtree(folder, ignore_errors=True)
            raise JobError(f"cannot queue the job in {self.staging}: {exc.strerror or exc}") from None
        return job

    def _add(self, job: Job) -> Job:
        with self._cond:
            self._jobs[job.id] = job
            self._queue.append(job)
            self._cond.notify_all()
        log.info("%s job %s queued: %s", job.kind, job.id,
                 ", ".join(f.name for f in job.files) or ("rebuild" if job.rebuild else "update"))
        return job

    @staticmethod
    def _stage(folder: Path, n: int, source: Path, name: str) -> FileJob:
        entry = FileJob(name or source.name, f"{n}.upload")
        try:
            data = source.read_bytes()
        except OSError as exc:
            entry.state, entry.note = "refused", f"cannot read the upload: {exc.strerror or exc}"
            return entry
        with open(folder / entry.staged, "xb") as f:
            f.write(data)
        entry.sha256 = hashlib.sha256(data).hexdigest()
        return entry

    def cancel(self, job_id: str) -> Job:
        """Cancels a queued job at once, a running one at its next checkpoint (before its commit: after it, the job
        ends done). Raises JobError for an unknown id."""
        with self._cond:
            job = self._jobs.get((job_id or "").strip())
            if job is None:
                raise JobError(f"no upload job {job_id!r}")
            if job.state == "queued":
                self._queue.remove(job)
                job.cancel_requested = True
                job.started = job.started or time.time()
                self._roll_back(job)
                self._finish(job, "cancelled")
            elif job.state == "running" and not job.committed:
                job.cancel_requested = True
                job.state = "cancelling"
                self._cond.notify_all()
            return job

    def get(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    def as_json(self, job: Job) -> dict:
        """The job as /upload, /cancel and /jobs return it; ``position`` is 1 for the next job to run, 2 for the one
        after, 0 for a job that is not waiting."""
        with self._cond:
            return job.to_json(self._queue.index(job) + 1 if job in self._queue else 0)

    def snapshot(self) -> list[dict]:
        """Every remembered job as JSON: the active ones first (running, then queued in order), then the finished
        ones, newest first."""
        with self._cond:
            queued = {job.id: n + 1 for n, job in enumerate(self._queue)}
            jobs = list(self._jobs.values())
            active = sorted((j for j in jobs if j.active), key=lambda j: (queued.get(j.id, 0), j.created))
            done = sorted((j for j in jobs if not j.active), key=lambda j: -(j.finished or j.created))
            return [j.to_json(queued.get(j.id, 0)) for j in active + done]

    def close(self, timeout: float = 20.0) -> None:
        """Stops the worker: a running job stops at its next checkpoint and is put back to run at the next start."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout)

    # -- the worker ---------------------------------------------------------------------------------------------------

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    return
                job = self._queue.popleft()
                job.state, job.started = "running", time.time()
            try:
                self._run(job)
            except Exception:  # noqa: BLE001 - never let one job stop the worker
                log.exception("%s job %s: the worker failed", job.kind, job.id)

    def _checkpoint(self, job: Job) -> None:
        if self._stopping:
            raise ShuttingDown
        if job.cancel_requested:
            raise JobCancelled

    def _run(self, job: Job) -> None:
        try:
            if job.kind == "reindex":
                self._reindex(job)
            elif job.kind == "removal":
                self._trash_files(job)
                if any(f.state == "removing" for f in job.files):
                    # The person chose these files: taking out most of the collection is what was asked for here.
                    self._build(job, allow_shrink=True)
                    self._mark_committed(job)
            else:
                self._place_files(job)
                if any(f.state == "indexing" for f in job.files):
                    self._index(job)
            self._finish(job, "done")
        except JobCancelled:
            self._roll_back(job)
            self._finish(job, "cancelled")
        except ShuttingDown:
            self._put_back(job)
            job.finished = time.time()
            job.state = "interrupted"
            log.info("%s job %s stopped by the server stop; it runs again at the next start", job.kind, job.id)
        except (IndexError_, IngestError, OSError) as exc:  # the index or the disk said no: one line
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            log.warning("%s job %s failed: %s", job.kind, job.id, message)
            self._fail(job, message)
        except Exception as exc:  # noqa: BLE001 - a bug: the details go to the log
            log.exception("%s job %s failed", job.kind, job.id)
            self._fail(job, f"internal error ({type(exc).__name__}); see the server log")

    def _fail(self, job: Job, message: str) -> None:
        """Undoes a job that failed before its commit; one that failed after it (its files are live) stays done."""
        if job.committed:
            job.message = f"indexed, but then: {message}"
            self._mark_committed(job)
            self._finish(job, "done")
            return
        job.message = message
        self._roll_back(job)
        self._finish(job, "failed")

    def _place_files(self, job: Job) -> None:
        """Checks each file with the library's reader and links the accepted ones into the corpus."""
        folder = self.staging / job.id
        indexed = self._indexed_files()
        for entry in job.files:
            self._checkpoint(job)
            if entry.state != "waiting":
                continue
            staged = folder / entry.staged
            entry.state = "checking"
            checked = check_upload(staged, entry.name)
            if isinstance(checked, Saved):
                self._refuse(job, entry, checked.note)
                continue

            def journal_path(path: Path, entry=entry) -> None:
                entry.path, entry.placed = path.name, "placing"
                self._write_journal(job)

            saved = place(checked, self.corpus, staged=staged, before_write=journal_path)
            if not saved.ok:
                entry.placed = ""
                self._refuse(job, entry, saved.note)
                continue
            entry.path, entry.note = saved.path.name, saved.note
            entry.placed = "placed" if saved.new else ""
            entry.state = "indexing"
            if not saved.new and indexed.get(Path(entry.path).stem) == entry.sha256[:16]:
                entry.state = "unchanged"
            self._write_journal(job)
            staged.unlink(missing_ok=True)

    def _trash_files(self, job: Job) -> None:
        """Moves each file of a removal job into the trash; the journal records each before it moves."""
        for entry in job.files:
            self._checkpoint(job)
            if entry.state != "waiting":
                continue
            entry.placed = "trashing"
            self._write_journal(job)
            try:
                moved = trash(self.corpus, entry.name)
            except TrashError as exc:
                entry.placed, reason = "", str(exc)
                self._refuse(job, entry, reason.removeprefix(f"{entry.name}: "))  # the report line names the file
                continue
            entry.path = moved.relative_to(self.corpus / TRASH).as_posix()
            entry.placed, entry.state, entry.note = "trashed", "removing", f"moved to {TRASH}/{entry.path}"
            self._write_journal(job)

    def _reindex(self, job: Job) -> None:
        report = self._build(job, rebuild=job.rebuild)
        skipped = len(report.skipped)
        job.message = (f"{report.articles} articles, {report.chunks} chunks"
                       + (f", {skipped} file{'s' if skipped != 1 else ''} skipped" if skipped else "")
                       + (" (it was up to date)" if report.up_to_date else ""))

    def _refuse(self, job: Job, entry: FileJob, reason: str) -> None:
        entry.state, entry.note = "refused", reason
        if entry.staged:
            (self.staging / job.id / entry.staged).unlink(missing_ok=True)
        self._write_journal(job)
        log.info("%s of %s refused: %s", job.kind, entry.name, reason)

    def _indexed_files(self) -> dict[str, str]:
        """File id -> fingerprint in the live index (the fingerprint is the first 16 hex digits of the SHA-256)."""
        try:
            return dict(self.assistant.index.manifest.get("files", {}))
        except AttributeError:
            return {}

    def _build(self, job: Job, **options):
        """Updates the index from the corpus folder; the job commits when the new build goes live."""
        report = build_index(self.settings, encoder=self.assistant.encoder, progress=False,
                             checkpoint=lambda: self._checkpoint(job), **options)
        with self._cond:
            job.committed = True
            if job.state == "cancelling":  # asked too late: the build was already live
                job.state = "running"
        if not report.up_to_date:
            job.changed = True
            reopen(self.assistant)
        return report

    @staticmethod
    def _mark_committed(job: Job) -> None:
        """What the job's files are once its build is live."""
        for entry in job.files:
            if entry.state == "indexing":
                entry.state = "added" if entry.placed == "placed" else "unchanged"
            elif entry.state == "removing":
                entry.state, entry.placed = "removed", ""

    def _index(self, job: Job) -> None:
        """Builds the index with the job's files; the job commits when the new build goes live."""
        report = self._build(job)
        self._take_out_unreadable(job, report)
        for entry in job.files:
            if entry.state == "indexing":
                entry.state = "added" if entry.placed == "placed" else "unchanged"
                try:
                    entry.chunks = self.describe((self.corpus / entry.path).resolve())
                except Exception:  # noqa: BLE001 - only the report's detail is missing
                    log.debug("could not describe %s", entry.path, exc_info=True)

    def _take_out_unreadable(self, job: Job, report) -> None:
        """A file the reader accepted but the build skipped (over the size limit, say) leaves the corpus again."""
        corpus = self.corpus.resolve()
        ours = {(corpus / f.path).resolve(): f for f in job.files if f.state == "indexing" and f.placed == "placed"}
        bad = [(ours[Path(s.path).resolve()], s.reason) for s in report.skipped if Path(s.path).resolve() in ours]
        if not bad:
            return
        for entry, reason in bad:
            (self.corpus / entry.path).unlink(missing_ok=True)
            entry.placed = ""
            self._refuse(job, entry, reason)
        if not build_index(self.settings, encoder=self.assistant.encoder, progress=False).up_to_date:
            reopen(self.assistant)

    def _finish(self, job: Job, state: str) -> None:
        with self._cond:
            job.state, job.finished = state, time.time()
            if state == "done" and (job.changed or any(f.state in ("added", "removed") for f in job.files)):
                self.generation += 1
            self._forget_old()
        if state != "interrupted":
            shutil.rmtree(self.staging / job.id, ignore_errors=True)
            self._remove_staging_if_empty()
        if job.kind == "reindex":
            log.info("reindex job %s %s: %s (%.1f s)", job.id, state, job.message, job.seconds())
            return
        done = DONE[job.kind]
        count = sum(1 for f in job.files if f.state == done)
        log.info("%s job %s %s: %d of %d files %s (%.1f s)", job.kind, job.id, state, count, len(job.files), done,
                 job.seconds())

    def _forget_old(self) -> None:
        finished = [j for j in self._jobs.values() if not j.active]
        for old in sorted(finished, key=lambda j: j.finished or 0)[:-KEEP_FINISHED]:
            del self._jobs[old.id]

    # -- undoing ------------------------------------------------------------------------------------------------------

    def _roll_back(self, job: Job) -> None:
        """Takes the job's own files out of the corpus again (only while they still hold the uploaded bytes)."""
        job.cancel_requested = True
        try:
            self._write_journal(job)  # a kill during the roll-back: the next start finishes it
        except OSError:
            pass
        for entry in job.files:
            if job.kind == "removal":
                self._untrash(entry)
            elif entry.placed:
                path = self.corpus / entry.path
                if _same_file(path, entry.sha256):
                    path.unlink(missing_ok=True)
                entry.placed = ""
            if entry.state not in ("refused", "failed"):
                entry.state = "cancelled"

    def _untrash(self, entry: FileJob) -> bool:
        """Moves a file that this removal job put into the trash back under its own name; False (and the entry
        failed, saying where the file is) when that cannot be done."""
        placed, entry.placed = entry.placed, ""
        if placed == "trashed":
            try:
                restore(self.corpus, entry.path, to=entry.name)
            except TrashError as exc:
                entry.state, entry.note = "failed", f"left in {TRASH}/{entry.path}: {exc}"
                log.warning("could not put %s back: %s", entry.name, exc)
                return False
            entry.path = ""
        elif placed == "trashing" and not os.path.lexists(self.corpus / entry.name):  # moved, not yet recorded
            entry.state, entry.note = "failed", f"moved to {TRASH}/ (under a name not recorded); not put back"
            return False
        return True

    def _put_back_removal(self, job: Job) -> None:
        """A removal stopped before its build went live: its files go back into the corpus, which then matches the
        live index again, and the job runs again at the next start. Files the live index no longer holds (the job
        was killed after its commit) stay in the trash."""
        indexed = self._indexed_files()
        for entry in job.files:
            if not entry.placed:
                continue
            stem = Path(entry.name).with_suffix("").as_posix()
            if entry.placed == "trashed" and stem not in indexed and entry.name not in indexed:
                entry.state, entry.placed = "removed", ""
            elif self._untrash(entry):
                entry.state, entry.note = "waiting", ""
        self._write_journal(job)

    def _put_back(self, job: Job) -> None:
        """Moves the job's files that are in the corpus but not in the live index back into the staging folder, so the
        corpus holds no upload that is not indexed; the job runs again at the next start."""
        if job.kind != "upload":
            self._put_back_removal(job)  # (a reindex job has nothing to put back)
            return
        indexed = self._indexed_files()
        folder = self.staging / job.id
        for entry in job.files:
            if entry.placed not in ("placing", "placed"):
                if entry.state == "checking":  # ("indexing" here: a file that was in the corpus already)
                    entry.state = "waiting"
                continue
            path = self.corpus / entry.path
            if not _same_file(path, entry.sha256):  # the link was never made (or the file is no longer ours)
                entry.placed, entry.path, entry.state = "", "", "waiting"
                continue
            if indexed.get(Path(entry.path).stem) == entry.sha256[:16]:  # committed before the stop: it stays
                entry.placed, entry.state = "", "added"
                continue
            staged = folder / entry.staged
            if not staged.exists():
                try:
                    os.link(path, staged)
                except OSError:
                    shutil.copyfile(path, staged)
            path.unlink(missing_ok=True)
            entry.placed, entry.path, entry.state, entry.note = "", "", "waiting", ""
        self._write_journal(job)

    # -- the journal and recovery --------------------------------------------------------------------------------------

    def _write_journal(self, job: Job) -> None:
        folder = self.staging / job.id
        tmp = folder / (JOURNAL + ".tmp")
        tmp.write_text(json.dumps(job.journal()))
        os.replace(tmp, folder / JOURNAL)  # whole or not at all

    def _remove_staging_if_empty(self) -> None:
        with self._cond:
            try:
                self.staging.rmdir()  # so that a cancelled job leaves the corpus folder exactly as it was
            except OSError:
                pass

    def recover(self) -> None:
        """At start: removes partial index builds and uploads that never got their job; undoes cancelled jobs;
        puts unindexed files of interrupted jobs back into staging and queues those jobs again."""
        remove_partial_builds(Path(self.settings.index_dir))
        if not self.staging.is_dir() or self.staging.is_symlink():
            return
        for folder in sorted(self.staging.iterdir()):
            job = self._read_journal(folder)
            if job is None:
                log.info("removing %s: an upload that was still being received when the server stopped", folder.name)
                shutil.rmtree(folder, ignore_errors=True) if folder.is_dir() else folder.unlink(missing_ok=True)
                continue
            job.resumed = True
            self._jobs[job.id] = job
            if job.cancel_requested:
                self._roll_back(job)
                self._finish(job, "cancelled")
                continue
            self._put_back(job)
            for entry in job.files:
                if job.kind == "upload" and entry.state == "waiting" and not (folder / entry.staged).exists():
                    entry.state, entry.note = "failed", "lost: its staged copy is missing"
            job.message = "resumed after a server restart"
            if job.kind == "reindex" or any(entry.state in ("waiting", "indexing") for entry in job.files):
                self._queue.append(job)
                log.info("%s job %s resumed after a server restart", job.kind, job.id)
            else:
                job.started = job.started or time.time()
                self._finish(job, "done")
        self._remove_staging_if_empty()

    @staticmethod
    def _read_journal(folder: Path) -> Job | None:
        try:
            data = json.loads((folder / JOURNAL).read_text())
            files = [FileJob(**{k: v for k, v in f.items() if k in FileJob.__dataclass_fields__})
                     for f in data["files"]]
            kind = str(data.get("kind", "upload"))
            if kind not in ("upload", "removal", "reindex"):
                return None
            return Job(str(data["id"]), files, created=float(data.get("created", time.time())),
                       cancel_requested=bool(data.get("cancelled")), kind=kind, rebuild=bool(data.get("rebuild")))
        except (OSError, ValueError, KeyError, TypeError):
            return None
