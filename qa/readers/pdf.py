"""PDF: the text of each page (pypdf), with the offset where each page starts, so a citation carries its page."""
from __future__ import annotations

import logging
from pathlib import Path

from ..types import Article
from .base import IngestError, SourceFile, make_article


def read(source: SourceFile, raw: bytes) -> list[Article]:
    text, pages, title = _pages(source.path)
    return [make_article(source.rel_id, source.path, text, title=title, pages=pages)]


def _pages(path: Path) -> tuple[str, list[int], str | None]:
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


