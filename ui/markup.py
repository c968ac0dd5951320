"""Text as inert HTML: the one function every piece of text from an article, a file name or a question goes through
before it becomes part of a chat message (``ui.render`` builds the messages)."""
from __future__ import annotations

import re

# & < > " ' as html.escape does, plus every character Markdown, GFM autolinks or LaTeX delimiters give a meaning.
_SPECIAL = "&<>\"'`*_~[](){}#+-.!|\\$:/=@%^"
_TABLE = {ord(c): f"&#{ord(c)};" for c in _SPECIAL}
_SPACE = re.compile(r"\s+")


def text(s: str, *, strip: bool = True) -> str:
    """``s`` as inert HTML text: special characters as character references, each run of whitespace one space."""
    s = _SPACE.sub(" ", s)
    if strip:
        s = s.strip()
    return s.translate(_TABLE)
