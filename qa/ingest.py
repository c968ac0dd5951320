"""Read a folder of articles (.txt, .md, .pdf, .html, .jsonl) into ``Article``s.

A file that cannot be read is skipped with a one-line reason; it never stops the others. That holds for every
per-file failure: no permission, over the size limit, undecodable, a symlink leading outside the corpus folder or in
a loop, an unreadable sub-folder.
"""
from __future__ import annotations

import codecs
import errno
import hashlib
import json
import logging
import os
import re
from collections import deque
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

from dateutil.parser import isoparse

from .clean import clean, short_title
from .meta import read_meta
from .text import split_sentences
from .types import Article

log = logging.getLogger(__name__)

SUFFIXES = {".txt", ".md", ".pdf", ".html", ".htm", ".jsonl"}


class IngestError(Exception):
    """A file that cannot become an article; the message is the one-line reason."""


@dataclass
class Skipped:
    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass
class SourceFile:
    """One file of the corpus, with the fingerprint that tells whether it changed since the last build."""

    path: Path
    rel_id: str  # path relative to the corpus folder, without extension
    fingerprint: str


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


def display_path(path: Path) -> str:
    """The path relative to the current directory when under it, else absolute."""
    path = path.resolve()
    try:
        return path.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path.as_posix()


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
        raise IngestError(f"could not be read ({type(exc).__name__}: {_reason(exc)})") from None


def _read(source: SourceFile) -> list[Article]:
    path = source.path
    suffix = path.suffix.lower()
    raw = path.read_bytes()
    if not raw.strip():
        raise IngestError("empty file")
    if suffix == ".pdf":
        text, pages, title = _read_pdf(path)
        articles = [_make_article(source.rel_id, path, text, title=title, pages=pages)]
    elif suffix in (".html", ".htm"):
        page = _HTMLText()
        page.feed(_decode(raw, path))
        body = page.text()
        articles = [_make_article(source.rel_id, path, body, title=page.title, date=page.date,
                                  publisher=page.publisher)]
    elif suffix == ".jsonl":
        articles = _read_jsonl(source, _decode(raw, path))
    else:
        text = _decode(raw, path)
        # Offsets must match open(path).read(), which turns \r\n and \r into \n.
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        articles = [_make_article(source.rel_id, path, text)]
    articles = [a for a in articles if a.spans]
    if not articles:
        raise IngestError("no article text found")
    return articles


def _make_article(rel_id, path, text, *, title=None, date=None, publisher=None, pages=None) -> Article:
    """``title``, ``date`` and ``publisher`` are what the file's metadata states (HTML meta tags, JSON fields)."""
    cleaned = clean(text, title_hint=title)
    if not cleaned.title and cleaned.spans:
        s, e = cleaned.spans[0]
        first = split_sentences(text, s, e)
        cleaned.title = short_title(text[slice(*first[0])] if first else text[s:e])
    stated, source = (date, "meta") if date else (cleaned.date, cleaned.date_source)
    meta = read_meta(text, cleaned.spans, date=stated, date_source=source, publisher=publisher)
    return Article(
        id=rel_id, title=cleaned.title or path.stem, date=meta.date, publisher=meta.publisher,
        path=display_path(path), text=text, spans=cleaned.spans, pages=pages or [],
        date_source=meta.date_source, date_note=meta.date_note,
    )


