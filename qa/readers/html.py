"""HTML: the visible article text (scripts, styles, menus dropped), the headline (``<h1>``, else ``<title>``), and
the date and publisher the page's meta tags state."""
from __future__ import annotations

import re
from html.parser import HTMLParser

from ..types import Article
from .base import SourceFile, decode, iso_day, make_article


def read(source: SourceFile, raw: bytes) -> list[Article]:
    page = _HTMLText()
    page.feed(decode(raw, source.path))
    body = page.text()
    return [make_article(source.rel_id, source.path, body, title=page.title, date=page.date, publisher=page.publisher)]


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
            self.date = self.date or iso_day(attrs.get("content"))
        elif tag == "meta" and attrs.get("property") == "og:site_name":
            self.publisher = self.publisher or (attrs.get("content") or "").strip() or None
        elif tag == "time" and attrs.get("datetime"):
            self.date = self.date or iso_day(attrs["datetime"])
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


