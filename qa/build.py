"""Building and updating the index: read, clean, split and chunk the corpus's new or changed files, embed them while
later files are parsed, write BM25, the dense index, the sentence vectors and the store into a new build folder, and
make it live by one atomic rename (see ``qa.index`` for the layout and why an interrupted build loses nothing)."""
from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import shutil
import sqlite3
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from .config import Settings
from .embed import Encoder
from .index import (DAMAGED_SUFFIX, Index, IndexDamaged, IndexMismatch, IndexMissing, IndexShrink, IndexWriteError,
                    _compat, _file_records, current_build, load_manifest, verify_files)
from .ingest import Skipped, display_path, scan_corpus
from .write import write_build

log = logging.getLogger(__name__)

SHRINK_LIMIT = 0.5  # the largest share of the index's articles a build may remove without allow_shrink


@dataclass
class BuildReport:
    corpus: str
    index: str = ""
    articles: int = 0
    chunks: int = 0
    sentences: int = 0
    embedded_texts: int = 0
    reused_files: int = 0
    removed_files: int = 0
    removed_articles: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    up_to_date: bool = False
    seconds: float = 0.0
    encode_seconds: float = 0.0
    dim: int = 0
    dense_index: dict = field(default_factory=dict)
    damaged_build: str | None = None  # where the damaged build this one replaced was moved aside

    def to_json(self) -> dict:
        """One JSON-ready object; skips are ``{"path", "reason"}``."""
        return asdict(self)


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
                progress: bool = True, allow_shrink: bool = False,
                checkpoint: Callable[[], None] | None = None) -> BuildReport:
    """Build or update the index of ``settings.corpus_dir`` in ``settings.index_dir``.

    Files whose content is unchanged since the last build keep their vectors; only new or changed ones are embedded,
    and removed ones leave the index. A file that cannot be read is skipped with its reason (``report.skipped``). A
    damaged live index is rebuilt from the corpus. Raises IngestError when the corpus folder is missing, IndexShrink
    when the build would remove more than half of the index's articles (unless ``allow_shrink``), IndexWriteError
    when the build cannot be written; the previous index stays live in every case. ``checkpoint`` is called between
    files, between embedding batches and just before the new build goes live: whatever it raises stops the build
    there (the partial folder is removed, the previous index stays live) and is raised again.
    """
    started = time.perf_counter()
    corpus_dir, index_dir = settings.corpus_dir, settings.index_dir
    report = BuildReport(corpus=display_path(corpus_dir), index=display_path(index_dir))
    scan = scan_corpus(corpus_dir, max_bytes=settings.limits.max_file_bytes)
    files = scan.files
    with _Lock(index_dir):
        live = current_build(index_dir)
        old, damaged = _open_previous(index_dir, settings, rebuild)
        fingerprints = {f.rel_id: f.fingerprint for f in files}
        if old is not None and old.manifest["files"] == fingerprints:
            _up_to_date(report, old, scan.skipped)
            report.seconds = time.perf_counter() - started
            old.close()
            _clear_stale(index_dir, live.name, None)  # what a killed build left behind (the lock is ours)
            return report
        name = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ") + f"-{os.getpid()}"
        folder = index_dir / "builds" / name
        try:
            try:
                previous = _previous_article_ids(old, live)
                if previous and not allow_shrink:
                    _check_shrink(_removed_before_build(old, fingerprints, previous), len(previous), settings)
                folder.mkdir(parents=True)
                new_ids = write_build(folder, files, old, settings, encoder, progress, report, checkpoint)
                if previous:
                    report.removed_articles = len(previous - new_ids)
                    if not allow_shrink:
                        _check_shrink(report.removed_articles, len(previous), settings)
                if old is not None:
                    report.removed_files = len(set(old.manifest["files"]) - set(fingerprints))
                    old.close()
                    old = None
                _go_live(index_dir, folder, _manifest(settings, report, folder, fingerprints, scan.skipped, started),
                         checkpoint)
            except (OSError, sqlite3.Error) as exc:
                raise _write_failure(exc, index_dir) from exc
        except BaseException:
            if old is not None:
                old.close()
            shutil.rmtree(folder, ignore_errors=True)
            raise
        report.skipped = _sorted(report.skipped + scan.skipped)
        report.damaged_build = _clear_stale(index_dir, name, damaged)
    report.seconds = time.perf_counter() - started
    return report


