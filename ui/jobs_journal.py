"""The journal of the background jobs (``ui/jobs.py``) and what the next start finds of them: each job's record,
``<corpus>/.uploads/<job id>/job.json``, written whole or not at all; the staged uploads that never got one; and the
build folders a killed index build left."""
from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import time
from pathlib import Path
from typing import Iterator

from qa.index import DAMAGED_SUFFIX, current_build

from .jobs_model import JOURNAL, FileJob, Job

log = logging.getLogger("qa.ui.jobs")


def write_journal(staging: Path, job: Job) -> None:
    folder = staging / job.id
    tmp = folder / (JOURNAL + ".tmp")
    tmp.write_text(json.dumps(job.journal()))
    os.replace(tmp, folder / JOURNAL)  # whole or not at all


def read_journal(folder: Path) -> Job | None:
    """The job a staging folder records; None when it has no readable journal."""
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


def journaled_jobs(staging: Path) -> Iterator[Job]:
    """The jobs a stopped server left in the staging folder, by folder name; a folder without a journal is an upload
    that never got its job, and is removed on the way."""
    for folder in sorted(staging.iterdir()):
        job = read_journal(folder)
        if job is None:
            log.info("removing %s: an upload that was still being received when the server stopped", folder.name)
            shutil.rmtree(folder, ignore_errors=True) if folder.is_dir() else folder.unlink(missing_ok=True)
            continue
        yield job


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
