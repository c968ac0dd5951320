"""The data that flows through the pipeline.

Every sentence, chunk and citation carries character offsets into ``Article.text``, the article's text as read from
its file (for .txt/.md exactly what ``open(path).read()`` returns), so any quote can be highlighted and checked.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from .dates import When


@dataclass
class Article:
    id: str  # path relative to the corpus folder, without extension (plus "#n" for a line of a .jsonl file)
    title: str  # the page's headline, else its first sentence shortened
    date: str | None  # ISO 8601: a stated day 'YYYY-MM-DD'; inferred, a year 'YYYY' or 'YYYY-MM-DD/..' (not before)
    publisher: str | None  # as the text or the file's metadata names it
    path: str  # the file the article was read from
    text: str  # original text, not cleaned: offsets point here
    spans: list[tuple[int, int]] = field(default_factory=list)  # the content left after cleaning, as text ranges
    pages: list[int] = field(default_factory=list)  # PDF only: offset at which each page starts in ``text``
    date_source: str | None = None  # where the date came from: meta, byline, dateline or inferred (qa.meta)
    date_note: str | None = None  # for an inferred date, the reason

    def page_at(self, offset: int) -> int | None:
        """1-based PDF page holding ``offset``; None for other formats."""
        if not self.pages:
            return None
        return sum(1 for start in self.pages if start <= offset)


@dataclass
class Sentence:
    article_id: str
    start: int
    end: int
    text: str
    when: When | None = None  # the date the sentence states for its event, resolved against the article's day


@dataclass
class Chunk:
    """A window of consecutive whole sentences of one article."""

    row: int  # position in the index
    article_id: str
    start: int
    end: int
    first_sentence: int  # sentence rows [first_sentence, last_sentence) of the index
    last_sentence: int
    text: str  # the sentences joined by single spaces


@dataclass
class Hit:
    chunk: Chunk
    score: float  # fused score used for the ranking
    bm25_score: float | None = None
    dense_score: float | None = None
    bm25_rank: int | None = None  # 1-based; None when the chunk was not in that retriever's top-N
    dense_rank: int | None = None


@dataclass
class Citation:
    n: int
    article_id: str
    title: str
    date: str | None
    date_source: str | None
    publisher: str | None
    file: str  # the article's file, relative to the current folder when under it (not "path": API clients fetch those)
    passage: str  # the cited chunk: the quoted sentences with their neighbours
    start: int  # offsets of the passage in the article's text
    end: int
    page: int | None = None


@dataclass
class AnswerSentence:
    text: str
    citation: int
    article_id: str
    start: int
    end: int
    score: float
    span: tuple[int, int] | None = None  # factoid answer, as offsets in the article's text
    span_text: str | None = None  # that answer's words, whitespace collapsed (so no shell reads the article for it)
    date: str | None = None  # the sentence's own event date (ISO 8601) where it states one, else its article's
    date_source: str | None = None  # 'sentence' when the sentence states it, else the article's date_source


@dataclass
class Answer:
    question: str
    answer: str
    abstained: bool
    confidence: float
    sentences: list[AnswerSentence]
    citations: list[Citation]
    timings_ms: dict[str, float] = field(default_factory=dict)
    hits: list[Hit] = field(default_factory=list)  # what retrieval returned, for scores and evaluation
    notes: list[str] = field(default_factory=list)  # how the question's time words were read; what a range left out
    understood: str | None = None  # a follow-up question as made to stand alone from the conversation

    def to_json(self) -> dict:
        """The object ``qa ask --json`` prints (and the UI's /ask endpoint returns)."""
        out = asdict(self)
        del out["hits"]
        for s in out["sentences"]:
            s["span"] = list(s["span"]) if s["span"] else None
        return out
