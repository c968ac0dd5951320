"""Time in questions and across the collection.

``TimeScoper`` turns a question's own time words ("in 2024", "most recent", "after the Bali meeting") into a date
range and an ordering for the pipeline; a named event is dated by the sentences of the collection that mention it.
``timeline`` lists the dated events about a topic, oldest first, each a quoted sentence with its citation.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

import numpy as np

from .answer import citation
from .dates import TimeScope, When, find_dates, parse_question
from .meta import date_label, possible_days, sentence_date
from .retrieve import DateRange, Retriever
from .text import tokenize
from .types import Citation, Sentence

_YEAR = re.compile(r"\b((?:19|20)\d\d)\b")
# Words that name the kind of event, not which one: "the San Francisco summit" is found by "San Francisco".
_EVENT_WORDS = set(tokenize("the their a an meeting meet met summit talks talk visit trip call phone dialogue "
                            "conference session round last latest"))


@dataclass
class Scope:
    """What a question's time words mean for retrieval (``dates``) and selection (``order``), and how they were read
    (``notes``, shown with the answer)."""

    dates: DateRange | None = None
    order: str | None = None  # 'latest' or 'earliest'
    notes: list[str] = field(default_factory=list)
    query: str | None = None  # what to search for when it is not the question: without "after <the event>"
    reported: DateRange | None = None  # the articles that can report what the question names (see resolve)


class TimeScoper:
    def __init__(self, retriever: Retriever):
        self.retriever = retriever

    def resolve(self, question: str, today: dt.date | None = None) -> Scope:
        if not self.retriever.index.store.dates_stated:
            # Time words scope and order reports by their dates; in a collection whose articles state none (an
            # encyclopedia) "in 1995" or "after the war" are words of the question like any other.
            return Scope()
        asked = parse_question(question, today or dt.date.today())
        if asked.empty:
            return Scope()
        scope = Scope(order=asked.order)
        if asked.described:
            # "How long did the November 2025 phone call last?": a report from before November 2025 is about
            # something else, however close its words (a sentence stating a later date may announce the thing)
            words, first_day = asked.described
            scope.reported = DateRange(first_day, None, keep_undated=True)
            store = self.retriever.index.store
            early = int((~self.retriever.admitted(scope.reported) & store.alive_article).sum())
            if early:
                scope.notes.append(f"Left out {early} article{'s' * (early > 1)} published before \u201c{words}\u201d"
                                   f" ({first_day}): they cannot report it.")
        if asked.start or asked.end:
            scope.dates = DateRange(asked.start, asked.end, keep_undated=True)
        if asked.relation and asked.event:
            # The event dates the range; searching for it would find the event itself, which the range rules out.
            said = next((e for e in asked.expressions if asked.event in e), asked.event)
            scope.query = " ".join(question.replace(said, " ").split())
            when = self.event_date(asked.event)
            if when is None:
                scope.notes.append(f"Could not date {asked.event!r}: no dated sentence mentions it.")
            else:
                bound = _next_day(when.end) if asked.relation == "after" else _previous_day(when.start)
                around = DateRange(bound, None, True) if asked.relation == "after" else DateRange(None, bound, True)
                scope.dates = around.intersect(scope.dates)
                scope.notes.append(f"{asked.event} dated {when.label} from \u201c{when.text}\u201d.")
        if asked.expressions:
            scope.notes.insert(0, _describe(asked, scope))
        return scope

    def event_date(self, event: str) -> When | None:
        """The date of a named event: the earliest date stated by a sentence that names it (later sentences look
        back on it), else the earliest stated day of an article that names it. A date or year in the name ("their
        November 2025 phone call", "the 2023 San Francisco summit") keeps only mentions within it, and dates the
        event itself when no sentence does."""
        named = find_dates(event) + [When(f"{y}-01-01", f"{y}-12-31", y) for y in _YEAR.findall(event)]
        terms = {t for t in tokenize(event) if not t.isdigit()}
        terms = terms - _EVENT_WORDS or terms
        stated, reported = [], []
        store = self.retriever.index.store
        for hit in self.retriever.search(event, 10, mode="bm25") if terms else []:
            for sentence in store.sentences(hit.chunk.first_sentence, hit.chunk.last_sentence):
                if not terms <= set(tokenize(sentence.text)):
                    continue
                if sentence.when:
                    stated.append(sentence.when)
                else:
                    article = store.article(store.article_index(sentence.article_id))
                    if article.date and article.date_source != "inferred" and len(article.date) == 10:
                        reported.append(When(article.date, article.date, f"{article.title} ({article.date})"))
        within = [w for w in stated or reported
                  if not named or DateRange(named[0].start, named[0].end).overlaps(w.start, w.end)]
        return min(within, key=lambda w: w.start, default=named[0] if named else None)


def _describe(asked: TimeScope, scope: Scope) -> str:
    words = ", ".join(f"\u201c{e}\u201d" for e in asked.expressions)
    parts, open_end = [], "\u2026"
    if scope.dates is not None and scope.dates.bounded:
        parts.append(f"dates {scope.dates.start or open_end} to {scope.dates.end or open_end}")
    if scope.order:
        parts.append("newest first" if scope.order == "latest" else "oldest first")
    return f"Read {words} as: {'; '.join(parts) or 'no date limit'}."


def _next_day(iso: str) -> str:
    return (dt.date.fromisoformat(iso) + dt.timedelta(days=1)).isoformat()


def _previous_day(iso: str) -> str:
    return (dt.date.fromisoformat(iso) - dt.timedelta(days=1)).isoformat()


@dataclass
class TimelineEvent:
    date: str  # ISO 8601: the sentence's own date, else its article's (see date_source)
    date_source: str | None  # 'sentence', or the article's date source
    text: str  # the sentence, quoted
    article_id: str
    start: int  # offsets of the sentence in the article's text
    end: int
    citation: int  # number of its entry in ``Timeline.citations``

    @property
    def label(self) -> str:
        return date_label(self.date, None if self.date_source == "sentence" else self.date_source)


@dataclass
class Timeline:
    topic: str
    events: list[TimelineEvent]
    citations: list[Citation]
    notes: list[str] = field(default_factory=list)


# A sentence is about a timeline's topic when it or its article's headline names one of the topic's words, or when its
# meaning is close: a cosine of at least this share of the closest sentence's, and never below the floor (a topic the
# collection does not cover has no events, rather than every dated sentence).
TOPIC_SHARE, TOPIC_FLOOR = 0.4, 0.2


def timeline(retriever: Retriever, topic: str, query_vector: np.ndarray, *, k: int,
             dates: DateRange | None = None) -> Timeline:
    """The dated events about ``topic`` in the top ``k`` chunks, oldest first: the sentences that state their date,
    and each article's first sentence dated by the article (its own event), each only when it is about the topic."""
    store = retriever.index.store
    rows: dict[int, tuple[Sentence, object]] = {}  # sentence row -> (sentence, its article), in retrieval order
    for hit in retriever.search(topic, k, query_vector=query_vector, dates=dates):
        a = store.article_index(hit.chunk.article_id)
        article, lead = store.article(a), store.sentence_ranges(a)[0]
        for row, sentence in [(lead, *store.sentences(lead, lead + 1))] + list(enumerate(
                store.sentences(hit.chunk.first_sentence, hit.chunk.last_sentence), hit.chunk.first_sentence)):
            if sentence.when or row == lead:  # the article's first sentence reports its own event
                rows.setdefault(row, (sentence, article))
    about = _about_topic(retriever, topic, query_vector, list(rows), list(rows.values()))
    events: list[tuple[tuple, Sentence, str, str]] = []
    seen: set[str] = set()
    articles: dict[str, int] = {}
    for (sentence, article), relevant in zip(rows.values(), about):
        key = " ".join(sentence.text.split())
        date, source = (sentence.when.label, "sentence") if sentence.when else (article.date, article.date_source)
        first, last = sentence_date(sentence, article.date)
        kept = dates is None or dates.overlaps(*possible_days(sentence, article.date))
        if not relevant or not date or key in seen or not kept:
            continue
        seen.add(key)
        articles.setdefault(sentence.article_id, len(articles) + 1)
        events.append(((first or "", last or "9999", sentence.article_id, sentence.start), sentence, date, source))
    events.sort(key=lambda e: e[0])
    out = [TimelineEvent(date, source, " ".join(s.text.split()), s.article_id, s.start, s.end,
                         articles[s.article_id]) for _, s, date, source in events]
    citations = [citation(store, n, article_id, [(e.start, e.end) for e in out if e.article_id == article_id])
                 for article_id, n in articles.items()]
    return Timeline(topic, out, citations, undated_note(retriever.undated_left_out(dates)))


def _about_topic(retriever: Retriever, topic: str, query_vector: np.ndarray, rows: list[int],
                 sentences: list[tuple[Sentence, object]]) -> np.ndarray:
    """Whether each sentence (with its article) is about the topic (see ``TOPIC_SHARE``)."""
    if not rows:
        return np.zeros(0, dtype=bool)
    vectors = retriever.index.sentence_vectors(rows)
    cosine = vectors @ query_vector.astype(np.float32)
    terms = set(tokenize(topic))
    headline_names = {a.id: bool(terms & set(tokenize(a.title))) for _, a in sentences}  # once per article
    named = np.array([headline_names[a.id] or bool(terms & set(tokenize(s.text))) for s, a in sentences])
    return named | (cosine >= max(TOPIC_FLOOR, TOPIC_SHARE * float(cosine.max())))


def undated_note(n: int) -> list[str]:
    """What a date range left out because the date is unknown, as a note for the user (none when nothing)."""
    if not n:
        return []
    return [f"{n} article{'s' if n != 1 else ''} with no known date left out of the date range."]
