"""Chat messages built from answers, as HTML in which text from articles can only ever be text.

The chat component renders Markdown and HTML. Every piece of text that comes from an article, a file name or a
question goes through :func:`ui.markup.text`, which turns it into character references (a superset of ``html.escape``:
it also neutralises the Markdown and LaTeX marks), so no ``<script>``, ``<img onerror=...>``, ``[link](...)``,
``**bold**`` or ``$$math$$`` in an article can become markup. The only tags in a message are the ones written here:
``p``, ``span``, ``strong``, ``mark``, ``del``, ``br``, ``div``, ``details``, ``summary``, ``blockquote``, ``ol``,
``ul``, ``li``, and ``a``, whose only target is a source of the same message (``#qa-<key>-src-<n>``; the page's
script opens it).

Every message is one HTML block (no blank line inside), so the Markdown renderer passes it through untouched.
"""
from __future__ import annotations

import html
import re
from pathlib import PurePosixPath

from qa.meta import date_label
from qa.temporal import Timeline
from qa.types import Answer, AnswerSentence, Article, Citation, Hit

from .markup import text

CONTEXT_SENTENCES = 2  # sentences of the article shown before and after each quoted one
MAX_ARTICLE_CHARS = 50_000  # "Read the article" shows at most this much of an article (a long PDF stays usable)

_PARAGRAPH = re.compile(r"\n[^\S\n]*\n\s*")  # a blank line (and the whitespace after it)
_KEY = re.compile(r"[^a-z0-9-]")


def file_label(citation_or_id: str, path: str) -> str:
    """The file an article came from, relative to the corpus folder (never the server's absolute path)."""
    rel = citation_or_id.split("#", 1)[0]
    return rel + PurePosixPath(path).suffix


class ArticleCache:
    """Articles and their sentence ranges read once per message from the index store."""

    def __init__(self, store):
        self.store = store
        self._cache: dict[str, tuple | None] = {}

    def get(self, article_id: str):
        """(Article, [(start, end), ...]) or None when the article is no longer in the index."""
        if article_id not in self._cache:
            idx = self.store.article_index(article_id)
            if idx is None:
                self._cache[article_id] = None
            else:
                _, ranges = self.store.sentence_ranges(idx)
                self._cache[article_id] = (self.store.article(idx), ranges)
        return self._cache[article_id]


def _pieces_html(source: str, start: int, end: int, span: tuple[int, int] | None, tag: str) -> str:
    """``source[start:end]`` as text, with ``span`` (offsets into ``source``) wrapped in ``<tag>``."""
    if span and start <= span[0] < span[1] <= end:
        cuts = [(start, span[0], False), (span[0], span[1], True), (span[1], end, False)]
    else:
        cuts = [(start, end, False)]
    out = []
    for s, e, emphasised in cuts:
        piece = text(source[s:e], strip=False)
        if piece:
            out.append(f"<{tag}>{piece}</{tag}>" if emphasised else piece)
    return "".join(out).strip()


def sentence_html(sentence: AnswerSentence, articles: ArticleCache, tag: str = "mark") -> str:
    """A quoted sentence, its factoid span (if any) wrapped in ``<tag>``."""
    found = articles.get(sentence.article_id)
    if found is None or sentence.span is None:
        return text(sentence.text)
    article, _ = found
    return _pieces_html(article.text, sentence.start, sentence.end, tuple(sentence.span), tag)


def passage_html(citation: Citation, quoted: list[AnswerSentence], articles: ArticleCache) -> str:
    """The cited passage: the quoted sentences highlighted, with the article's sentences around them; gaps as …"""
    found = articles.get(citation.article_id)
    if found is None:
        return text(citation.passage)
    article, ranges = found
    position = {r: j for j, r in enumerate(ranges)}
    picked = {position[(q.start, q.end)]: q for q in quoted if (q.start, q.end) in position}  # q: anything quoted
    if not picked:
        return text(citation.passage)
    keep = sorted({k for j in picked for k in range(j - CONTEXT_SENTENCES, j + CONTEXT_SENTENCES + 1)
                   if 0 <= k < len(ranges)})
    parts, prev = [], None
    if keep[0] > 0:
        parts.append("\u2026")
    for k in keep:
        if prev is not None and k != prev + 1:
            parts.append("\u2026")
        s, e = ranges[k]
        if k in picked:
            q = picked[k]
            span = getattr(q, "span", None)
            inner = _pieces_html(article.text, s, e, tuple(span) if span else None, "strong")
            parts.append(f'<mark class="qa-quote">{inner}</mark>')
        else:
            parts.append(f'<span class="qa-context">{text(article.text[s:e])}</span>')
        prev = k
    if keep[-1] < len(ranges) - 1:
        parts.append("\u2026")
    return " ".join(parts)


def _score(value: float | None, rank: int | None, digits: int) -> str:
    if value is None:
        return "\u2014 (not in its top candidates)"
    return f"{value:.{digits}f}" + (f" (rank {rank})" if rank else "")


