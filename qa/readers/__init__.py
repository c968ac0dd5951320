"""One reader per file format, in one table: ``READERS[suffix](source, raw_bytes) -> [Article]``. Ingest, the upload
widget and the README read the formats from here; a new format is one module plus one line below."""
from __future__ import annotations

from . import docx, html, jsonl, pdf, text

READERS = {
    ".txt": text.read,
    ".md": text.read,
    ".pdf": pdf.read,
    ".html": html.read,
    ".htm": html.read,
    ".jsonl": jsonl.read,
    ".docx": docx.read,
}
SUFFIXES = frozenset(READERS)
