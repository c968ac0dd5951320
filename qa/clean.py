"""Page-furniture removal that never rewrites text: it returns the ranges of the original text that are content.

Because the result is a list of ``(start, end)`` ranges into the text as read from the file, every sentence found in
them keeps offsets that point into the file on disk. Also reads the title and date the page states.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from .dates import find_dates

_DATE_MARKER = re.compile(r"\s*date (\d{4}-\d{2}-\d{2})\b")  # used with match() at a line's start
# Furniture removed wherever it stands inside a line.
_INLINE = [
    re.compile(r"\{\{[^{}\n]*\}\}"),  # template code: {{ #verifyErrors }} {{ message }}
    re.compile(r"\+\s*\u21ba\s*[\u2212\u2013-]\s*\d+\s*px"),  # font-size widget: + ↺ − 16 px
]
# Phrases that mark a line as cookie, privacy or newsletter furniture.
_MARKERS = re.compile(
    r"cookie|privacy (?:policy|statement|notice)|terms of (?:use|service)|sign(?:ing)? up\b|newsletter|"
    r"\binbox\b|e-?mail address|breaking news e-?mails?|something went wrong|please try again|unsubscribe|"
    r"subscribe (?:now|to our)|you agree to our|accept (?:all )?cookies",
    re.IGNORECASE,
)
# Lines that are whole widgets or trailers: buttons, "Search Trends", "Read more".
_WIDGET_LINES = {
    "i agree", "agree", "accept", "accept all", "ok", "got it", "search trends", "trending", "read more",
    "advertisement", "sign up", "subscribe", "share", "share this article", "related", "related articles",
    "related stories", "most read", "recommended", "back to top", "print", "comments", "close",
}
# A byline or date line: 'November 25, 2025', 'Published: 3 March 2024', 'By Jane Roe | March 3, 2024'.
_BYLINE_LEAD = re.compile(r"^(?:by\b|published\b|updated\b|posted\b|first published\b)|\|", re.IGNORECASE)
_TERMINAL = ('.', '!', '?', '"', '\u201d', "'", '\u2019', ':', ';')


@dataclass
class CleanText:
    spans: list[tuple[int, int]] = field(default_factory=list)  # content ranges, in order
    title: str | None = None
    date: str | None = None
    date_source: str | None = None  # 'meta' (a ' date YYYY-MM-DD' line) or 'byline' (a date line near the top)


def _words(s: str) -> int:
    return len(re.findall(r"\w+", s))


def byline_date(line: str) -> str | None:
    """The day a byline or date line states ('Monday, Nov. 3, 2025' -> '2025-11-03'); None for any other line."""
    line = line.strip()
    if _words(line) > 14 or line.endswith(_TERMINAL[:3]):
        return None
    found = [w for w in find_dates(line) if w.start == w.end and len(w.text) >= 8]
    if not found:
        return None
    rest = (line[:found[0].span[0]] + line[found[0].span[1]:]).strip(" ,|-:")
    if rest and not _BYLINE_LEAD.search(line) and _words(rest) > 1:
        return None  # a sentence that mentions a date, not a date line
    return found[0].start


def _is_furniture(line: str) -> bool:
    bare = re.sub(r"[^\w\s]", "", line).strip().lower()
    if bare in _WIDGET_LINES:
        return True
    markers = len(_MARKERS.findall(line))
    return markers >= 2 or (markers == 1 and _words(line) < 30)


def _inline_pieces(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """The line ``text[start:end]`` minus inline furniture, as trimmed ranges."""
    cuts = sorted((m.start(), m.end()) for rx in _INLINE for m in rx.finditer(text, start, end))
    pieces, pos = [], start
    for s, e in cuts:
        if s >= pos:
            pieces.append((pos, s))
            pos = e
    pieces.append((pos, end))
    out = []
    for s, e in pieces:
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e > s:
            out.append((s, e))
    return out


def clean(text: str, title_hint: str | None = None) -> CleanText:
    """Find the content of a page: drop furniture lines, repeated lines and the headline (kept as the title)."""
    result = CleanText(title=title_hint)
    seen: set[str] = set()
    pos = 0
    for line in text.splitlines(keepends=True):
        start, end = pos, pos + len(line.rstrip("\r\n"))
        pos += len(line)
        marker = _DATE_MARKER.match(text, start, end)
        if marker:
            if result.date is None:
                result.date, result.date_source = marker.group(1), "meta"
            start = marker.end()
        for s, e in _inline_pieces(text, start, end):
            piece = text[s:e]
            if _is_furniture(piece):
                continue
            date = byline_date(piece) if len(result.spans) < 3 else None  # bylines stand at the top
            if date:
                if result.date is None:
                    result.date, result.date_source = date, "byline"
                continue
            key = " ".join(piece.split()).lower()
            if key in seen and _words(piece) >= 4:
                continue  # a paragraph repeated verbatim (photo captions, pull quotes)
            seen.add(key)
            if result.title is None and not result.spans and _looks_like_headline(piece):
                result.title = piece.lstrip("# ").strip()
                continue
            result.spans.append((s, e))
    return result


def _looks_like_headline(line: str) -> bool:
    return line.startswith("# ") or (_words(line) <= 20 and not line.rstrip().endswith(_TERMINAL))


def short_title(sentence: str, max_words: int = 12) -> str:
    """The first sentence, shortened, for articles without a headline."""
    words = sentence.split()
    return " ".join(words) if len(words) <= max_words else " ".join(words[:max_words]) + "\u2026"
