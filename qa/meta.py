"""What an article says about itself: its publication date (and where that came from) and its publisher.

A date is an ISO 8601 string as precise as the text allows: a day ('2023-11-16') when the page states one, else,
worked out from the text and marked ``inferred``, a year ('2024') or an open interval ('2024-01-08/..', "not before").
A photo caption's day is never taken for the article's own: a caption shows an earlier event.
"""
from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass

from .dates import When, find_dates
from .types import Sentence

# Where a date came from, most trusted first.
DATE_SOURCES = ("meta", "byline", "dateline", "inferred")

_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?"
# 'BEIJING, Nov. 24 (Xinhua) --', 'WASHINGTON, March 3 (Reuters) -' (used with match(), at a span's start)
_DATELINE = re.compile(rf"[A-Z][A-Z .'-]+,\s+({_MONTH}\s+\d{{1,2}})(?:,\s*(\d{{4}}))?\s+\(([^)]{{2,40}})\)")
_WORD = r"[A-Z][\w&'-]*(?:\.[\w&'-]+)*"  # 'News.Az', but not a sentence's full stop
_NAME = rf"(?:The )?{_WORD}(?: {_WORD}){{0,3}}"
_REPORTS_CITING = re.compile(rf"\b({_NAME}) reports?,? citing\b")
_CREDIT = re.compile(r"\(With (?:additional )?(?:input|reporting) from ([^()\n]{2,40})\)", re.IGNORECASE)
# Newsletter furniture names the site: "... offers, events and updates from The Independent".
_FURNITURE = re.compile(rf"\b(?:updates|offers|newsletters?|emails?) from ({_NAME})")
_WORD_NUMBERS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty".split())}
_WORD_NUMBERS.update({w: 10 * i for i, w in enumerate("thirty forty fifty sixty seventy eighty ninety".split(), 3)})
_YEARS_SINCE = re.compile(
    r"\b(\d{1,3}|[a-z]+(?:-[a-z]+)?) years (?:since|after)\b[^.]{0,80}?\b(1[89]\d\d|20\d\d)\b"
    r"|\b(\d{1,3})(?:st|nd|rd|th) anniversary of\b[^.]{0,80}?\b(1[89]\d\d|20\d\d)\b", re.IGNORECASE)
_CAPTION = re.compile(r"/\s*[A-Z][\w ]{1,20}\s*$|\bfile photo\b|\(photo\b", re.IGNORECASE)


@dataclass
class ArticleMeta:
    date: str | None = None
    date_source: str | None = None  # one of DATE_SOURCES
    date_note: str | None = None  # why an inferred date is what it is
    publisher: str | None = None


def date_bounds(date: str | None) -> tuple[str | None, str | None]:
    """The first and last day an article date can be: '2024' -> ('2024-01-01', '2024-12-31'); None for open."""
    if not date:
        return None, None
    first, _, last = date.partition("/")
    last = last or first
    return (None if first == ".." else _first_day(first)), (None if last == ".." else _last_day(last))


def date_label(date: str | None, source: str | None) -> str:
    """How a date reads to a user: '2023-11-16', '2024 (inferred)', 'not before 2024-01-08 (inferred)', 'undated'."""
    if not date:
        return "undated"
    first, _, last = date.partition("/")
    text = (f"not before {first}" if last == ".." else f"{first} to {last}") if last else date
    return f"{text} (inferred)" if source == "inferred" else text


def sentence_date(sentence: Sentence, article_date: str | None) -> tuple[str | None, str | None]:
    """The first and last day of a sentence's event, as best known: its own date, else its article's (what orders
    sentences by date)."""
    return (sentence.when.start, sentence.when.end) if sentence.when else date_bounds(article_date)


def report_days(article_date: str | None) -> tuple[str | None, str | None]:
    """The days an article reports on, for a date range to keep or leave out: its date's, from the day before when
    that is a single day (a report dated the morning after, or where the day has already turned: "BEIJING, Nov. 24"
    published on November 25)."""
    first, last = date_bounds(article_date)
    if first is not None and first == last:
        first = (dt.date.fromisoformat(first) - dt.timedelta(days=1)).isoformat()
    return first, last


