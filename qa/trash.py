"""Taking an article out of the collection without losing it: the file moves into ``<corpus>/.trash/``, keeping its
path relative to the corpus folder, and can be moved back.

The corpus scan skips hidden names (``qa.ingest``), so a trashed file leaves the index at the next build
(``qa index``, ``Assistant.update``) and a restored one comes back at the next. Nothing is ever overwritten: a name
already in the trash gets a number (``x (2).txt``), and a restore onto an existing file is refused. A restore puts
the file back under the name it has in the trash (numbered or not) unless told another (``to=``).
"""
from __future__ import annotations

import errno
import logging
import os
from pathlib import Path, PurePosixPath

log = logging.getLogger(__name__)

TRASH = ".trash"


class TrashError(Exception):
    """A file that cannot be moved to or from the trash; the message is one line naming it."""


def trash(corpus_dir: Path, rel_file: str) -> Path:
    """Moves ``<corpus_dir>/<rel_file>`` (a path relative to the corpus folder, as the page shows it) into the trash,
    keeping its relative path; returns where it now is."""
    corpus = Path(corpus_dir)
    source = _inside(corpus, corpus, rel_file, "the corpus folder")
    folder = _make_folders(_trash_folder(corpus), PurePosixPath(_clean(rel_file)).parent, rel_file)
    stem, suffix = _split(source.name)
    for n in range(1, 10_000):
        target = folder / (source.name if n == 1 else f"{stem} ({n}){suffix}")
        try:
            _move(source, target)
        except FileExistsError:
            continue  # that name is taken in the trash: try the next number
        except OSError as exc:
            raise TrashError(f"{rel_file}: cannot move it to {TRASH}/: {exc.strerror or exc}") from None
        log.info("moved %s to %s", rel_file, target.relative_to(corpus).as_posix())
        return target
    raise TrashError(f"{rel_file}: too many files of that name in {TRASH}/")


def restore(corpus_dir: Path, trashed_rel: str, *, to: str | None = None) -> Path:
    """Moves ``<corpus_dir>/.trash/<trashed_rel>`` back to ``<corpus_dir>/<trashed_rel>``, or to ``<corpus_dir>/<to>``
    (the name it had before a numbered trash name, say), refusing to overwrite; returns its path. ``trashed_rel`` is
    relative to the trash folder (a leading ``.trash/`` is accepted too)."""
    corpus = Path(corpus_dir)
    rel = _clean(trashed_rel)
    parts = PurePosixPath(rel).parts
    if parts and parts[0] == TRASH:
        rel = PurePosixPath(*parts[1:]).as_posix() if len(parts) > 1 else ""
    source = _inside(corpus, _trash_folder(corpus), rel, f"{TRASH}/")
    if to is not None:
        rel = _clean(to)
        if any(part.startswith(".") for part in PurePosixPath(rel).parts):
            raise TrashError(f"{rel}: a hidden name; the corpus scan would not see it")
    target = _make_folders(corpus, PurePosixPath(rel).parent, rel) / PurePosixPath(rel).name
    try:
        _move(source, target)
    except FileExistsError:
        raise TrashError(f"{rel}: a file of that name is already in the corpus; not overwritten") from None
    except OSError as exc:
        raise TrashError(f"{rel}: cannot move it back from {TRASH}/: {exc.strerror or exc}") from None
    log.info("restored %s from %s/", rel, TRASH)
    return target


def _clean(rel: str) -> str:
    """The relative path as given, refused when it could point anywhere but below the folder."""
    text = str(rel or "")  # as given: a name may hold spaces or backslashes
    if not text.strip() or "\0" in text:
        raise TrashError(f"{rel!r}: not a file name")
    path = PurePosixPath(text)
    if path.is_absolute():
        raise TrashError(f"{rel}: an absolute path; give it relative to the corpus folder")
    if ".." in path.parts:
        raise TrashError(f"{rel}: leads outside the corpus folder")
    return path.as_posix()


def _inside(corpus: Path, base: Path, rel: str, where: str) -> Path:
    """``base/rel`` when it is a visible file inside ``base`` (itself inside the corpus); TrashError otherwise."""
    rel = _clean(rel)
    path = PurePosixPath(rel)
    if any(part.startswith(".") for part in path.parts):
        raise TrashError(f"{rel}: a hidden name (in {TRASH}/ or another hidden folder); not an article of the corpus")
    full = base / path
    if not os.path.lexists(full):
        raise TrashError(f"{rel}: no such file in {where}")
    _check_within(full.parent, base, rel)
    if full.is_symlink():
        try:
            target = full.resolve(strict=False)
        except (OSError, RuntimeError):
            raise TrashError(f"{rel}: a symbolic link that loops") from None
        if not _within(target, corpus.resolve()):
            raise TrashError(f"{rel}: a symbolic link leading outside the corpus folder")
    elif not full.is_file():
        raise TrashError(f"{rel}: not a file")
    return full


def _check_within(folder: Path, base: Path, rel: str) -> None:
    """The real ``folder`` is ``base`` or below it (no folder link on the way leads out)."""
    try:
        inside = _within(folder.resolve(strict=True), base.resolve(strict=True))
    except (OSError, RuntimeError):
        inside = False
    if not inside:
        raise TrashError(f"{rel}: its folder leads outside {base.name or base}")


def _make_folders(base: Path, rel_folder: PurePosixPath, rel: str) -> Path:
    """``base/rel_folder``, made where missing one level at a time, each checked to be inside ``base`` before the
    next is made in it (so no folder is ever made through a link that leads out)."""
    folder = base
    for part in ("", *rel_folder.parts):
        folder = folder / part if part else folder
        try:
            folder.mkdir(exist_ok=True)
        except OSError as exc:
            if not os.path.isdir(folder):
                raise TrashError(f"{rel}: cannot make the folder {folder}: {exc.strerror or exc}") from None
        _check_within(folder, base, rel)
    return folder


def _trash_folder(corpus: Path) -> Path:
    folder = corpus / TRASH
    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        raise TrashError(f"{folder}: not a folder (a link or a file); the trash must be a real folder")
    return folder


def _within(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _split(name: str) -> tuple[str, str]:
    """``x (2).txt`` numbering goes before the last suffix; a name with no stem (``.txt``) keeps it whole."""
    suffix = PurePosixPath(name).suffix
    return (name[: -len(suffix)], suffix) if suffix else (name, "")


def _move(source: Path, target: Path) -> None:
    """Moves ``source`` to ``target``; FileExistsError when ``target`` exists (never replaced). A symbolic link is
    moved as a link, a relative one made relative to its new folder so that it still leads to the same file."""
    if source.is_symlink():
        link = os.readlink(source)
        if not os.path.isabs(link):
            link = os.path.relpath(os.path.normpath(source.parent / link), target.parent)
        os.symlink(link, target)  # FileExistsError when taken
        try:
            os.unlink(source)
        except OSError:
            os.unlink(target)
            raise
        return
    try:
        os.link(source, target, follow_symlinks=False)  # fails when taken, unlike rename: no overwrite, no race
    except FileExistsError:
        raise
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.EXDEV, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
            raise
        if os.path.lexists(target):  # a file system without hard links: check, then rename
            raise FileExistsError(errno.EEXIST, "exists", str(target)) from None
        os.rename(source, target)
        return
    try:
        os.unlink(source)
    except OSError:
        os.unlink(target)  # not moved after all: never leave the file in both places
        raise
