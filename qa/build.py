"""Building and updating the index: the corpus's new or changed files read, cleaned, chunked and embedded into new
segments, the old versions of changed and removed files marked deleted, each step made live by one atomic rename
(see ``qa.index`` for the layout and why an interrupted build loses nothing), then small segments merged."""
from __future__ import annotations

import errno
import fcntl
import logging
import shutil
import sqlite3
import time
from pathlib import Path
from typing import Callable

from .config import Settings
from .embed import Encoder
from .commit import BuildReport, BuildRun
from .index import (DAMAGED_SUFFIX, IndexDamaged, IndexMismatch, IndexWriteError, check_manifest, current_build, load_manifest, verify_files)
from .ingest import Skipped, display_path, scan_corpus
from .merge import merge_segments
from .write import write_segments

log = logging.getLogger(__name__)


class _Lock:
    """One build at a time per index folder."""

    def __init__(self, index_dir: Path):
        try:
            index_dir.mkdir(parents=True, exist_ok=True)
            self.file = open(index_dir / ".lock", "w")
        except OSError as exc:
            raise IndexWriteError(f"cannot write the index folder {index_dir}: {exc.strerror or exc}") from None

    def __enter__(self):
        try:
            fcntl.flock(self.file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("another build of this index is running; waiting for it")
            fcntl.flock(self.file, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.file, fcntl.LOCK_UN)
        self.file.close()


def build_index(settings: Settings, *, rebuild: bool = False, encoder: Encoder | None = None,
                progress: bool = True, allow_shrink: bool = False, optimize: bool = False,
                checkpoint: Callable[[], None] | None = None, ray: str | None = None,
                ray_workers: int | None = None) -> BuildReport:
    """Build or update the index of ``settings.corpus_dir`` in ``settings.index_dir``.

    New and changed files are embedded into new segments; a changed or removed file's old articles are marked
    deleted; unchanged files cost nothing. Each finished segment of an update is committed at once, so an interrupted
    build keeps what it finished; a rebuild commits once, at the end. Small segments are then merged (``optimize``:
    all of them into one). A file that cannot be read is skipped with its reason (``report.skipped``). A damaged live
    index is rebuilt from the corpus. Raises IngestError when the corpus folder is missing, IndexShrink when the build
    would remove more than half of the index's articles (unless ``allow_shrink``), IndexWriteError when the build
    cannot be written; the last commit stays live in every case. ``checkpoint`` is called between files, between
    embedding batches and just before each commit: whatever it raises stops the build there (the partial commit is
    removed, the last one stays live) and is raised again. ``ray`` ("local" or a cluster address) writes the new
    segments on a Ray cluster (``qa.distributed``), with ``ray_workers`` actors (default: one per GPU, else per CPU),
    and commits them once, at the end.
    """
    started = time.perf_counter()
    corpus_dir, index_dir = settings.corpus_dir, settings.index_dir
    report = BuildReport(corpus=display_path(corpus_dir), index=display_path(index_dir))
    scan = scan_corpus(corpus_dir, max_bytes=settings.limits.max_file_bytes)
    fingerprints = {f.rel_id: f.fingerprint for f in scan.files}
    with _Lock(index_dir):
        live = current_build(index_dir)
        previous, damaged = _open_previous(index_dir, settings, rebuild)
        if previous is not None and previous["files"] == fingerprints and not optimize:
            _up_to_date(report, previous, scan.skipped)
            report.seconds = time.perf_counter() - started
            _clear_stale(index_dir, live.name, None)  # what a killed build left behind (the lock is ours)
            return report
        encoder = encoder or Encoder.from_settings(settings)
        run = BuildRun(settings, report, previous, live, checkpoint, allow_shrink,
                   previous["embedding_dim"] if previous else None if ray else encoder.dim)
        try:
            try:
                run.check_shrink(run.removed_before_build(fingerprints))
                changed = [f for f in scan.files if run.commit.files.get(f.rel_id) != f.fingerprint]
                report.reused_files = len(scan.files) - len(changed) if previous else 0
                report.removed_files = len(set(run.commit.files) - set(fingerprints))
                if changed and not ray:
                    run.embedding_with(encoder)
                if ray:
                    _write_on_ray(run, changed, fingerprints, ray, ray_workers)
                    report.dim = report.dim or encoder.dim  # nothing was embedded: the driver's model says
                else:
                    write_segments(changed, settings, encoder, run.new_segment,
                                   lambda info: run.segment_done(info, fingerprints), report, progress, checkpoint)
                run.finish(fingerprints, scan.skipped)
                merge_segments(run, optimize, progress)
            except (OSError, sqlite3.Error) as exc:
                raise _write_failure(exc, index_dir) from exc
        except BaseException:
            run.discard()
            raise
        report.skipped = _sorted(report.skipped + scan.skipped)
        report.damaged_build = _clear_stale(index_dir, run.live_name, damaged)
    report.seconds = time.perf_counter() - started
    return report


def _write_on_ray(run: BuildRun, changed: list, fingerprints: dict, ray: str, workers: int | None) -> None:
    from .distributed import write_on_ray

    run.progressive = False
    folder = run.new_segment().parent
    for infos, encoder, dim, skipped, embedded, seconds in write_on_ray(changed, run.settings, folder,
                                                                   None if ray == "local" else ray, workers):
        run.encoder, run.report.dim = encoder, dim
        for info in infos:
            run.segment_done(info, fingerprints)
        run.report.skipped += skipped
        run.report.embedded_texts += embedded
        run.report.encode_seconds += seconds


def _up_to_date(report: BuildReport, manifest: dict, unread: list[Skipped]) -> None:
    """The report of a build that had nothing to do: the live index's counts and skips."""
    counts = manifest["counts"]
    report.articles, report.chunks, report.sentences = counts["articles"], counts["chunks"], counts["sentences"]
    report.dim = manifest["embedding_dim"]
    report.dense_index = manifest["segments"][-1]["dense_index"] if manifest["segments"] else {}
    report.segments = len(manifest["segments"])
    report.skipped = _sorted([Skipped(**s) for s in manifest.get("skipped", [])] + unread)
    report.up_to_date, report.reused_files = True, len(manifest["files"])  # the same files as now


def _sorted(skipped: list[Skipped]) -> list[Skipped]:
    return sorted(skipped, key=lambda s: s.path)


def _open_previous(index_dir: Path, settings: Settings, rebuild: bool) -> tuple[dict | None, Path | None]:
    """The live commit's manifest to update (None: build everything), checked but not opened (an update need not
    load what it keeps), and the live commit's folder when it is damaged."""
    live = current_build(index_dir)
    if live is None:
        return None, None
    try:
        manifest = load_manifest(live, index_dir)
        if not rebuild:
            check_manifest(manifest, settings, index_dir)
        verify_files(live, manifest, index_dir)  # also for a rebuild, so that a damaged one is kept aside
        return (None if rebuild else manifest), None
    except IndexDamaged as exc:
        log.warning("index at %s is damaged (%s): rebuilding it from %s", index_dir, exc.part,
                    display_path(settings.corpus_dir))
        return None, live
    except IndexMismatch as exc:
        if not rebuild:
            log.info("%s; rebuilding everything", str(exc).split(";")[0])
        return None, None


def _write_failure(exc: Exception, index_dir: Path) -> IndexWriteError:
    """One line for a build that could not be written."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    full = (isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)) or "disk is full" in text \
        or "No space left" in text
    if full:
        return IndexWriteError(f"disk full while building the index at {index_dir}: the previous index is kept and "
                               f"the partial build removed")
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else text
    if isinstance(exc, OSError) and exc.filename:
        reason = f"{reason}: {exc.filename}"
    return IndexWriteError(f"could not build the index at {index_dir} ({reason}): the previous index is kept and the "
                           f"partial build removed")


def _clear_stale(index_dir: Path, name: str, damaged: Path | None) -> str | None:
    """Removes the builds other than the live one, except a damaged one, which is renamed aside; returns where it went.
    Earlier damaged builds stay too: they are the user's to inspect and delete."""
    kept = None
    for stale in (index_dir / "builds").iterdir():
        if stale.name == name or stale.name.endswith(DAMAGED_SUFFIX):
            continue
        if damaged is not None and stale.name == damaged.name:
            target = stale.with_name(stale.name + DAMAGED_SUFFIX)
            try:
                stale.rename(target)
                kept = display_path(target)
                log.warning("the damaged build was replaced and kept as %s", kept)
            except OSError as exc:
                log.warning("could not move the damaged build %s aside (%s)", stale, exc.strerror or exc)
            continue
        shutil.rmtree(stale, ignore_errors=True)
    return kept
