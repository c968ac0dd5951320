"""The conversation of the chat page as a Markdown file (the page's **Export** button).

A pure function of the turns the page keeps: each question, the questions before it, and its answer as
``Answer.to_json()`` gives it (or the one-line reason it could not be answered). Text from articles, file names and
questions is escaped for Markdown (:func:`md_text`), so a Markdown viewer shows it as text: no link, HTML, emphasis
or math in an article becomes markup in the export either.
"""
from __future__ import annotations

from datetime import datetime, timezone

from qa.meta import date_label

from .render import file_label

FILENAME = "news-qa-conversation.md"

# Every character that starts markup in CommonMark, GFM (tables, strikethrough) or a math extension (an image's ``!``
# needs the ``[`` after it); a backslash before ASCII punctuation shows the character itself.
_MD_TABLE = {ord(c): "\\" + c for c in "\\`*_[]<>#|~$"}


def md_text(s) -> str:
    """``s`` on one line, with Markdown's marks escaped."""
    return " ".join(str(s or "").split()).translate(_MD_TABLE)


def _sentence(s: dict) -> str:
    when = s.get("date")
    label = date_label(when, None if s.get("date_source") == "sentence" else s.get("date_source")) if when else ""
    return f"- {md_text(s['text'])} [{s['citation']}]" + (f" ({md_text(label)})" if label else "")


def _source(c: dict) -> list[str]:
    parts = [f"**[{c['n']}] {md_text(c['title'])}**", md_text(date_label(c.get("date"), c.get("date_source")))]
    if c.get("publisher"):
        parts.append(md_text(c["publisher"]))
    page = f", page {c['page']}" if c.get("page") else ""
    parts.append(f"file {md_text(file_label(c['article_id'], c['file']))}{page}")
    return [" \u00b7 ".join(parts), "", f"> {md_text(c['passage'])}", ""]


def _turn(n: int, turn: dict) -> list[str]:
    lines = [f"## {n}. {md_text(turn['question'])}", ""]
    answer = turn.get("answer")
    if answer is None:
        return lines + [f"Could not answer: {md_text(turn.get('error'))}", ""]
    if answer.get("understood"):
        lines += [f"Understood as: {md_text(answer['understood'])}", ""]
    lines += [f"Note: {md_text(note)}" for note in answer.get("notes") or []]
    if answer.get("notes"):
        lines.append("")
    sentences = answer.get("sentences") or []
    if answer.get("abstained"):
        lines += ["**The collection does not say.**" + (" The closest passages:" if sentences else ""), ""]
    lines += [_sentence(s) for s in sentences]
    if sentences:
        lines.append("")
    citations = answer.get("citations") or []
    lines += [f"Confidence {answer.get('confidence', 0):.2f}, {len(citations)} "
              f"source{'s' if len(citations) != 1 else ''}.", ""]
    if citations:
        lines += ["### Sources", ""]
        for c in citations:
            lines += _source(c)
    return lines


def conversation_markdown(turns: list[dict], *, exported: datetime | None = None) -> str:
    """The conversation as Markdown: per question, its answer's quoted sentences (each with its source number and
    date) and its sources (title, date, publisher, file and the cited passage)."""
    exported = (exported or datetime.now(timezone.utc)).strftime("%Y-%m-%d %H:%M UTC")
    n = len(turns)
    lines = ["# News QA conversation", "",
             f"Exported {exported}: {n} question{'s' if n != 1 else ''}. Every answer is quoted from the articles; "
             f"[n] is the source of that number under it.", ""]
    for i, turn in enumerate(turns, start=1):
        lines += _turn(i, turn)
    return "\n".join(lines).rstrip("\n") + "\n"
