"""The files of the background jobs (``ui/jobs.py``) in the corpus folder: staging an upload, linking the accepted
files into the corpus (an upload) or moving them into the trash (a removal), and undoing either: taking them out
again when a job is cancelled or fails, or putting them back when the server stops before the job's commit."""
from __future__ import annotations

import hashlib
import logging
import os
import shutil
from pathlib import Path
from typing import Callable

from qa.index import sha256_file
from qa.trash import TRASH, TrashError, restore, trash

from .jobs_journal import write_journal
from .jobs_model import FileJob, Job
from .uploads import Saved, check_upload, place

log = logging.getLogger("qa.ui.jobs")


def _same_file(path: Path, sha256: str) -> bool:
    """``path`` is a regular file with these bytes (only then is it ours to take out of the corpus)."""
    try:
        return path.is_file() and not path.is_symlink() and sha256_file(path) == sha256
    except OSError:
        return False


def stage(folder: Path, n: int, source: Path, name: str) -> FileJob:
    """Copies one uploaded file into the job's staging folder; a file that cannot be read is refused."""
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


class JobFiles:
    """Moves the files of the jobs of one corpus folder in and out of it; each move is journaled before it is made,
    so that the next start can tell what a killed server left half done."""

    def __init__(self, assistant, corpus: Path, staging: Path):
        self.assistant = assistant
        self.corpus = corpus
        self.staging = staging

    def indexed(self) -> dict[str, str]:
        """File id -> fingerprint in the live index (the fingerprint is the first 16 hex digits of the SHA-256)."""
        try:
            return dict(self.assistant.index.manifest.get("files", {}))
        except AttributeError:
            return {}

    def refuse(self, job: Job, entry: FileJob, reason: str) -> None:
        entry.state, entry.note = "refused", reason
        if entry.staged:
            (self.staging / job.id / entry.staged).unlink(missing_ok=True)
        write_journal(self.staging, job)
        log.info("%s of %s refused: %s", job.kind, entry.name, reason)

    # -- doing --------------------------------------------------------------------------------------------------------

    def place(self, job: Job, checkpoint: Callable[[], None]) -> None:
        """Checks each file with the library's reader and links the accepted ones into the corpus."""
        folder = self.staging / job.id
        indexed = self.indexed()
        for entry in job.files:
            checkpoint()
            if entry.state != "waiting":
                continue
            staged = folder / entry.staged
            entry.state = "checking"
            checked = check_upload(staged, entry.name)
            if isinstance(checked, Saved):
                self.refuse(job, entry, checked.note)
                continue

            def journal_path(path: Path, entry=entry) -> None:
                entry.path, entry.placed = path.name, "placing"
                write_journal(self.staging, job)

            saved = place(checked, self.corpus, staged=staged, before_write=journal_path)
            if not saved.ok:
                entry.placed = ""
                self.refuse(job, entry, saved.note)
                continue
            entry.path, entry.note = saved.path.name, saved.note
            entry.placed = "placed" if saved.new else ""
            entry.state = "indexing"
            if not saved.new and indexed.get(Path(entry.path).stem) == entry.sha256[:16]:
                entry.state = "unchanged"
            write_journal(self.staging, job)
            staged.unlink(missing_ok=True)

    def trash(self, job: Job, checkpoint: Callable[[], None]) -> None:
        """Moves each file of a removal job into the trash; the journal records each before it moves."""
        for entry in job.files:
            checkpoint()
            if entry.state != "waiting":
                continue
            entry.placed = "trashing"
            write_journal(self.staging, job)
            try:
                moved = trash(self.corpus, entry.name)
            except TrashError as exc:
                entry.placed, reason = "", str(exc)
                self.refuse(job, entry, reason.removeprefix(f"{entry.name}: "))  # the report line names the file
                continue
            entry.path = moved.relative_to(self.corpus / TRASH).as_posix()
            entry.placed, entry.state, entry.note = "trashed", "removing", f"moved to {TRASH}/{entry.path}"
            write_journal(self.staging, job)

    def take_out_unreadable(self, job: Job, skipped) -> bool:
        """A file the reader accepted but the build skipped (over the size limit, say) leaves the corpus again;
        True when there was one (the index must then be updated without it)."""
        corpus = self.corpus.resolve()
        ours = {(corpus / f.path).resolve(): f for f in job.files if f.state == "indexing" and f.placed == "placed"}
        bad = [(ours[Path(s.path).resolve()], s.reason) for s in skipped if Path(s.path).resolve() in ours]
        for entry, reason in bad:
            (self.corpus / entry.path).unlink(missing_ok=True)
            entry.placed = ""
            self.refuse(job, entry, reason)
        return bool(bad)

    # -- undoing ------------------------------------------------------------------------------------------------------

    def roll_back(self, job: Job) -> None:
        """Takes the job's own files out of the corpus again (only while they still hold the uploaded bytes)."""
        job.cancel_requested = True
        try:
            write_journal(self.staging, job)  # a kill during the roll-back: the next start finishes it
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

    def put_back(self, job: Job) -> None:
        """Moves the job's files that are in the corpus but not in the live index back where they came from, so the
        corpus holds no change that is not indexed; the job runs again at the next start."""
        if job.kind == "upload":
            self._put_back_upload(job)
        else:
            self._put_back_removal(job)  # (a reindex job has nothing to put back)
        write_journal(self.staging, job)

    def _put_back_removal(self, job: Job) -> None:
        """A removal stopped before its build went live: its files go back into the corpus, which then matches the
        live index again. Files the live index no longer holds (the job was killed after its commit) stay in the
        trash."""
        indexed = self.indexed()
        for entry in job.files:
            if not entry.placed:
                continue
            stem = Path(entry.name).with_suffix("").as_posix()
            if entry.placed == "trashed" and stem not in indexed and entry.name not in indexed:
                entry.state, entry.placed = "removed", ""
            elif self._untrash(entry):
                entry.state, entry.note = "waiting", ""

    def _put_back_upload(self, job: Job) -> None:
        """An upload stopped before its build went live: its files go back into the staging folder."""
        indexed = self.indexed()
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
