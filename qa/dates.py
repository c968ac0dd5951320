"""Time expressions in English news text and in questions: located by regex, interpreted with dateutil, no model.

``find_dates`` resolves each expression to an inclusive day range; relative ones ('on Monday', 'last month',
'in November') need the article's publication date as ``base`` and resolve on or before it, since news reports the
past. ``parse_question`` reads the time scope a question asks about (a range, an ordering, before/after an event).
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from dateutil import parser, relativedelta
from dateutil.relativedelta import MO, weekday

_INFO = parser.parserinfo()
_MONTH = "(?:" + "|".join(sorted({n for names in _INFO.MONTHS for n in names}, key=len, reverse=True)) + r")\b\.?"
_MONTH_NAMES = [names[-1] for names in _INFO.MONTHS]
_WEEKDAY_NAMES = [names[-1] for names in _INFO.WEEKDAYS]
_FULL_MONTH = "(?:" + "|".join(_MONTH_NAMES) + r")\b"
_WEEKDAY = "(?:" + "|".join(_WEEKDAY_NAMES) + r")\b"
_DAY = r"(?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?\b"
_YEAR = r"(?:1\d{3}|20\d\d)\b(?![-/]\d)"
_BARE_YEAR = r"(?:19|20)\d\d\b(?![-/,.]\d)"
_ON_WEEKDAY = rf"(?:\b(?:on\s+)?{_WEEKDAY},?\s+)?"
_NUMBERS = {w: i for i, w in enumerate("one two three four five six seven eight nine ten eleven twelve".split(), 1)}
_NUMBERS.update(a=1, an=1)
_PREFIX = r"in|since|of|from|by|until|till|before|prior\s+to|ahead\s+of|after|during|early|late|throughout|between"

# Cheap necessary condition, a set lookup (faster than any regex alternation): most sentences have none of these.
_CHEAP_WORDS = frozenset(n.lower() for names in _INFO.MONTHS + _INFO.WEEKDAYS for n in names) | {
    "yesterday", "today", "ago", "week", "month", "year"}
_WORD = re.compile(r"[a-z]+")
_FOUR_DIGITS = re.compile(r"\d{4}")
# One alternation, most specific first: at a given position the first alternative that matches wins.
_FIND = re.compile("|".join([
    r"(?P<iso>\b\d{4}-[01]\d-[0-3]\d\b)",
    rf"(?P<range>\b(?:between|from)\s+{_BARE_YEAR}\s+(?:and|to|until|through)\s+{_BARE_YEAR})",
    rf"(?P<ymd>{_ON_WEEKDAY}(?:\b{_MONTH}\s*{_DAY},?\s+{_YEAR}|\b{_DAY}\s+(?:of\s+)?{_MONTH},?\s+{_YEAR}))",
    rf"(?P<my>\b{_MONTH},?\s+{_YEAR})",
    rf"(?P<md>{_ON_WEEKDAY}(?:\b{_MONTH}\s*{_DAY}|\b{_DAY}\s+(?:of\s+)?{_MONTH})(?![\w-]))",
    rf"(?P<mo>\b(?:{_PREFIX}|last|mid)[\s-]+{_FULL_MONTH}(?!\.?,?\s*\d))",
    r"(?P<count>\b(?:total|number|sum|crowd|group|team|force|staff|fleet|army|batch)\s+of\s+\d{4})",  # not years
    rf"(?P<yr>\b(?:{_PREFIX}|mid)[\s-]+(?:the\s+year\s+)?{_BARE_YEAR})",
    r"(?P<rel>\b(?:yesterday|today|(?:earlier\s+)?(?:last|this)\s+(?:week|month|year)"
    rf"|(?:{'|'.join(_NUMBERS)}|\d{{1,3}})\s+(?:day|week|month|year)s?\s+ago)\b)",
    rf"(?P<wd>\b(?:(?:on|last|this|next)\s+)?{_WEEKDAY})",
]), re.I)
# Words that make a date in their clause the point another event is measured from.
_REFERENCE = re.compile(r"\b(?:since|after|before|until|following|prior to|ahead of)\b", re.I)
_LOWER_MAY = re.compile(r"\bmay\b")  # the modal verb: lowercase 'may' is a month only beside a year or a preposition


@dataclass(frozen=True)
class When:
    """A time expression resolved to an inclusive range of days."""
    start: str  # ISO day, inclusive
    end: str  # ISO day, inclusive
    text: str  # the expression as written
    span: tuple[int, int] = (0, 0)  # offsets of the expression in the text searched

    @property
    def label(self) -> str:
        """'2023-11-16' for one day, '2022-11' for a whole month, '1979' for a whole year, else 'START/END'."""
        start, end = dt.date.fromisoformat(self.start), dt.date.fromisoformat(self.end)
        if start == end:
            return self.start
        if start.day == 1 and end == start + relativedelta.relativedelta(day=31):
            return self.start[:7]
        if (start.month, start.day, end) == (1, 1, dt.date(start.year, 12, 31)):
            return self.start[:4]
        return f"{self.start}/{self.end}"


def _month(year: int, month: int) -> tuple[dt.date, dt.date]:
    first = dt.date(year, month, 1)
    return first, first + relativedelta.relativedelta(day=31)


def _year(year: int) -> tuple[dt.date, dt.date]:
    return dt.date(year, 1, 1), dt.date(year, 12, 31)


def _week(day: dt.date) -> tuple[dt.date, dt.date]:
    monday = day + relativedelta.relativedelta(weekday=MO(-1))
    return monday, monday + dt.timedelta(days=6)


def _parse(text: str, year: int) -> dt.date | None:
    """``text`` read by dateutil, the fields it lacks taken from January 1 of ``year``."""
    try:
        return parser.parse(text, default=dt.datetime(year, 1, 1)).date()
    except (ValueError, OverflowError):
        return None


def _relative(text: str, base: dt.date) -> tuple[dt.date, dt.date]:
    words = text.lower().split()
    if words[0] in ("yesterday", "today"):
        words = ["1" if words[0] == "yesterday" else "0", "day", "ago"]
    unit = words[-2].rstrip("s") if words[-1] == "ago" else words[-1]
    back = (_NUMBERS.get(words[0]) or int(words[0])) if words[-1] == "ago" else int(words[-2] == "last")
    if unit == "day":
        first = last = base - dt.timedelta(days=back)
    elif unit == "week":
        first, last = _week(base - dt.timedelta(weeks=back))
    elif unit == "month":
        day = base - relativedelta.relativedelta(months=back)
        first, last = _month(day.year, day.month)
    else:
        first, last = _year(base.year - back)
    return first, min(last, base) if words[0] == "earlier" else last


def _resolve(kind: str, text: str, base: dt.date | None) -> tuple[dt.date, dt.date] | None:
    if kind in ("iso", "ymd", "my"):
        day = _parse(text, 2000)
        return None if day is None else _month(day.year, day.month) if kind == "my" else (day, day)
    if kind == "range":
        first, last = (int(y) for y in re.findall(r"\d{4}", text))
        return (_year(first)[0], _year(last)[1]) if first <= last else None
    words = re.split(r"[\s-]+", text.lower())
    if kind == "yr":
        return _year(int(words[-1]))
    if base is None:
        return None
    if kind == "md":
        # The latest such day on or before base; a few years back so that 'Feb. 29' finds a leap year.
        days = (_parse(text, year) for year in range(base.year, base.year - 8, -1))
        return next(((day, day) for day in days if day and day <= base), None)
    if kind == "mo":
        month = _INFO.month(words[-1])
        # 'in November' said in November is this November; 'last November' said then is the year before's.
        this_year = month < base.month or (month == base.month and words[0] != "last")
        year = base.year if this_year else base.year - 1
        return _month(year, month)
    if kind == "wd":
        if words[0] == "next":
            return None
        day = base + relativedelta.relativedelta(weekday=weekday(_INFO.weekday(words[-1]))(-1))
        if words[0] == "last" and day == base:  # 'last Monday' written on a Monday is a week back
            day -= dt.timedelta(days=7)
        return day, day
    return _relative(text, base)


def _scan(text: str, base: dt.date | None) -> list[tuple[re.Match, When | None]]:
    """Every time expression of ``text`` with its day range, None for one that needs a ``base`` it lacks."""
    if not _FOUR_DIGITS.search(text) and _CHEAP_WORDS.isdisjoint(_WORD.findall(text.lower())):
        return []
    if isinstance(base, dt.datetime):
        base = base.date()
    found = []
    for m in _FIND.finditer(text):
        kind, expression = m.lastgroup, m.group()
        if kind == "count" or kind == "md" and _LOWER_MAY.search(expression):
            continue
        days = _resolve(kind, expression, base)
        found.append((m, When(days[0].isoformat(), days[1].isoformat(), expression, m.span()) if days else None))
    return found


def find_dates(text: str, base: dt.date | None = None) -> list[When]:
    """The time expressions of ``text``, in order of appearance, each resolved to a day range."""
    return [when for _, when in _scan(text, base) if when]


def event_date(text: str, base: dt.date | None = None) -> When | None:
    """The date a sentence states for its own event: its first time expression that is not a reference point
    ('since ties were established in 1979', 'after Pelosi's visit in August 2022' date other events). None when
    that expression cannot be resolved ('In November' without the article's day): the event's date is unknown."""
    for m, when in _scan(text, base):
        clause = text[max(text.rfind(mark, 0, m.start()) for mark in ",;:(") + 1:m.end()]
        if not _REFERENCE.search(clause):
            return when
    return None


@dataclass(frozen=True)
class TimeScope:
    """What a question asks about in time: a day range, an ordering, before/after a named event."""
    start: str | None = None  # ISO day range the question asks about, inclusive; None = open
    end: str | None = None
    order: str | None = None  # 'latest' or 'earliest'
    relation: str | None = None  # 'before' or 'after' a named event the caller must date
    event: str | None = None  # the event's words as in the question, e.g. 'the Bali meeting'
    expressions: tuple[str, ...] = ()  # the time words read from the question, for display
    # A dated thing the question names ('the November 2025 phone call'): its words and first day. It limits no answer,
    # but no article published before that day can report it.
    described: tuple[str, str] | None = None

    @property
    def empty(self) -> bool:
        """Nothing temporal was found."""
        return self == TimeScope()


_LAST_AS_RANGE = "|".join(["week", "month", "year", "weekend", "night", *_MONTH_NAMES, *_WEEKDAY_NAMES])
_ORDER = re.compile(
    r"\b(?:(?P<latest>most\s+recent(?:ly)?|latest|newest|recent(?:ly)?|lately|currently|nowadays|these\s+days"
    rf"|today|last\s+time|last(?!\s+(?:{_LAST_AS_RANGE})\b))|(?P<earliest>earliest|first(?:\s+time)?|initially"
    rf"|originally|oldest|next(?!\s+(?:{_LAST_AS_RANGE})\b)))\b", re.I)
_EVENT = re.compile(r"\b(?P<kw>before|prior\s+to|ahead\s+of|preceding|after|since|following|followed)\s+"
                    r"(?P<event>[^?,.;!]+)", re.I)
_EVENT_END = re.compile(r"\s+(?:and|with|between|did|does|do|was|were|is|are|has|have|had)\b.*", re.I | re.S)
_TRAILING = re.compile(r"(?:\s+(?:in|on|at|of|to|for|from|by|during))+\s*$", re.I)
# 'How long after X did ...' asks for a duration: X is what it is measured from, not a limit on the answer.
_DURATION = re.compile(r"^\W*(?:(?:and|but|so|then)\s+)?how\s+(?:long|soon|many\s+(?:years|months|weeks|days|hours))\b",
                       re.I)  # also in a follow-up: "And how long did they last?"
# 'after Biden and Xi met in November 2023', 'after they spoke': a subject and its verb make a clause, not the name of an
# event (cut at 'and', it would be the event 'Biden'); its date scopes the question, as with 'after meeting Xi'.
_CLAUSE = re.compile(r"(?:(?:[A-Z][\w.-]*\s+)+(?:and\s+(?:[A-Z][\w.-]*\s+)+)?|(?:they|he|she|we|the\s+two\s+\w+)\s+)"
                     r"(?:\w+ed|met|spoke|held|said|made|took|went|came|began|saw|gave|told|left|won|lost|sat|rang|wrote"
                     r"|sent|became|spent)\b")
_MAX_EVENT_WORDS = 8  # longer, it is a clause ('since a US secretary of state last visited China'), not a name
_NOT_EVENTS = {"that", "this", "it", "then", "them", "all", "which", "what", "when", "now", "him", "her"}
_SHOWN = {"since", "from", "after", "before", "until", "till", "by", "between", "and", "to", "in", "on", "during", "of",
          "prior", "ahead"}
_DAY1 = dt.timedelta(days=1)


def _event(question: str, dates: list[When]) -> tuple[str, str, int, int] | None:
    """(relation, event, start, end) for the first 'before/after <named event>' of the question. A date inside the
    event's name ('after Pelosi's August 2022 visit') is the event's, not a range of the question's."""
    for m in _EVENT.finditer(question):
        at = m.start("event")
        if any(w.span[0] <= m.start() < w.span[1] or w.span[0] == at for w in dates):
            continue  # 'before 2024', 'since last year': a date bound, read elsewhere
        if _CLAUSE.match(m.group("event")):
            continue
        event = _EVENT_END.sub("", m.group("event"))
        event = _TRAILING.sub("", event).strip()
        if len(event.split()) > _MAX_EVENT_WORDS or event.split()[0].lower().endswith("ing"):
            continue  # a clause ('after meeting Xi in November'), not the name of an event
        if event and event.lower() not in _NOT_EVENTS and not event[0].isdigit():
            before = m.group("kw").split()[0].lower() in ("before", "prior", "ahead", "preceding")
            return "before" if before else "after", event, m.start(), at + len(event)
    return None


def parse_question(question: str, today: dt.date) -> TimeScope:
    """The time scope ``question`` asks about: a day range, an ordering, or before/after a named event."""
    start = end = order = relation = event = previous = described = None
    said: list[tuple[int, str]] = []
    # A weekday in a question names a day of some article's week, and 'today' means 'now': neither is a range.
    dates = [(m.lastgroup, w) for m, w in _scan(question, today)
             if w and m.lastgroup != "wd" and w.text.lower() != "today"]
    duration = bool(_DURATION.search(question))
    found = _event(question, [w for _, w in dates])
    if found:
        dates = [(k, w) for k, w in dates if not found[2] <= w.span[0] < found[3]]
        if duration:  # measured from the event, which does not limit the answer
            found = None
        else:
            relation, event = found[:2]
            said.append((found[2], question[found[2]:found[3]]))
    for kind, when in dates:
        # "in late November 2025" is in November 2025
        before = re.search(r"(prior\s+to|ahead\s+of|\w+)\s+(?:(?:early|late|mid)[\s-]+)?$", question[:when.span[0]])
        word = before.group(1).split()[0].lower() if before else None
        if kind in ("yr", "mo", "range"):  # the preposition is part of the expression: 'since 2023'
            word = None if kind == "range" else when.text.split()[0].lower()
            said.append((when.span[0], when.text))
        elif word in _SHOWN:
            said.append((before.start(1), f"{before.group(1)} {when.text}"))
        elif kind == "rel":  # 'last year' scopes on its own
            word = None
            said.append((when.span[0], when.text))
        else:  # no preposition: it describes a thing ('Whose August 2022 trip'), it does not scope the question
            if kind in ("my", "ymd") and (described is None or when.start < described[1]):  # (its year stated)
                described = (when.text, when.start)
            continue
        word = "before" if word in ("prior", "ahead") else word
        if word in ("since", "from"):
            start = when.start
        elif word == "after":
            start = (dt.date.fromisoformat(when.end) + _DAY1).isoformat()
        elif word == "before":
            end = (dt.date.fromisoformat(when.start) - _DAY1).isoformat()
        elif word in ("until", "till", "by") or (word in ("and", "to") and previous in ("between", "from")):
            end = when.end
        else:
            start, end = when.start, when.end
        previous = word
    orders = [m for m in _ORDER.finditer(question) if not (found and found[2] <= m.start() < found[3])
              and (m.group().lower() != "next" or relation == "after")  # next: the first after something
              and not (duration and m.group().lower() == "last")]  # 'how long since they last met': a measure
    if orders:
        order = orders[0].lastgroup
        said.append((orders[0].start(), orders[0].group()))
    return TimeScope(start, end, order, relation, event, tuple(text for _, text in sorted(said)), described)
