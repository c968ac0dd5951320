"""A commit as a build changes it: its segments (each with its deleted articles and live counts), the corpus files it
indexes, and where each segment's folder is now. ``write`` makes it the live one: a new folder under ``builds/``,
the segments hard-linked into it, its manifest, then ``CURRENT`` swapped in one atomic rename."""
from __future__ import annotations

import json
import os
import shutil
import sqlite3
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from itertools import count
from pathlib import Path
from typing import Callable

from .config import Settings
from .embed import Encoder
from .index import IndexShrink, _compat, file_records
from .ingest import Skipped, display_path
from .segment import SegmentInfo

SHRINK_LIMIT = 0.5  # the largest share of the index's articles a build may remove without allow_shrink

_serial = count()


def new_name() -> str:
    """A name no other commit or segment of this index has: the time, the process and a counter."""
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ") + f"-{os.getpid()}-{next(_serial)}"


@dataclass
class Commit:
    segments: list[dict] = field(default_factory=list)  # {"name", "counts", "live", "deleted", "dense_index", "encoder"}
    files: dict = field(default_factory=dict)  # corpus file -> fingerprint
    records: dict = field(default_factory=dict)  # "<segment>/<file>" -> {"bytes", "sha256"?}
    places: dict = field(default_factory=dict)  # segment name -> the folder holding it now

    @classmethod
    def of(cls, manifest: dict | None, folder: Path | None) -> "Commit":
        if manifest is None:
            return cls()
        segments = [{**s, "deleted": list(s["deleted"]), "live": dict(s.get("live", s["counts"]))}
                    for s in manifest["segments"]]
        return cls(segments, dict(manifest["files"]), dict(manifest["index_files"]),
                   {s["name"]: folder / s["name"] for s in segments})

    @property
    def counts(self) -> dict:
        return {k: sum(s["live"][k] for s in self.segments) for k in ("articles", "chunks", "sentences")}

    def add(self, info: SegmentInfo, folder: Path, encoder: dict | None, at: int | None = None) -> None:
        """A new segment, last (or at position ``at``); ``encoder``: the backend, device and dtype that embedded it
        (None: several did)."""
        entry = {"name": info.name, "counts": info.counts, "live": dict(info.counts), "deleted": [],
                 "dense_index": info.dense_index, "encoder": encoder}
        self.segments.insert(len(self.segments) if at is None else at, entry)
        self.places[info.name] = folder
        self.records.update(file_records(folder))

    def drop(self, names: set[str]) -> None:
        """Removes whole segments (merged into another)."""
        self.segments = [s for s in self.segments if s["name"] not in names]
        self.records = {k: r for k, r in self.records.items() if k.split("/")[0] not in names}

    def articles_of(self, files: set[str], keep: str | None = None) -> list[tuple[dict, int, str]]:
        """(segment, article row, id) of the live articles of these corpus files, in every segment but ``keep``."""
        found = []
        for seg in self.segments if files else ():
            if seg["name"] == keep:
                continue
            db = sqlite3.connect(f"file:{self.places[seg['name']] / 'store.sqlite'}?mode=ro", uri=True)
            try:
                dead = set(seg["deleted"])
                found += [(seg, a, i) for f in sorted(files)
                          for a, i in db.execute("SELECT idx, id FROM articles WHERE file=?", (f,)) if a not in dead]
            finally:
                db.close()
        return found

    def delete_files(self, files: set[str], keep: str | None = None) -> list[tuple[dict, int, str]]:
        """Marks the articles of these corpus files deleted in every segment but ``keep``; returns them."""
        found = self.articles_of(files, keep)
        for seg in {id(s): s for s, _, _ in found}.values():
            seg["deleted"] = sorted(set(seg["deleted"]) | {a for s, a, _ in found if s is seg})
            db = sqlite3.connect(f"file:{self.places[seg['name']] / 'store.sqlite'}?mode=ro", uri=True)
            try:
                seg["live"] = _live_counts(db, seg)
            finally:
                db.close()
        return found

    def write(self, index_dir: Path, folder: Path, manifest: dict, checkpoint: Callable[[], None] | None) -> None:
        """Makes this commit live in ``folder`` (created if needed): the segments not yet there are hard-linked in,
        the manifest written, the last checkpoint called, then the ``CURRENT`` pointer swapped."""
        folder.mkdir(parents=True, exist_ok=True)
        for seg in self.segments:
            place = self.places[seg["name"]]
            if place.parent != folder:
                _link_tree(place, folder / seg["name"])
                self.places[seg["name"]] = folder / seg["name"]
        manifest = {**manifest, "segments": self.segments, "files": self.files, "index_files": self.records,
                    "counts": self.counts}
        (folder / "manifest.json").write_text(json.dumps(manifest, indent=1))
        if checkpoint is not None:
            checkpoint()  # the last moment a build can still be stopped
        pointer = index_dir / "CURRENT.tmp"
        pointer.write_text(folder.name)
        os.replace(pointer, index_dir / "CURRENT")  # the moment the new commit goes live


