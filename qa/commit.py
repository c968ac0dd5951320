"""A commit as a build changes it: its segments (each with its deleted articles and live counts), the corpus files it
indexes, and where each segment's folder is now. ``write`` makes it the live one: a new folder under ``builds/``,
the segments hard-linked into it, its manifest, then ``CURRENT`` swapped in one atomic rename."""
from __future__ import annotations

import json
import os
import shutil
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime, timezone
from itertools import count
from pathlib import Path
from typing import Callable

from .index import file_records
from .segment import SegmentInfo

_serial = count()


def new_name() -> str:
    """A name no other commit or segment of this index has: the time, the process and a counter."""
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ") + f"-{os.getpid()}-{next(_serial)}"


@dataclass
class Commit:
    segments: list[dict] = field(default_factory=list)  # {"name", "counts", "live", "deleted", "dense_index"}
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

    def add(self, info: SegmentInfo, folder: Path, at: int | None = None) -> None:
        """A new segment, last (or at position ``at``)."""
        entry = {"name": info.name, "counts": info.counts, "live": dict(info.counts), "deleted": [],
                 "dense_index": info.dense_index}
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
