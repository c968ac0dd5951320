"""Sentence splitting with character offsets, and the tokenizer shared by BM25 and the answer selector."""
from __future__ import annotations

import re
from functools import lru_cache

import Stemmer

# Abbreviations after which a period never ends a sentence (titles, months, "No. 5", "e.g.").
_NEVER_FINAL = {
    "mr", "mrs", "ms", "dr", "prof", "gen", "sen", "rep", "gov", "st", "lt", "col", "sgt", "capt", "rev", "hon",
    "messrs", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "no", "vs",
    "e.g", "i.e", "fig", "approx", "est", "mt", "ft",
}
# Abbreviations that may end a sentence ("... talks with the U.S. The meeting ..."): a boundary only when the next
# word is one that usually starts a sentence.
_MAYBE_FINAL = {"u.s", "u.k", "u.n", "e.u", "d.c", "a.m", "p.m", "inc", "co", "corp", "ltd", "jr", "sr", "etc"}
_SENTENCE_STARTERS = {
    "the", "a", "an", "he", "she", "it", "they", "we", "i", "you", "but", "and", "in", "on", "at", "this", "that",
    "these", "those", "his", "her", "their", "our", "its", "there", "as", "after", "before", "while", "when",
    "however", "meanwhile", "also", "according", "mr", "ms", "mrs", "both", "some", "many", "if", "for", "since",
}
_BOUNDARY = re.compile(r"[.!?\u2026]+[\"'\u201d\u2019)\]]*(?=\s)")
_WORD_BEFORE = re.compile(r"([A-Za-z][A-Za-z.]*)\.$")
_OPENERS = "\"'\u201c\u2018([-\u2013\u2014"


def _is_boundary(text: str, match: re.Match, region_end: int) -> bool:
    rest = match.end()
    while rest < region_end and text[rest].isspace():
        rest += 1
    if rest >= region_end:
        return True
    nxt = text[rest]
    if not (nxt.isupper() or nxt.isdigit() or nxt in _OPENERS):
        return False
    punct = match.group(0)
    if not punct.startswith(".") or len(punct.rstrip("\"'\u201d\u2019)]")) > 1:
        return True  # "?", "!" and "..." end sentences whatever precedes them
    before = _WORD_BEFORE.search(text, max(0, match.start() - 20), match.start() + 1)
    if not before:
        return True
    word = before.group(1).lower()
    if word in _NEVER_FINAL or (len(word) == 1 and word.isalpha()):
        return False  # titles, months, initials ("J. Smith")
    if word in _MAYBE_FINAL:
        next_word = re.match(r"[\"'\u201c\u2018(]*([A-Za-z]+)", text[rest:rest + 30])
        return bool(next_word) and next_word.group(1).lower() in _SENTENCE_STARTERS
    return True


def split_sentences(text: str, start: int = 0, end: int | None = None,
                    max_chars: int | None = None) -> list[tuple[int, int]]:
    """Sentence ranges inside ``text[start:end]``, trimmed of surrounding white space.

    Line breaks inside the range count as spaces, so hard-wrapped paragraphs split correctly; callers pass one
    paragraph or line at a time where a line break must end a sentence. With ``max_chars``, a longer sentence (a
    table flattened to one line, a list without full stops) becomes consecutive pieces of at most that many characters.
    """
    end = len(text) if end is None else end
    spans = []
    pos = start
    for match in _BOUNDARY.finditer(text, start, end):
        if _is_boundary(text, match, end):
            spans.append((pos, match.end()))
            pos = match.end()
    spans.append((pos, end))
    if max_chars:
        spans = [piece for s, e in spans for piece in _pieces(text, s, e, max_chars)]
    out = []
    for s, e in spans:
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e > s and any(ch.isalnum() for ch in text[s:e]):
            out.append((s, e))
    return out


def _pieces(text: str, start: int, end: int, max_chars: int) -> list[tuple[int, int]]:
    """``text[start:end]`` cut into ranges of at most ``max_chars`` characters once trimmed, at the last white space
    of each window's second half (so no word is cut), else exactly at the limit (one endless "word")."""
    pieces = []
    while True:
        while start < end and text[start].isspace():
            start += 1
        if end - start <= max_chars:
            pieces.append((start, end))
            return pieces
        limit = start + max_chars  # < end, so text[limit] exists
        cut = next((pos for pos in range(limit, start + max_chars // 2, -1) if text[pos].isspace()), limit)
        pieces.append((start, cut))
        start = cut


STOPWORDS = frozenset("""
a about above after again against all am an and any are as at be because been before being below between both but by
can could did do does doing down during each few for from further had has have having he her here hers herself him
himself his how i if in into is it its itself just me more most my myself no nor not now of off on once only or other
our ours ourselves out over own same she should so some such than that the their theirs them themselves then there
these they this those through to too under until up very was we were what when where which while who whom why will
with would you your yours yourself yourselves s t also said says say
""".split())

_TOKEN = re.compile(r"\w+")
_stemmer = Stemmer.Stemmer("english")


@lru_cache(maxsize=200_000)
def _stem(word: str) -> str:
    return _stemmer.stemWord(word)


def tokenize(text: str) -> list[str]:
    """Lowercased, stopword-free, stemmed word tokens (the BM25 vocabulary)."""
    return [_stem(w) for w in _TOKEN.findall(text.lower()) if w not in STOPWORDS and (len(w) > 1 or w.isdigit())]


def word_count(text: str) -> int:
    return len(_TOKEN.findall(text))
