"""The page's Export: the conversation as Markdown, built from the answers' JSON (no server, no browser)."""
from __future__ import annotations

from datetime import datetime, timezone

from ui.export import conversation_markdown, md_text

ANSWER = {
    "question": "How long did it last?", "answer": "...", "abstained": False, "confidence": 0.81,
    "understood": "How long did it last? (Who did Blinken meet on Sunday?)",
    "notes": ["Read \u201clast\u201d as: a measure."],
    "sentences": [{"text": "The meeting lasted seven and a half hours, the State Department said.", "citation": 1,
                   "article_id": "004_853f", "start": 10, "end": 80, "score": 0.9, "span": None,
                   "date": "2023-06-18", "date_source": "sentence"}],
    "citations": [{"n": 1, "article_id": "004_853f", "title": "Blinken meets Qin Gang in Beijing", "date": "2023-06-19",
                   "date_source": "meta", "publisher": "The Independent", "file": "corpus/004_853f.txt",
                   "passage": "Blinken met Qin Gang. The meeting lasted seven and a half hours.", "start": 0,
                   "end": 90, "page": None}],
    "timings_ms": {"total": 12.0},
}
HOSTILE = {
    "question": "q", "answer": "...", "abstained": True, "confidence": 0.2, "understood": None, "notes": [],
    "sentences": [{"text": "<script>alert(1)</script> [x](http://evil) **b** $$m$$", "citation": 1, "article_id": "e",
                   "start": 0, "end": 5, "score": 0.1, "span": None, "date": "2024", "date_source": "inferred"}],
    "citations": [{"n": 1, "article_id": "e", "title": "# Evil <img src=x onerror=alert(1)>", "date": None,
                   "date_source": None, "publisher": None, "file": "/srv/corpus/e.html", "passage": "![i](http://x)",
                   "start": 0, "end": 5, "page": 2}],
    "timings_ms": {},
}


def test_export_has_questions_answers_and_citations():
    turns = [{"question": "Who did Blinken meet on Sunday?", "history": [], "answer": None,
              "error": "the question is empty"},
             {"question": "How long did it last?", "history": ["Who did Blinken meet on Sunday?"], "answer": ANSWER,
              "error": None}]
    out = conversation_markdown(turns, exported=datetime(2026, 11, 27, 9, 30, tzinfo=timezone.utc))
    assert out.startswith("# News QA conversation\n\nExported 2026-11-27 09:30 UTC: 2 questions.")
    assert "## 1. Who did Blinken meet on Sunday?\n\nCould not answer: the question is empty" in out
    assert "## 2. How long did it last?" in out and "Understood as: How long did it last? (Who did Blinken" in out
    assert "- The meeting lasted seven and a half hours, the State Department said. [1] (2023-06-18)" in out
    assert "Confidence 0.81, 1 source." in out
    assert ("**[1] Blinken meets Qin Gang in Beijing** \u00b7 2023-06-19 \u00b7 The Independent \u00b7 "
            "file 004\\_853f.txt") in out
    assert "> Blinken met Qin Gang. The meeting lasted seven and a half hours." in out
    assert out.endswith("\n") and "\n\n\n" not in out


def test_export_escapes_article_text_for_markdown():
    out = conversation_markdown([{"question": "q", "history": [], "answer": HOSTILE, "error": None}])
    assert "**The collection does not say.** The closest passages:" in out
    assert "\\<script\\>alert(1)\\</script\\> \\[x\\](http://evil) \\*\\*b\\*\\* \\$\\$m\\$\\$" in out
    assert "**[1] \\# Evil \\<img src=x onerror=alert(1)\\>** \u00b7 undated \u00b7 file e.html, page 2" in out
    assert "> !\\[i\\](http://x)" in out  # no image
    assert "/srv/" not in out  # the server's own folders stay out
    assert md_text("a\n\n b") == "a b"
