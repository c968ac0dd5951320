"""The data of the background jobs (``ui/jobs.py``): a job and its files, their states, the report lines the page
and /jobs show, and the journal record a job is saved as."""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

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

    def mark_committed(self) -> None:
        """What the job's files are once its build is live."""
        for entry in self.files:
            if entry.state == "indexing":
                entry.state = "added" if entry.placed == "placed" else "unchanged"
            elif entry.state == "removing":
                entry.state, entry.placed = "removed", ""

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
