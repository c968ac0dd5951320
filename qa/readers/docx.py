"""Word documents (.docx), read with python-docx: the paragraphs' text, one per line; the headline from the document's
title property, else its first Title- or Heading-styled paragraph. Offsets index this extracted text, as for PDF."""
from __future__ import annotations

import io
import zipfile

from ..types import Article
from .base import IngestError, SourceFile, make_article


def read(source: SourceFile, raw: bytes) -> list[Article]:
    from docx import Document
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = Document(io.BytesIO(raw))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise IngestError(f"corrupt .docx ({type(exc).__name__})") from None
    paragraphs = [p for p in document.paragraphs if p.text.strip()]
    headed = next((p.text for p in paragraphs if p.style is not None and p.style.name.startswith(("Title", "Heading"))),
                  None)
    title = (document.core_properties.title or "").strip() or headed
    text = "".join(" ".join(p.text.split()) + "\n\n" for p in paragraphs)
    return [make_article(source.rel_id, source.path, text, title=title)]
