"""Read a folder of articles (.txt, .md, .pdf, .html, .jsonl) into ``Article``s.

A file that cannot be read is skipped with a one-line reason; it never stops the others.
"""
from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from .clean import clean, short_title
from .text import split_sentences
from .types import Article

log = logging.getLogger(__name__)

SUFFIXES = {".txt", ".md", ".pdf", ".html", ".htm", ".jsonl"}
_DATELINE_AGENCY = re.compile(r"^[A-Z][A-Z .'-]+,\s+[A-Z][a-z]{2,8}\.?\s+\d{1,2}\s+\(([^)]{2,40})\)")


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


def list_corpus(corpus_dir: Path) -> list[SourceFile]:
    if not corpus_dir.is_dir():
        raise IngestError(f"{corpus_dir}: corpus folder not found")
    files, ids = [], set()
    for path in sorted(p for p in corpus_dir.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES):
        if any(part.startswith(".") for part in path.relative_to(corpus_dir).parts):
            continue
        rel = path.relative_to(corpus_dir).with_suffix("").as_posix()
        if rel in ids:  # a.txt and a.md: the second keeps its extension in its id
            rel = path.relative_to(corpus_dir).as_posix()
        ids.add(rel)
        files.append(SourceFile(path, rel, hashlib.sha256(path.read_bytes()).hexdigest()[:16]))
    return files


def display_path(path: Path) -> str:
    """The path relative to the current directory when under it, else absolute."""
    path = path.resolve()
    try:
        return path.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def read_articles(source: SourceFile) -> list[Article]:
    """The article(s) in one file; raises IngestError with the reason when there are none."""
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
        articles = [_make_article(source.rel_id, path, page.text(), title=page.title, date=page.date)]
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


def _make_article(rel_id, path, text, *, title=None, date=None, source=None, pages=None) -> Article:
    cleaned = clean(text, title_hint=title)
    if not cleaned.title and cleaned.spans:
        s, e = cleaned.spans[0]
        first = split_sentences(text, s, e)
        cleaned.title = short_title(text[slice(*first[0])] if first else text[s:e])
    if not source:
        head = text[cleaned.spans[0][0]:cleaned.spans[0][1]] if cleaned.spans else ""
        agency = _DATELINE_AGENCY.match(head)
        source = agency.group(1) if agency else path.name
    return Article(
        id=rel_id, title=cleaned.title or path.stem, date=date or cleaned.date, source=source,
        path=display_path(path), text=text, spans=cleaned.spans, pages=pages or [],
    )


def _decode(raw: bytes, path: Path) -> str:
    if b"\x00" in raw[:4096]:
        raise IngestError("binary file, not text")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(raw).best()
    if best is None or best.percent_chaos > 20:
        raise IngestError("not UTF-8 and no text encoding could be detected")
    log.warning("%s: not UTF-8, read as %s", display_path(path), best.encoding)
    return str(best)


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
    """One article per line: {"text": ..., optional "id", "title", "date", "source"}; bad lines are skipped."""
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
            article_id, source.path, body, title=obj.get("title"), date=obj.get("date"), source=obj.get("source"),
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
            self.date = self.date or (attrs.get("content") or "")[:10] or None
        elif tag == "time" and attrs.get("datetime"):
            self.date = self.date or attrs["datetime"][:10]
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
        if self.date and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", self.date):
            self.date = None
        return body


def load_corpus(corpus_dir: Path) -> tuple[list[Article], list[Skipped]]:
    """Every readable article of the folder, and the files skipped with their reasons."""
    articles, skipped = [], []
    for source in list_corpus(corpus_dir):
        try:
            articles.extend(read_articles(source))
        except IngestError as exc:
            skipped.append(Skipped(display_path(source.path), str(exc)))
    return articles, skipped
