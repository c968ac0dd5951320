"""JSON lines: one article per line, with the metadata its fields state; a bad line is skipped, not the file."""
from __future__ import annotations

import json
import logging

from ..types import Article
from .base import SourceFile, decode, display_path, iso_day, make_article, reason

log = logging.getLogger("qa.ingest")


def read(source: SourceFile, raw: bytes) -> list[Article]:
    """One article per line: {"text": ..., optional "id", "title", "date", "publisher"}; bad lines are skipped."""
    text = decode(raw, source.path)
    articles, ids = [], set()
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            body = obj["text"]
            if not isinstance(body, str) or not body.strip():
                raise ValueError("empty text")
            article_id = f"{source.rel_id}#{obj.get('id', n)}"
            if article_id in ids:
                raise ValueError(f"id {obj.get('id')!r} used by an earlier line")
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            log.warning("skipped %s line %d: %s", display_path(source.path), n, reason(exc))
            continue
        ids.add(article_id)
        articles.append(make_article(
            article_id, source.path, body, title=obj.get("title"), date=iso_day(obj.get("date")),
            publisher=obj.get("publisher") or obj.get("source"),
        ))
    return articles


