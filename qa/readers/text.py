"""Plain text and Markdown: the file's text as ``open(path).read()`` returns it, so offsets match it."""
from __future__ import annotations

from ..types import Article
from .base import SourceFile, decode, make_article


def read(source: SourceFile, raw: bytes) -> list[Article]:
    text = decode(raw, source.path)
    # Offsets must match open(path).read(), which turns \r\n and \r into \n.
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return [make_article(source.rel_id, source.path, text)]
