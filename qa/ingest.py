"""Read a folder of articles into ``Article``s, each file by the reader of its format (``qa.readers``).

A file that cannot be read is skipped with a one-line reason; it never stops the others. That holds for every
per-file failure: no permission, over the size limit, undecodable, a symlink leading outside the corpus folder or in
a loop, an unreadable sub-folder.
"""
from __future__ import annotations

import errno
import hashlib
import logging
import os
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from .readers import READERS, SUFFIXES
from .readers.base import IngestError, SourceFile, display_path, reason
from .types import Article

log = logging.getLogger(__name__)


@dataclass
class Skipped:
    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass
class CorpusScan:
    """The article files of a corpus folder, and what could not even be listed or fingerprinted (with reasons)."""

    files: list[SourceFile] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


def list_corpus(corpus_dir: Path) -> list[SourceFile]:
    return scan_corpus(corpus_dir).files


def scan_corpus(corpus_dir: Path, *, max_bytes: int | None = None) -> CorpusScan:
    """Every article file under ``corpus_dir`` (hidden names excluded), fingerprinted; files larger than
    ``max_bytes`` or unreadable are skipped with a reason instead. Raises IngestError only for the folder itself."""
    if not corpus_dir.is_dir():
        raise IngestError(f"{corpus_dir}: corpus folder not found")
    paths, skipped = _walk(corpus_dir)
    scan, ids = CorpusScan(skipped=skipped), set()
    for path in sorted(paths):
        rel = path.relative_to(corpus_dir).with_suffix("").as_posix()
        if rel in ids:  # a.txt and a.md: the second keeps its extension in its id
            rel = path.relative_to(corpus_dir).as_posix()
        ids.add(rel)
        try:
            size = path.stat().st_size
            if max_bytes is not None and size > max_bytes:
                scan.skipped.append(Skipped(skip_path(path), _too_large(size, max_bytes)))
                continue
            scan.files.append(SourceFile(path, rel, _fingerprint(path)))
        except OSError as exc:
            scan.skipped.append(Skipped(skip_path(path), _os_reason(exc)))
    scan.skipped.sort(key=lambda s: s.path)
    return scan


def _walk(root: Path) -> tuple[list[Path], list[Skipped]]:
    """Article files under ``root``, following symlinks that resolve inside it; every symlink that leads outside,
    dangles or loops, and every folder that cannot be listed, is a skip with its reason rather than silently dropped.

    Real folders are read first and symlinked ones after, each real folder at most once: a link to a folder already
    read would index its articles twice (or forever, for a link to an ancestor)."""
    real_root = root.resolve()
    files, skipped = [], []
    seen = {real_root}
    folders, linked = deque([root]), deque()
    while folders or linked:
        if folders:
            folder = folders.popleft()
        else:
            folder, target = linked.popleft()
            if target in seen:
                reason = "symlink loop" if _within(folder.parent.resolve(), target) else \
                    f"symlink to a folder already read ({skip_path(target)})"
                skipped.append(Skipped(skip_path(folder), reason))
                continue
            seen.add(target)
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            if folder == root:  # not one file's failure: there is nothing to build from
                raise IngestError(f"{root}: cannot read the corpus folder: {exc.strerror or exc}") from None
            skipped.append(Skipped(skip_path(folder), f"cannot read folder: {exc.strerror or exc}"))
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            path = Path(entry.path)
            try:
                if entry.is_symlink():
                    target = _follow(path, real_root)
                    if isinstance(target, Skipped):
                        skipped.append(target)
                    elif target is not None and target.is_dir():
                        linked.append((path, target))
                    elif target is not None:
                        files.append(path)
                elif entry.is_dir(follow_symlinks=False):
                    seen.add(path.resolve())
                    folders.append(path)
                elif entry.is_file(follow_symlinks=False) and path.suffix.lower() in SUFFIXES:
                    files.append(path)
            except OSError as exc:
                skipped.append(Skipped(skip_path(path), _os_reason(exc)))
    return files, skipped


def _follow(link: Path, real_root: Path) -> Path | Skipped | None:
    """Where a symlink leads (an article file or a folder, inside the corpus), why it is not followed, or None for a
    link that is no article file (notes.doc -> elsewhere), ignored as any such file is."""
    is_article = link.suffix.lower() in SUFFIXES
    try:
        target = link.resolve(strict=True)
    except RuntimeError:  # how Python before 3.13 reports a loop
        return Skipped(skip_path(link), "symlink loop")
    except FileNotFoundError:
        return Skipped(skip_path(link), "broken symlink (its target does not exist)") if is_article else None
    except OSError as exc:
        return Skipped(skip_path(link), "symlink loop" if exc.errno == errno.ELOOP else _os_reason(exc))
    if not is_article and not target.is_dir():
        return None
    if not _within(target, real_root):
        return Skipped(skip_path(link), "symlink leads outside the corpus")
    if not target.is_dir() and not target.is_file():
        return Skipped(skip_path(link), "not a regular file")
    return target


def _within(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _fingerprint(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def skip_path(path: Path) -> str:
    """How a skipped file is named: ``display_path``, except that a symlink is named itself, not its target."""
    return (Path(display_path(path.parent)) / path.name).as_posix()


def _too_large(size: int, max_bytes: int) -> str:
    return f"larger than the size limit ({_mb(size)} MB > {_mb(max_bytes)} MB; QA_MAX_FILE_MB)"


def _mb(size: int) -> str:
    return f"{size / 2**20:.1f}".rstrip("0").rstrip(".") if size >= 2**20 / 10 else f"{size / 2**20:.3g}"


def _os_reason(exc: OSError) -> str:
    return f"cannot read: {exc.strerror or exc}"


def read_articles(source: SourceFile, *, max_bytes: int | None = None) -> list[Article]:
    """The article(s) in one file; raises IngestError with the reason when there are none, and for every other
    failure to read it (no permission, too large, a parser's own error): one bad file never stops a build."""
    path = source.path
    try:
        if max_bytes is not None and (size := path.stat().st_size) > max_bytes:
            raise IngestError(_too_large(size, max_bytes))
        return _read(source)
    except IngestError:
        raise
    except OSError as exc:
        raise IngestError(_os_reason(exc)) from None
    except Exception as exc:  # a reader's own bug or limit on odd input: still only this file
        log.debug("reading %s failed", display_path(path), exc_info=True)
        raise IngestError(f"could not be read ({type(exc).__name__}: {reason(exc)})") from None


def _read(source: SourceFile) -> list[Article]:
    reader = READERS.get(source.path.suffix.lower())
    if reader is None:
        raise IngestError(f"unsupported file type; accepted: {', '.join(sorted(SUFFIXES))}")
    raw = source.path.read_bytes()
    if not raw.strip():
        raise IngestError("empty file")
    articles = [a for a in reader(source, raw) if a.spans]
    if not articles:
        raise IngestError("no article text found")
    return articles


def load_corpus(corpus_dir: Path, *, max_bytes: int | None = None) -> tuple[list[Article], list[Skipped]]:
    """Every readable article of the folder, and the files skipped with their reasons."""
    scan = scan_corpus(corpus_dir, max_bytes=max_bytes)
    articles, skipped = [], list(scan.skipped)
    for source in scan.files:
        try:
            articles.extend(read_articles(source, max_bytes=max_bytes))
        except IngestError as exc:
            skipped.append(Skipped(skip_path(source.path), str(exc)))
    skipped.sort(key=lambda s: s.path)
    return articles, skipped