# Longest first: the UTF-32-LE mark begins with the UTF-16-LE one (a UTF-16 text starting with U+0000 has both).
_BOMS = [(codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")]
# What text that is not UTF-8 plausibly is; left to itself, detection calls short Western text cp775 or cp1250.
_PLAUSIBLE = ["cp1252", "latin_1", "iso8859_15", "cp1250", "iso8859_2", "cp1251", "koi8_r", "iso8859_5", "cp1253",
              "iso8859_7", "cp1254", "cp1255", "cp1256", "cp1257", "cp874", "cp932", "euc_jp", "gb18030", "big5",
              "cp949", "euc_kr"]
_WESTERN = {"cp1252", "latin_1", "iso8859_15"}


def _decode(raw: bytes, path: Path) -> str:
    """Text of a file: by its byte-order mark, else UTF-8, else the most plausible detected encoding (Western
    European preferred when it reads as well as any other)."""
    marked = [codec for bom, codec in _BOMS if raw.startswith(bom)]
    for codec in marked:
        try:
            return raw.decode(codec)
        except UnicodeDecodeError:
            continue
    if marked:
        name = marked[-1].removesuffix("-sig").upper()
        raise IngestError(f"starts with a {name} byte-order mark but is not valid {name}")
    if b"\x00" in raw[:4096]:
        raise IngestError("binary file, not text")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    encoding = _detect(raw)
    if encoding is None:
        raise IngestError("not UTF-8 and no text encoding could be detected")
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError:  # detection reads samples of a long file; a later part may not fit
        raise IngestError(f"not UTF-8, and not valid {encoding} throughout") from None
    log.warning("%s: not UTF-8, read as %s", display_path(path), encoding)
    return text


def _detect(raw: bytes) -> str | None:
    from charset_normalizer import from_bytes

    matches = [m for m in from_bytes(raw, cp_isolation=_PLAUSIBLE) if m.percent_chaos <= 20]
    if not matches:
        return None
    least_chaos = min(m.chaos for m in matches)
    best = max((m for m in matches if m.chaos <= least_chaos + 0.02), key=lambda m: m.coherence)
    # Western European wins a near tie: it is the likeliest 8-bit text in a news collection, and a short text gives
    # the language models behind ``coherence`` too little to go on.
    western = next((m for m in matches if _WESTERN & set(m.could_be_from_charset)), None)
    if western and western.chaos <= best.chaos + 0.02 and western.coherence >= best.coherence - 0.05:
        try:
            raw.decode("cp1252")
            return "cp1252"
        except UnicodeDecodeError:  # bytes cp1252 leaves undefined (0x81, 0x8d, ...)
            return "latin_1"
    return best.encoding


def _read_pdf(path: Path) -> tuple[str, list[int], str | None]:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # its own warnings would repeat our one-line reasons
    try:
        reader = PdfReader(path)
        if reader.is_encrypted:
            try:
                if not reader.decrypt(""):
                    raise IngestError("encrypted PDF (a password is needed)")
            except NotImplementedError as exc:
                raise IngestError(f"encrypted PDF ({exc})") from None
        pages, parts, offset = [], [], 0
        for page in reader.pages:
            page_text = (page.extract_text() or "").strip() + "\n\n"
            pages.append(offset)
            parts.append(page_text)
            offset += len(page_text)
        title = (reader.metadata or {}).get("/Title") if reader.metadata else None
    except IngestError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        raise IngestError(f"corrupt PDF ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else 'unreadable'})") from None
    text = "".join(parts)
    if not text.strip():
        raise IngestError("PDF has no extractable text (scanned image?)")
    return text, pages, str(title).strip() if title else None


def _read_jsonl(source: SourceFile, text: str) -> list[Article]:
    """One article per line: {"text": ..., optional "id", "title", "date", "publisher"}; bad lines are skipped."""
    articles, ids = [], set()
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            body = obj["text"]
            if not isinstance(body, str) or not body.strip():
                raise ValueError("empty text")
            article_id = f"{source.rel_id}#{obj.get('id', n)}"
            if article_id in ids:
                raise ValueError(f"id {obj.get('id')!r} used by an earlier line")
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            log.warning("skipped %s line %d: %s", display_path(source.path), n, _reason(exc))
            continue
        ids.add(article_id)
        articles.append(_make_article(
            article_id, source.path, body, title=obj.get("title"), date=_iso_day(obj.get("date")),
            publisher=obj.get("publisher") or obj.get("source"),
        ))
    return articles


def _reason(exc: Exception) -> str:
    if isinstance(exc, KeyError):
        return f"missing field {exc}"
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


class _HTMLText(HTMLParser):
    """Visible article text of an HTML page: block elements become lines; scripts, styles and menus are dropped."""

    _SKIP = {"script", "style", "noscript", "nav", "header", "footer", "aside", "form", "svg", "button", "template"}
    _BLOCK = {"p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article", "tr", "blockquote",
              "figcaption", "pre", "ul", "ol", "table"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0
        self.title: str | None = None
        self.date: str | None = None
        self.publisher: str | None = None
        self._in_title = self._in_h1 = False
        self._h1: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in self._SKIP:
            self.skip += 1
        elif tag == "title":
            self._in_title = True
        elif tag == "h1":
            self._in_h1 = True
        elif tag == "meta" and attrs.get("property") in ("article:published_time", "og:published_time"):
            self.date = self.date or _iso_day(attrs.get("content"))
        elif tag == "meta" and attrs.get("property") == "og:site_name":
            self.publisher = self.publisher or (attrs.get("content") or "").strip() or None
        elif tag == "time" and attrs.get("datetime"):
            self.date = self.date or _iso_day(attrs["datetime"])
        if tag in self._BLOCK:
            self.parts.append("\n\n")

    def handle_endtag(self, tag):
        if tag in self._SKIP and self.skip:
            self.skip -= 1
        elif tag == "title":
            self._in_title = False
        elif tag == "h1":
            self._in_h1 = False
        if tag in self._BLOCK:
            self.parts.append("\n\n")

    def handle_data(self, data):
        if self._in_title:
            self.title = (self.title or "") + data.strip()
            return
        if self.skip:
            return
        if self._in_h1:
            self._h1.append(data)
        self.parts.append(re.sub(r"\s+", " ", data))

    def text(self) -> str:
        body = "".join(self.parts)
        body = re.sub(r"[ \t]*\n[ \t\n]*\n[ \t]*", "\n\n", body).strip() + "\n"
        if self._h1:
            self.title = " ".join("".join(self._h1).split()) or self.title
        return body


def _iso_day(value) -> str | None:
    """'2024-03-03' or an ISO timestamp from a file's metadata, as an ISO day; None when it is neither."""
    try:
        return isoparse(value.strip()).date().isoformat() if isinstance(value, str) and value.strip() else None
    except (ValueError, OverflowError):
        return None


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