def scores_html(article_id: str, hits: list[Hit]) -> str:
    """BM25, dense and fused scores of the best retrieved chunk of an article."""
    best = max((h for h in hits if h.chunk.article_id == article_id), key=lambda h: h.score, default=None)
    if best is None:
        return '<p class="qa-scores">scores: not among the retrieved chunks</p>'
    bm25 = _score(best.bm25_score, best.bm25_rank, 3)
    dense = _score(best.dense_score, best.dense_rank, 3)
    return (f'<p class="qa-scores">scores of its best chunk: fused <strong>{best.score:.3f}</strong> \u00b7 '
            f'BM25 {bm25} \u00b7 dense {dense}</p>')


def source_id(key: str, n: int) -> str:
    """The element id of source ``n`` of the message ``key`` (unique on the page as long as the keys are)."""
    return f"qa-{_KEY.sub('', key.lower())}-src-{n}"


def ref_html(key: str, n: int) -> str:
    """A ``[n]`` marker: a link to source ``n`` of the same message (the page's script opens and shows it)."""
    return f'<a class="qa-ref" href="#{source_id(key, n)}">&#91;{n}&#93;</a>'


def _covers(ranges, start: int, end: int) -> bool:
    return any(s <= start and end <= e for s, e in ranges)


def article_html(article: Article, quoted: list[tuple[int, int]]) -> str:
    """The whole article as text: the quoted ranges marked, the furniture that cleaning left out (everything outside
    ``article.spans``) struck out, blank lines kept as paragraph breaks."""
    shown = min(len(article.text), MAX_ARTICLE_CHARS)
    kept = article.spans or [(0, len(article.text))]  # no ranges recorded: all of it is content
    cuts = sorted({0, shown, *(min(x, shown) for r in [*kept, *quoted] for x in r)})
    runs: list[list] = []  # [kind, start, end], neighbours of one kind merged
    for s, e in zip(cuts, cuts[1:]):
        piece = article.text[s:e]
        kind = ("quote" if _covers(quoted, s, e) else "kept" if _covers(kept, s, e) or not piece.strip()
                else "furniture")
        if runs and runs[-1][0] == kind:
            runs[-1][2] = e
        else:
            runs.append([kind, s, e])
    tags = {"quote": ('<mark class="qa-quote">', "</mark>"), "kept": ("", ""),
            "furniture": ('<del class="qa-furniture" title="left out by cleaning">', "</del>")}
    out = []
    for kind, s, e in runs:
        opening, closing = tags[kind]
        paragraphs = [text(p, strip=False) for p in _PARAGRAPH.split(article.text[s:e])]  # breaks outside the tags
        out.append("<br><br>".join(opening + p + closing if p.strip() else p for p in paragraphs))
    body = "".join(out).strip()
    if shown < len(article.text):
        body += f" \u2026 ({len(article.text) - shown:,} more characters in the file)"
    return (f'<p class="qa-note">Quoted sentences highlighted; page furniture that cleaning left out struck '
            f'through.</p><div class="qa-fulltext">{body}</div>')


def source_html(citation: Citation, quoted: list, articles: ArticleCache, *, open_: bool,
                hits: list[Hit] | None, key: str) -> str:
    """One numbered source: a collapsible block titled with title, date, publisher and file, holding the cited
    passage with ``quoted`` (answer sentences or timeline events) highlighted, and the whole article under "Read
    the article"."""
    page = f", page {citation.page}" if citation.page else ""
    summary = (f'<span class="qa-n">&#91;{citation.n}&#93;</span> {_heading(citation)} \u00b7 '
               f'<span class="qa-file">{text(file_label(citation.article_id, citation.file))}{page}</span>')
    body = f'<blockquote class="qa-passage">{passage_html(citation, quoted, articles)}</blockquote>'
    found = articles.get(citation.article_id)
    if found is not None:
        ranges = [(q.start, q.end) for q in quoted]
        body += (f'<details class="qa-article"><summary>Read the article</summary>{article_html(found[0], ranges)}'
                 f'</details>')
    scores = scores_html(citation.article_id, hits) if hits is not None else ""
    return (f'<details class="qa-source" id="{source_id(key, citation.n)}"{" open" if open_ else ""}>'
            f'<summary>{summary}</summary>{body}{scores}</details>')


def _heading(citation: Citation) -> str:
    """Title, date label and publisher of a source."""
    publisher = f' \u00b7 <span class="qa-publisher">{text(citation.publisher)}</span>' if citation.publisher else ""
    return (f'<strong class="qa-title">{text(citation.title)}</strong> \u00b7 '
            f'<span class="qa-date">{text(date_label(citation.date, citation.date_source))}</span>{publisher}')


def _quotes_html(sentences: list[AnswerSentence], articles: ArticleCache, key: str) -> str:
    return " ".join(f"{_when(s.date, s.date_source)}{sentence_html(s, articles)} {ref_html(key, s.citation)}"
                    for s in sentences)


