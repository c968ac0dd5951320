"""Sentences of an article's content, and overlapping windows of whole sentences (the chunks)."""
from __future__ import annotations

from .config import ChunkSettings, LimitSettings
from .text import split_sentences, word_count
from .types import Article


MAX_SENTENCE_CHARS = LimitSettings().max_sentence_chars


def article_sentences(article: Article, max_chars: int = MAX_SENTENCE_CHARS) -> list[tuple[int, int]]:
    """Sentence ranges in ``article.text``, in document order, taken only from its content spans; a sentence longer
    than ``max_chars`` is indexed as pieces, so that no quote is a page long."""
    return [s for start, end in article.spans for s in split_sentences(article.text, start, end, max_chars)]


def chunk_windows(sentence_words: list[int], settings: ChunkSettings) -> list[tuple[int, int]]:
    """Windows ``[first, last)`` over an article's sentences: up to ``max_sentences`` sentences and ``max_words``
    words (a longer sentence stands alone), consecutive windows sharing ``overlap`` sentences."""
    windows, first, n = [], 0, len(sentence_words)
    while first < n:
        last, words = first, 0
        while last < n and last - first < settings.max_sentences and (
                last == first or words + sentence_words[last] <= settings.max_words):
            words += sentence_words[last]
            last += 1
        windows.append((first, last))
        if last == n:
            break
        first = max(first + 1, last - settings.overlap)
    return windows


def sentence_word_counts(text: str, sentences: list[tuple[int, int]]) -> list[int]:
    return [word_count(text[s:e]) for s, e in sentences]


def chunk_text(article: Article, sentences: list[tuple[int, int]], window: tuple[int, int]) -> str:
    """What both retrievers index for a chunk: the article's title, then its sentences."""
    body = " ".join(" ".join(article.text[s:e].split()) for s, e in sentences[window[0]:window[1]])
    title = article.title.rstrip()
    return f"{title} {body}" if title.endswith((".", "!", "?", "\u2026")) else f"{title}. {body}"


def article_chunks(article: Article, settings: ChunkSettings, max_sentence_chars: int = MAX_SENTENCE_CHARS):
    """An article's sentence ranges, its chunk windows over them, and the chunks' texts."""
    sentences = article_sentences(article, max_sentence_chars)
    windows = chunk_windows(sentence_word_counts(article.text, sentences), settings)
    return sentences, windows, [chunk_text(article, sentences, w) for w in windows]