def _go_live(index_dir: Path, folder: Path, manifest: dict, checkpoint: Callable[[], None] | None) -> None:
    """Makes a written build the live one: its manifest, the last checkpoint, then the ``CURRENT`` pointer swapped."""
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1))
    if checkpoint is not None:
        checkpoint()  # the last moment a build can still be stopped
    pointer = index_dir / "CURRENT.tmp"
    pointer.write_text(folder.name)
    os.replace(pointer, index_dir / "CURRENT")  # the moment the new build goes live


def _up_to_date(report: BuildReport, old: Index, unread: list[Skipped]) -> None:
    """The report of a build that had nothing to do: the live index's counts and skips."""
    counts = old.manifest["counts"]
    report.articles, report.chunks, report.sentences = counts["articles"], counts["chunks"], counts["sentences"]
    report.dim, report.dense_index = old.manifest["embedding_dim"], old.manifest.get("dense_index", {})
    report.skipped = _sorted([Skipped(**s) for s in old.manifest.get("skipped", [])] + unread)
    report.up_to_date, report.reused_files = True, len(old.manifest["files"])  # the same files as now


def _manifest(settings: Settings, report: BuildReport, folder: Path, fingerprints: dict, unread: list[Skipped],
              started: float) -> dict:
    return {
        **_compat(settings),
        "embedding_dim": report.dim,
        "embedding_backend": settings.backend,  # informational: backends give vectors within bf16 rounding
        "dense_index": report.dense_index,
        "corpus": str(settings.corpus_dir),
        "files": fingerprints,
        "skipped": [asdict(s) for s in report.skipped],  # files of ``files`` that gave no article
        "unread": [asdict(s) for s in unread],  # files not even fingerprinted (for the record)
        "counts": {"articles": report.articles, "chunks": report.chunks, "sentences": report.sentences},
        "index_files": _file_records(folder),
        "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "build_seconds": round(time.perf_counter() - started, 3),
    }


def _sorted(skipped: list[Skipped]) -> list[Skipped]:
    return sorted(skipped, key=lambda s: s.path)


def _open_previous(index_dir: Path, settings: Settings, rebuild: bool) -> tuple[Index | None, Path | None]:
    """The live index to update (None: build everything), and the live build's folder when it is damaged."""
    live = current_build(index_dir)
    try:
        if not rebuild:
            return Index.open(index_dir, settings), None
        if live is not None:  # checked only so that a damaged build is kept aside rather than deleted
            verify_files(live, load_manifest(live, index_dir), index_dir)
        return None, None
    except IndexMissing:
        return None, None
    except IndexDamaged as exc:
        log.warning("index at %s is damaged (%s): rebuilding it from %s", index_dir, exc.part,
                    display_path(settings.corpus_dir))
        return None, live
    except IndexMismatch as exc:
        if not rebuild:
            log.info("%s; rebuilding everything", str(exc).split(";")[0])
        return None, None


def _previous_article_ids(old: Index | None, live: Path | None) -> set[str] | None:
    """Ids of the articles in the live index (what a build could remove); None when they cannot be read."""
    if old is not None:
        return old.article_ids()
    if live is None or not (live / "store.sqlite").is_file():
        return None
    try:
        db = sqlite3.connect(f"file:{live / 'store.sqlite'}?mode=ro", uri=True)
        try:
            return {row[0] for row in db.execute("SELECT id FROM articles")}
        finally:
            db.close()
    except sqlite3.Error:
        return None  # a damaged store: nothing to compare with


def _removed_before_build(old: Index | None, fingerprints: dict, previous: set[str]) -> int:
    """The articles a build certainly removes, known before anything is embedded: those of files that are gone (what
    changed files give is known only after)."""
    if old is None:  # a full rebuild: only an empty corpus tells in advance
        return 0 if fingerprints else len(previous)
    gone = set(old.manifest["files"]) - set(fingerprints)
    return sum(len(old.store.articles_of_file(f)) for f in gone)


def _check_shrink(removed: int, total: int, settings: Settings) -> None:
    if total and removed > total * SHRINK_LIMIT:
        raise IndexShrink(
            f"refusing to remove {removed} of the {total} articles in the index at {settings.index_dir} (more than "
            f"{SHRINK_LIMIT:.0%}; is {display_path(settings.corpus_dir)} the right, complete corpus folder?): run "
            f"`qa index --allow-shrink` to remove them")


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
