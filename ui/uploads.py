"""Uploaded files into the corpus folder, safely.

Rules, whatever name the browser or a script sends:

- only the base name is used (anything before the last ``/`` or ``\\`` is dropped, so ``..`` can never climb out),
  characters other than letters, digits and `` ._-()+,`` become ``_``, leading dots are dropped (the corpus listing
  ignores hidden files) and the name is shortened to a sane length;
- the suffix must be one the library reads (the table of ``qa.readers``), else the file is refused;
- the file is read with the library's own reader before it is written: a file that cannot become an article (empty,
  binary, corrupt or encrypted PDF, ...) is refused with the reader's one-line reason and never enters the corpus;
- it is written only directly into the corpus folder (checked after resolving), created exclusively (an existing file
  or link is never overwritten or followed); when another file already uses the name - or the same name with another
  suffix, which would give two articles one id - a numeric suffix is added (``name-1.txt``); a file with exactly the
  same bytes under the same name is recognised as already there.

``save_upload`` applies them all at once. The background upload jobs (``ui/jobs.py``) use the two halves:
``check_upload`` (everything short of writing) on a copy staged beside the corpus, then ``place``, which puts that
copy into the corpus by a hard link, so the file appears there whole, in one step.
"""
from __future__ import annotations

import hashlib
import itertools
import os
import re
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from qa.ingest import SUFFIXES, IngestError, SourceFile, read_articles

MAX_STEM = 100


@dataclass
class Saved:
    """What became of one uploaded file."""

    name: str  # the name it was uploaded with (for the report)
    ok: bool
    note: str  # the one-line reason when refused; what happened otherwise
    path: Path | None = None  # where it is in the corpus folder
    new: bool = False  # written now (False: refused, or the same file was already there)


@dataclass
class Accepted:
    """An upload that passed every check short of writing: its safe file name and its bytes."""

    name: str  # the name it was uploaded with
    filename: str  # the safe name it goes in under (before any numeric suffix)
    data: bytes


def safe_filename(name: str) -> str:
    """A plain file name (no folder part, no leading dot) made from an uploaded file's name; '' if nothing is left."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = unicodedata.normalize("NFC", base)
    base = "".join(ch if (ch.isalnum() or ch in " ._-()+,") else "_" for ch in base if ch.isprintable())
    base = re.sub(r"_{2,}", "_", base).strip(" .")
    suffix = Path(base).suffix if "." in base else ""
    stem = base[: len(base) - len(suffix)] if suffix else base
    stem = stem.strip(" .")[:MAX_STEM].strip(" .")
    if not stem:
        return ""
    return stem + suffix.lower()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _taken_stems(corpus: Path) -> set[str]:
    """Names (without suffix) of the article files directly in the corpus folder: a new file must not share one."""
    return {p.stem for p in corpus.iterdir() if p.suffix.lower() in SUFFIXES}


def destination(corpus: Path, filename: str, data: bytes) -> tuple[Path, bool]:
    """Where ``filename`` goes in ``corpus``, and whether that very file (same name, same bytes) is already there."""
    stem, suffix = filename[: -len(Path(filename).suffix)], Path(filename).suffix
    taken = _taken_stems(corpus)
    digest = _sha(data)
    for n in itertools.count():
        candidate = stem if n == 0 else f"{stem}-{n}"
        path = corpus / f"{candidate}{suffix}"
        if path.is_file() and not path.is_symlink() and _sha(path.read_bytes()) == digest:
            return path, True
        if candidate in taken or os.path.lexists(path):
            continue
        return path, False
    raise AssertionError("unreachable")


def check_readable(filename: str, data: bytes) -> int:
    """Reads the file as the index build will; returns how many articles it holds or raises IngestError."""
    with tempfile.TemporaryDirectory(prefix="qa-upload-") as tmp:
        path = Path(tmp) / filename
        path.write_bytes(data)
        return len(read_articles(SourceFile(path, Path(filename).stem, "")))


def check_upload(source: Path, name: str | None = None) -> Accepted | Saved:
    """The rules above short of writing, for one uploaded file (at ``source``, uploaded as ``name``): the Accepted
    upload, or a refused Saved with its one-line reason."""
    name = name or source.name
    filename = safe_filename(name)
    suffix = Path(filename).suffix
    if not filename or suffix not in SUFFIXES:
        shown = suffix or Path(name).suffix or "no suffix"
        return Saved(name, False, f"unsupported file type ({shown}); accepted: {', '.join(sorted(SUFFIXES))}")
    try:
        data = source.read_bytes()
    except OSError as exc:
        return Saved(name, False, f"cannot read the upload: {exc.strerror or exc}")
    try:
        check_readable(filename, data)
    except IngestError as exc:
        return Saved(name, False, str(exc))
    except OSError as exc:
        return Saved(name, False, f"cannot read: {exc.strerror or exc}")
    except Exception as exc:  # a reader failure the library does not name: still one line, still only this file
        first = str(exc).splitlines()[0] if str(exc) else "unreadable"
        return Saved(name, False, f"cannot read ({type(exc).__name__}: {first})")
    return Accepted(name, filename, data)


def _write_new(path: Path, data: bytes, staged: Path | None) -> None:
    """Creates ``path`` exclusively (never overwriting, never following an existing link): as a hard link to the
    complete ``staged`` copy when there is one (the file appears whole, at once), else by writing ``data``."""
    if staged is not None:
        try:
            os.link(staged, path)
            return
        except FileExistsError:
            raise
        except OSError:  # a filesystem without hard links: write the bytes instead
            pass
    with open(path, "xb") as f:
        f.write(data)


def place(upload: Accepted, corpus: Path, *, staged: Path | None = None,
          before_write: Callable[[Path], None] | None = None) -> Saved:
    """Puts an accepted upload into ``corpus`` by the rules above (a free name, exclusive creation). ``staged`` is a
    complete copy of its bytes on the corpus's disk, linked into place; ``before_write`` is told the path first (the
    upload jobs record it, to take the file out again if the job does not complete)."""
    name, filename, data = upload.name, upload.filename, upload.data
    corpus_real = corpus.resolve()
    path, already = destination(corpus_real, filename, data)
    if already:
        return Saved(name, True, f"already in the collection as {path.name}", path, new=False)
    if path.parent.resolve() != corpus_real or path.name in ("", ".", ".."):
        return Saved(name, False, "refused: the name does not lead into the corpus folder")
    try:
        if before_write is not None:
            before_write(path)
        _write_new(path, data, staged)
    except OSError as exc:
        return Saved(name, False, f"cannot write into the corpus folder: {exc.strerror or exc}")
    note = f"saved as {path.name}" + (" (a different file already had its name)" if path.name != filename else "")
    return Saved(name, True, note, path, new=True)


def save_upload(source: Path, corpus: Path, name: str | None = None) -> Saved:
    """Copies one uploaded file (at ``source``, uploaded as ``name``) into ``corpus`` by the rules above."""
    checked = check_upload(source, name)
    if isinstance(checked, Saved):
        return checked
    return place(checked, corpus)