def _live_counts(db: sqlite3.Connection, seg: dict) -> dict:
    dead = seg["deleted"]
    marks = ",".join("?" * len(dead))
    n_chunks = db.execute(f"SELECT COUNT(*) FROM chunks WHERE article IN ({marks})", dead).fetchone()[0]
    n_sentences = db.execute(f"SELECT COUNT(*) FROM sentences WHERE article IN ({marks})", dead).fetchone()[0]
    counts = seg["counts"]
    return {"articles": counts["articles"] - len(dead), "chunks": counts["chunks"] - n_chunks,
            "sentences": counts["sentences"] - n_sentences}


def _link_tree(source: Path, target: Path) -> None:
    """The segment's files in a second folder: hard links (no copy: segments are never written again), or copies
    where the file system has none."""
    target.mkdir()
    for path in source.iterdir():
        try:
            os.link(path, target / path.name)
        except OSError:
            shutil.copy2(path, target / path.name)


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
    segments: int = 0  # in the index after the build
    damaged_build: str | None = None  # where the damaged build this one replaced was moved aside

    def to_json(self) -> dict:
        """One JSON-ready object; skips are ``{"path", "reason"}``."""
        return asdict(self)


class BuildRun:
    """One build's commits: the state it changes, the commit folder being written, what it removed."""

    def __init__(self, settings: Settings, report: BuildReport, previous: dict | None, live: Path | None,
                 checkpoint, allow_shrink: bool, dim: int | None):
        self.settings, self.report, self.checkpoint, self.allow_shrink = settings, report, checkpoint, allow_shrink
        self.index_dir = settings.index_dir
        self.commit = Commit.of(previous, live)
        # A rebuild starts from nothing: what it removes is the live index's articles it does not write again.
        self.previous_ids = _live_ids(live) if previous is None and live is not None else None
        self.previous_articles = previous["counts"]["articles"] if previous else len(self.previous_ids or ())
        self.progressive = previous is not None or live is None  # a rebuild keeps the old index until it is done
        self.writing: Path | None = None  # the commit folder being written
        self.live_name = live.name if live is not None else None
        self.deleted_ids: set[str] = set()
        self.added_ids: set[str] = set()
        self.unread: list[Skipped] = []  # corpus files not even fingerprinted, known at the end
        report.dim = dim
        self.encoder = None  # what embeds this build's segments: set by ``embedding_with``

    def embedding_with(self, encoder) -> None:
        # Stand-in encoders (tests, benchmarks) say nothing of a device: they compute on the CPU.
        self.encoder = {"backend": self.settings.backend if isinstance(encoder, Encoder) else type(encoder).__name__,
                        "device": getattr(encoder, "device", "cpu"), "dtype": getattr(encoder, "dtype", "float32")}

    def new_segment(self) -> Path:
        if self.writing is None:
            self.writing = self.index_dir / "builds" / new_name()
            self.writing.mkdir(parents=True)
        return self.writing / new_name()

    def segment_done(self, info: SegmentInfo, fingerprints: dict) -> None:
        folder = self.writing / info.name
        self.commit.add(info, folder, self.encoder)
        self.deleted_ids.update(i for _, _, i in self.commit.delete_files(info.files, keep=info.name))
        self.added_ids |= _article_ids(folder / "store.sqlite")
        self.commit.files.update({f: fingerprints[f] for f in info.files})
        if self.progressive:
            self.go_live()

    def finish(self, fingerprints: dict, unread: list[Skipped]) -> None:
        """The last commit of the build: removed (and changed but now unreadable) files' articles deleted."""
        stale = {f for f, p in self.commit.files.items() if fingerprints.get(f) != p}
        self.deleted_ids.update(i for _, _, i in self.commit.delete_files(stale))
        self.commit.files = dict(fingerprints)
        self.unread = unread
        self.go_live()

    def go_live(self) -> None:
        removed = (self.previous_ids if self.previous_ids is not None else self.deleted_ids) - self.added_ids
        self.report.removed_articles = len(removed)
        self.check_shrink(len(removed))
        folder = self.writing or self.index_dir / "builds" / new_name()
        counts = self.commit.counts
        self.report.articles, self.report.chunks, self.report.sentences = (counts["articles"], counts["chunks"],
                                                                            counts["sentences"])
        self.report.dense_index = self.commit.segments[-1]["dense_index"] if self.commit.segments else {}
        self.report.segments = len(self.commit.segments)
        self.commit.write(self.index_dir, folder, _manifest(self.settings, self.report, self.unread), self.checkpoint)
        self.live_name, self.writing = folder.name, None

    def check_shrink(self, removed: int) -> None:
        if self.previous_articles and not self.allow_shrink:
            check_shrink(removed, self.previous_articles, self.settings)

    def removed_before_build(self, fingerprints: dict) -> int:
        """The articles the build certainly removes, known before anything is embedded: those of files that are gone
        (what changed files give is known only after)."""
        if self.previous_ids is not None:  # a full rebuild: only an empty corpus tells in advance
            return 0 if fingerprints else len(self.previous_ids)
        return len(self.commit.articles_of(set(self.commit.files) - set(fingerprints)))

    def discard(self) -> None:
        if self.writing is not None:
            shutil.rmtree(self.writing, ignore_errors=True)


