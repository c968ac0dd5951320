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

This module is the queue and its worker; a job's data is in ``jobs_model.py``, its journal and what the next start
finds in ``jobs_journal.py``, the moves of its files in ``jobs_files.py``, and its work up to the commit in
``jobs_index.py``.
"""
from __future__ import annotations

import logging
import shutil
import threading
import time
import uuid
from collections import deque
from pathlib import Path
from typing import Callable

from qa.index import IndexError_
from qa.ingest import IngestError

from .jobs_files import JobFiles, stage
from .jobs_index import JobIndexing
from .jobs_journal import journaled_jobs, remove_partial_builds, write_journal
from .jobs_model import DONE, KEEP_FINISHED, STAGING, FileJob, Job, JobCancelled, JobError, ShuttingDown

log = logging.getLogger("qa.ui.jobs")

class UploadJobs:
    """The upload jobs of one index: a queue, one worker thread, cancellation, and recovery at start."""

    def __init__(self, assistant, describe: Callable[[Path], list[tuple[str, int]]] | None = None, *,
                 start: bool = True):
        self.assistant = assistant
        self.settings = assistant.settings
        self.corpus = Path(self.settings.corpus_dir)
        self.staging = self.corpus / STAGING
        self.files = JobFiles(assistant, self.corpus, self.staging)
        self._cond = threading.Condition()
        self.indexing = JobIndexing(assistant, self.files, describe or (lambda path: []), self._cond)
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
        job = Job(uuid.uuid4().hex[:12], [])

        def stage_all(folder: Path) -> None:
            for n, (source, name) in enumerate(uploads):
                job.files.append(stage(folder, n, Path(source), name))

        return self._add(self._journaled(job, "stage the upload", stage_all))

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

    def _journaled(self, job: Job, what: str = "queue the job",
                   fill: Callable[[Path], None] = lambda folder: None) -> Job:
        """The job with its staging folder filled and its journal written, last: only now is this a job that must not
        be lost (a folder without a journal is removed at the next start)."""
        if self.staging.is_symlink():
            raise JobError(f"cannot {what}: {self.staging} is a link")
        folder = self.staging / job.id
        try:
            with self._cond:  # not while a finishing job removes the (empty) staging folder
                folder.mkdir(parents=True)
            fill(folder)
            write_journal(self.staging, job)
        except OSError as exc:
            shutil.rmtree(folder, ignore_errors=True)
            raise JobError(f"cannot {what} in {self.staging}: {exc.strerror or exc}") from None
        return job

    def _add(self, job: Job) -> Job:
        with self._cond:
            self._jobs[job.id] = job
            self._queue.append(job)
            self._cond.notify_all()
        log.info("%s job %s queued: %s", job.kind, job.id,
                 ", ".join(f.name for f in job.files) or ("rebuild" if job.rebuild else "update"))
        return job

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
                self.files.roll_back(job)
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
            self.indexing.run(job, lambda: self._checkpoint(job))
            self._finish(job, "done")
        except JobCancelled:
            self.files.roll_back(job)
            self._finish(job, "cancelled")
        except ShuttingDown:
            self.files.put_back(job)
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
            job.mark_committed()
            self._finish(job, "done")
            return
        job.message = message
        self.files.roll_back(job)
        self._finish(job, "failed")

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

    def _remove_staging_if_empty(self) -> None:
        with self._cond:
            try:
                self.staging.rmdir()  # so that a cancelled job leaves the corpus folder exactly as it was
            except OSError:
                pass

    # -- recovery at start --------------------------------------------------------------------------------------------

    def recover(self) -> None:
        """At start: removes partial index builds and uploads that never got their job; undoes cancelled jobs;
        puts unindexed files of interrupted jobs back into staging and queues those jobs again."""
        remove_partial_builds(Path(self.settings.index_dir))
        if not self.staging.is_dir() or self.staging.is_symlink():
            return
        for job in journaled_jobs(self.staging):
            job.resumed = True
            self._jobs[job.id] = job
            if job.cancel_requested:
                self.files.roll_back(job)
                self._finish(job, "cancelled")
            elif self._resume(job):
                self._queue.append(job)
                log.info("%s job %s resumed after a server restart", job.kind, job.id)
            else:
                job.started = job.started or time.time()
                self._finish(job, "done")
        self._remove_staging_if_empty()

    def _resume(self, job: Job) -> bool:
        """Puts back what an interrupted job had changed; True when it has something left to do."""
        self.files.put_back(job)
        folder = self.staging / job.id
        for entry in job.files:
            if job.kind == "upload" and entry.state == "waiting" and not (folder / entry.staged).exists():
                entry.state, entry.note = "failed", "lost: its staged copy is missing"
        job.message = "resumed after a server restart"
        return job.kind == "reindex" or any(entry.state in ("waiting", "indexing") for entry in job.files)
