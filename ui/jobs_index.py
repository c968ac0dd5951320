"""The work of a background job (``ui/jobs.py``), from its first file to its commit: the files placed (an upload)
or moved into the trash (a removal), then the index updated from the corpus folder. The job commits when the new
build goes live; the live index is the previous one until then."""
from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Callable

from qa.build import build_index

from .jobs_files import JobFiles
from .jobs_model import Job

log = logging.getLogger("qa.ui.jobs")

Checkpoint = Callable[[], None]  # raises JobCancelled or ShuttingDown where the job must stop


def reopen(assistant) -> None:
    """Makes the assistant answer from the build that just went live: the swap step of ``Assistant.update`` (which
    cannot take a checkpoint), under the same lock, so a question never sees a closed index."""
    with assistant._lock:
        assistant.index.close()
        assistant._open()


class JobIndexing:
    """Runs the jobs of one index, one at a time (the queue's worker calls ``run``)."""

    def __init__(self, assistant, files: JobFiles, describe: Callable[[Path], list[tuple[str, int]]],
                 lock: threading.Condition):
        self.assistant = assistant
        self.settings = assistant.settings
        self.files = files
        self.describe = describe
        self._lock = lock  # the queue's: ``cancel`` reads a job's commit and state under it

    def run(self, job: Job, checkpoint: Checkpoint) -> None:
        """Does the job's work; a checkpoint stops it before its commit, leaving the undoing to the caller."""
        if job.kind == "reindex":
            self._reindex(job, checkpoint)
        elif job.kind == "removal":
            self.files.trash(job, checkpoint)
            if any(f.state == "removing" for f in job.files):
                # The person chose these files: taking out most of the collection is what was asked for here.
                self._build(job, checkpoint, allow_shrink=True)
                job.mark_committed()
        else:
            self.files.place(job, checkpoint)
            if any(f.state == "indexing" for f in job.files):
                self._index(job, checkpoint)

    def _reindex(self, job: Job, checkpoint: Checkpoint) -> None:
        report = self._build(job, checkpoint, rebuild=job.rebuild)
        skipped = len(report.skipped)
        job.message = (f"{report.articles} articles, {report.chunks} chunks"
                       + (f", {skipped} file{'s' if skipped != 1 else ''} skipped" if skipped else "")
                       + (" (it was up to date)" if report.up_to_date else ""))

    def _build(self, job: Job, checkpoint: Checkpoint, **options):
        """Updates the index from the corpus folder; the job commits when the new build goes live."""
        report = build_index(self.settings, encoder=self.assistant.encoder, progress=False, checkpoint=checkpoint,
                             **options)
        with self._lock:
            job.committed = True
            if job.state == "cancelling":  # asked too late: the build was already live
                job.state = "running"
        if not report.up_to_date:
            job.changed = True
            reopen(self.assistant)
        return report

    def _index(self, job: Job, checkpoint: Checkpoint) -> None:
        """Builds the index with the job's files; the job commits when the new build goes live."""
        report = self._build(job, checkpoint)
        if self.files.take_out_unreadable(job, report.skipped):
            if not build_index(self.settings, encoder=self.assistant.encoder, progress=False).up_to_date:
                reopen(self.assistant)
        indexed = [entry for entry in job.files if entry.state == "indexing"]
        job.mark_committed()
        for entry in indexed:
            try:
                entry.chunks = self.describe((self.files.corpus / entry.path).resolve())
            except Exception:  # noqa: BLE001 - only the report's detail is missing
                log.debug("could not describe %s", entry.path, exc_info=True)