def _article_ids(store: Path) -> set[str]:
    db = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    try:
        return {row[0] for row in db.execute("SELECT id FROM articles")}
    finally:
        db.close()


def _live_ids(live: Path) -> set[str]:
    """Ids of the articles of a commit that could not be opened (another format, or damaged), as far as they can be
    read: what a rebuild could remove."""
    ids = set()
    for store in live.glob("**/store.sqlite"):
        try:
            ids |= _article_ids(store)
        except sqlite3.Error:
            pass  # a damaged store: nothing to compare with
    return ids


def _manifest(settings: Settings, report: BuildReport, unread: list[Skipped]) -> dict:
    """A commit's manifest, but for what ``Commit.write`` adds (segments, files, their records, counts)."""
    return {
        **_compat(settings),
        "embedding_dim": report.dim,
        "corpus": str(settings.corpus_dir),
        "skipped": [asdict(s) for s in report.skipped],  # files of ``files`` that gave no article
        "unread": [asdict(s) for s in unread],  # files not even fingerprinted (for the record)
        "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def check_shrink(removed: int, total: int, settings: Settings) -> None:
    if total and removed > total * SHRINK_LIMIT:
        raise IndexShrink(
            f"refusing to remove {removed} of the {total} articles in the index at {settings.index_dir} (more than "
            f"{SHRINK_LIMIT:.0%}; is {display_path(settings.corpus_dir)} the right, complete corpus folder?): run "
            f"`qa index --allow-shrink` to remove them")