def possible_days(sentence: Sentence, article_date: str | None) -> tuple[str | None, str | None]:
    """The first and last day a sentence's event can be (what a date range keeps or leaves out): its own date, else
    the days its article reports on."""
    return (sentence.when.start, sentence.when.end) if sentence.when else report_days(article_date)


def _first_day(iso: str) -> str:
    return iso + "-01-01"[len(iso) - 4:] if len(iso) < 10 else iso


def _last_day(iso: str) -> str:
    if len(iso) == 4:
        return f"{iso}-12-31"
    if len(iso) == 7:
        year, month = int(iso[:4]), int(iso[5:])
        return f"{iso}-{calendar.monthrange(year, month)[1]:02d}"
    return iso


def day(date: str | None) -> dt.date | None:
    """The article's day when its date is a single stated day, the base relative expressions are resolved on."""
    return dt.date.fromisoformat(date) if date and len(date) == 10 else None


def read_meta(text: str, spans: list[tuple[int, int]], *, date: str | None = None, date_source: str | None = None,
              publisher: str | None = None) -> ArticleMeta:
    """The article's date and publisher. ``date``/``publisher`` are what the file states (a meta line, HTML meta tags,
    JSON fields, a byline found by cleaning); the text fills in what they leave open."""
    # The dateline opens the body, which a byline or a standfirst may precede.
    dateline = next((m for s, e in spans[:3] if (m := _DATELINE.match(text, s, e))), None)
    meta = ArticleMeta(date=date, date_source=date_source if date else None, publisher=publisher)
    if meta.publisher is None:
        meta.publisher = _publisher(text, dateline)
    if meta.date is None and dateline:
        meta.date = _dateline_date(dateline, text)
        meta.date_source = "dateline" if meta.date else None
    if meta.date is None:
        meta.date, meta.date_note = _inferred_date(text, spans)
        meta.date_source = "inferred" if meta.date else None
    return meta


def _publisher(text: str, dateline: re.Match | None) -> str | None:
    if dateline:
        return dateline.group(3).strip()
    for pattern in (_REPORTS_CITING, _CREDIT, _FURNITURE):
        m = pattern.search(text)
        if m:
            return m.group(1).strip()
    return None


def _dateline_date(dateline: re.Match, text: str) -> str | None:
    """A dateline states month and day; the year is its own or the latest one the page states."""
    year = dateline.group(2) or max((w.end[:4] for w in find_dates(text)), default=None)
    if not year:
        return None
    found = find_dates(f"{dateline.group(1)}, {year}")
    return found[0].start if found and found[0].start == found[0].end else None


def _inferred_date(text: str, spans: list[tuple[int, int]]) -> tuple[str | None, str | None]:
    """A date worked out from the content: an anniversary ('45 years since ... 1979') gives the year; else the latest
    date the text mentions is a lower bound (an article reports what has happened)."""
    content = "\n".join(text[s:e] for s, e in spans)
    mentioned = find_dates(content)
    latest = max(mentioned, key=lambda w: w.start, default=None)
    for m in _YEARS_SINCE.finditer(content):
        years = _number(m.group(1) or m.group(3))
        if years is None:
            continue
        year = int(m.group(2) or m.group(4)) + years
        if latest is None or year >= int(latest.start[:4]):
            return str(year), f"{m.group(0)} ({m.group(2) or m.group(4)} + {years})"
    if latest is None:
        return None, None
    where = "a photo caption" if _is_caption(content, latest) else "the text"
    return f"{latest.start}/..", f"not before {latest.text}, the latest date in {where}"


def _is_caption(content: str, when: When) -> bool:
    line_start = content.rfind("\n", 0, when.span[0]) + 1
    line_end = content.find("\n", when.span[1])
    return bool(_CAPTION.search(content[line_start:line_end if line_end >= 0 else len(content)]))


def _number(word: str) -> int | None:
    if word.isdigit():
        return int(word)
    parts = word.lower().split("-")
    if all(p in _WORD_NUMBERS for p in parts):
        return sum(_WORD_NUMBERS[p] for p in parts)
    return None
