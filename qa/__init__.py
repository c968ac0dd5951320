"""Extractive question answering over a collection of news articles, with citations."""
from .assistant import Assistant
from .config import Settings
from .types import Answer, AnswerSentence, Article, Chunk, Citation, Hit

__all__ = ["Answer", "AnswerSentence", "Article", "Assistant", "Chunk", "Citation", "Hit", "Settings"]