def _answer_body(answer: Answer, articles: ArticleCache, key: str) -> list[str]:
    """The quoted sentences: one paragraph, or, from several articles, one group per source in the order of the
    sources (the lead sentence, in the first, leads), each headed by its source."""
    cited = [c for c in answer.citations if any(s.citation == c.n for s in answer.sentences)]
    if len(cited) < 2:
        return [f'<p class="qa-answer">{_quotes_html(answer.sentences, articles, key)}</p>']
    groups = []
    for c in cited:
        own = [s for s in answer.sentences if s.citation == c.n]
        groups.append(f'<div class="qa-group"><p class="qa-group-head">{ref_html(key, c.n)} '
                      f'{_heading(c)}</p><p class="qa-answer">{_quotes_html(own, articles, key)}</p></div>')
    return groups


def answer_html(answer: Answer, store, *, show_scores: bool = False, key: str = "a") -> str:
    """The assistant's chat message for an answer (or an abstention), with its numbered sources; ``key`` makes the
    ids of its sources unique on the page (one key per message)."""
    articles = ArticleCache(store)
    lines = []
    if answer.understood:
        lines.append(f'<p class="qa-note qa-understood">Understood as: {text(answer.understood)}</p>')
    lines += [f'<p class="qa-note">{text(note)}</p>' for note in answer.notes]
    if not answer.abstained:
        lines += _answer_body(answer, articles, key)
    elif answer.sentences:
        lines.append('<p class="qa-abstain"><strong>The collection does not say.</strong> No passage answers this '
                     'question well enough to quote it as the answer. These are the closest passages, for you to '
                     'judge:</p>')
        items = "".join(f"<li>{text(s.text)} {ref_html(key, s.citation)}</li>" for s in answer.sentences)
        lines.append(f'<ul class="qa-closest">{items}</ul>')
    else:
        lines.append('<p class="qa-abstain"><strong>The collection does not say.</strong> No article matched this '
                     'question (with these settings: check the date range and the retrieval mode).</p>')
    total = answer.timings_ms.get("total")
    timing = f" \u00b7 {total:.0f} ms" if total is not None else ""
    n = len(answer.citations)
    lines.append(f'<p class="qa-meta">confidence {answer.confidence:.2f} \u00b7 {n} source{"s" if n != 1 else ""}'
                 f'{timing}</p>')
    if answer.citations:
        lines.append('<p class="qa-sources-head"><strong>Sources</strong></p>')
        for c in answer.citations:
            quoted = [s for s in answer.sentences if s.citation == c.n]
            lines.append(source_html(c, quoted, articles, open_=False, hits=answer.hits if show_scores else None,
                                     key=key))
    return "\n".join(lines)


def _when(date: str | None, source: str | None) -> str:
    """A sentence's date, as a small tag before it (none when neither it nor its article has one)."""
    if not date:
        return ""
    return f'<span class="qa-when">{text(date_label(date, None if source == "sentence" else source))}</span> '


def timeline_html(found: Timeline, store, *, key: str = "timeline") -> str:
    """A topic's dated events, oldest first, each with its date and source number, then the numbered sources."""
    articles = ArticleCache(store)
    lines = [f'<p class="qa-note">{text(note)}</p>' for note in found.notes]
    if not found.events:
        lines.append(f'<p class="qa-abstain">No dated events about {text(found.topic)} in the collection.</p>')
        return "\n".join(lines)
    items = "".join(f'<li>{_when(e.date, e.date_source)}{text(e.text)} {ref_html(key, e.citation)}</li>'
                    for e in found.events)
    lines.append(f'<ol class="qa-timeline">{items}</ol>')
    lines.append('<p class="qa-sources-head"><strong>Sources</strong></p>')
    for c in found.citations:
        quoted = [e for e in found.events if e.citation == c.n]
        lines.append(source_html(c, quoted, articles, open_=False, hits=None, key=key))
    return "\n".join(lines)


def skipped_html(build: list[tuple[str, str]], upload: list[tuple[str, str]]) -> str:
    """The files the last index build skipped and those the last upload refused, each with its reason."""
    lines = []
    for head, items in (("Skipped by the last index build", build), ("Not added by the last upload", upload)):
        if items:
            rows = "".join(f'<li><span class="qa-file">{text(name)}</span>: {text(reason)}</li>'
                           for name, reason in items)
            lines.append(f'<p class="qa-note">{head}:</p><ul class="qa-skipped">{rows}</ul>')
    return "\n".join(lines)


def question_html(question: str) -> str:
    """The person's question, shown as they typed it (as text)."""
    return f'<p class="qa-question">{text(question)}</p>'


def question_text(message) -> str:
    """The question a chat message of ``question_html`` holds (a follow-up is read against these)."""
    if not isinstance(message, str):  # gradio may hand back [{"type": "text", "text": ...}]
        message = "".join(part.get("text") or "" for part in message if isinstance(part, dict))
    return html.unescape(re.sub(r"<[^>]+>", "", message)).strip()


def error_html(message: str) -> str:
    return f'<p class="qa-error"><strong>Could not answer:</strong> {text(message)}</p>'
