"""Answer-sentence candidates: the sentences of the retrieved chunks, each with the features the later stages score.

Features (one array each, one value per candidate): ``dense`` (cosine to the question; sentence vectors are stored
at index time, so nothing is encoded here), ``lexical`` (idf-weighted overlap with the question), ``retrieval`` (the
best relative retrieval score of a chunk holding it), ``typed`` (whether it holds the kind of thing asked for),
``position`` (its place in its article) and ``length`` (in words). ``fast`` is the hand-weighted score that ranks
candidates without the reranker, and prunes them before it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from .config import SelectorSettings
from .index import Index
from .meta import possible_days
from .question import QuestionKind, asked_speaker, asked_unit, question_kind, speaker_fit, typed_candidates
from .retrieve import DateRange
from .text import tokenize
from .types import Hit, Sentence

# Words news reports use for the outcome of talks, so that "what was agreed" also finds "they are resuming contacts".
_OUTCOME = {"agre", "agreement", "resum", "restart", "restor", "launch", "pledg", "promis", "decid",
            "consensus", "deal"}
_SYNONYMS = {stem: _OUTCOME - {stem} for stem in _OUTCOME}
# What a question asks "about" is what it asks, a name included ("What did Xi say about Taiwan ...?"); the scene it
# closes with ("... during the phone call with Trump", "... at the Busan meeting") is who and where, which the
# sentence's article may supply, as it may a name. ("What about Biden, ...?" turns to him: no "about" of that kind.)
# ("What did Luther speak out about in Saxony?" names no subject: "in Saxony" is the scene.)
_ABOUT = re.compile(r"(?<!\bwhat )(?<!\bhow )\b(?:about|regarding|concerning)\s+"
                    r"(?!(?:during|at|in|on|with|when|after|before|ahead)\b)"
                    r"(.+?)(?=\s+(?:during|at|in|on|with|when|after|before|ahead)\b|[?,]|$)", re.IGNORECASE)
_SCENE = re.compile(r"\b(?:during|at|ahead of|on the sidelines of)\s+(?:the|his|her|their|its|a|an)\s+[^?,]+\??$",
                    re.IGNORECASE)


@dataclass
class Candidates:
    question: str
    kind: QuestionKind
    sentences: list[Sentence]
    rows: np.ndarray  # sentence rows of the index
    vectors: np.ndarray  # their unit vectors (float32)
    features: dict[str, np.ndarray]
    fast: np.ndarray  # hand-weighted score
    evidence: np.ndarray  # the part of ``fast`` that says how well the sentence itself answers
    focus: dict[str, float] = field(default_factory=dict)  # idf of what is asked about the topic
    unmentioned: str | None = None  # what the question asks "about", when the collection never uses its words
    about: frozenset[str] = frozenset()  # the words of what the question asks "about"
    order: str | None = None  # 'latest' or 'earliest' when the question asks for the newest or oldest
    notes: list[str] = field(default_factory=list)  # how the question's time words were read, for the user
    understood: str | None = None  # a follow-up as it was made to stand alone (None: it stood alone)
    timings_ms: dict[str, float] = field(default_factory=dict)  # time each stage took to make them

    def __len__(self) -> int:
        return len(self.sentences)

    def drop(self, quoted: set[tuple[str, int]], floor: float, unless: set[str] = frozenset()) -> None:
        """Leaves out the sentences (article id, start) already quoted ("what else"), unless no other sentence has
        evidence above ``floor`` (the rest of the answer may be in the sentence already quoted); one that holds a
        term of ``unless`` stays."""
        keep = np.array([(s.article_id, s.start) not in quoted or bool(unless & set(tokenize(s.text)))
                         for s in self.sentences], dtype=bool)
        if not keep.any() or float(self.evidence[keep].max()) < floor:
            return
        self.sentences = [s for s, k in zip(self.sentences, keep) if k]
        self.rows, self.vectors, self.fast, self.evidence = (a[keep] for a in (self.rows, self.vectors, self.fast,
                                                                              self.evidence))
        self.features = {name: values[keep] for name, values in self.features.items()}

    def drop_answered(self, lead: tuple[str, int], asked: set[str], floor: float, typed_keeps: bool = True,
                      answered: str | None = None) -> None:
        """Leaves out ``lead`` (article id, start), the sentence the previous answer led with, when it holds none of
        the terms a follow-up newly ``asked`` and (with ``typed_keeps``) nothing of the type asked for: the user has
        just read it, and the conversation's names in the question would otherwise pull it back first. Kept where
        nothing else answers above ``floor``, and where it holds what is asked ("What did he say Taiwan closely
        grasps?"). The same question asked of another ("And with Wang Yi?") passes the other's name terms as
        ``asked`` and no ``typed_keeps``: the answer about the one before holds the type asked for too. What the
        previous answer marked (``answered``) is no new span of the type: "When had Biden taken office before then?"
        is not answered by "... first met in November 2022" again."""
        at = next((i for i, s in enumerate(self.sentences) if (s.article_id, s.start) == lead), None)
        if at is None or asked & set(tokenize(self.sentences[at].text)):
            return
        if typed_keeps and self.kind.answer_type is not None and self.features["typed"][at] > 0:
            text = self.sentences[at].text
            spans = [text[s:e] for (s, e), _ in typed_candidates(self.kind.answer_type, self.question, text)]
            if not answered or any(span not in answered and answered not in span for span in spans):
                return
        self.drop({lead}, floor)

    def holds_about(self, i: int) -> bool:
        """Whether the sentence holds a word of what the question asks "about" (True when it asks about nothing)."""
        return not self.about or bool(self.about & set(tokenize(self.sentences[i].text)))

    def holds_focus(self, i: int) -> bool:
        present = set(tokenize(self.sentences[i].text))
        return any(t in present or _SYNONYMS.get(t, set()) & present for t in self.focus)


class CandidateFinder:
    def __init__(self, index: Index, settings: SelectorSettings):
        self.index = index
        self.settings = settings
        self._article_terms = lru_cache(maxsize=4096)(self._tokenize_article)  # every question re-reads them

    def find(self, question: str, hits: list[Hit], query_vector: np.ndarray,
             dates: DateRange | None = None) -> Candidates:
        """Every distinct sentence of ``hits`` (all of them: how many chunks to read is the caller's ``k``); with
        ``dates``, only those whose event date (their own, else their article's) meets the range."""
        cfg = self.settings
        kind = question_kind(question)
        sentences, rows, retrieval, position, context = self._sentences(hits, kind.is_list, dates)
        vectors = self.index.sentence_vectors(rows)
        dense = vectors @ query_vector.astype(np.float32)
        about = [m.group(1) for m in _ABOUT.finditer(question.strip())]  # what the question asks "about"
        about_words = frozenset(tokenize(" ".join(about)))
        focus, topic = self._term_weights(question, about_words)
        lexical = np.array([self._overlap(focus, topic, s.text, context[s.article_id]) for s in sentences])
        speaker = asked_speaker(question)
        typed = np.array([self._has_type(kind, question, s.text, speaker) for s in sentences])
        length = np.array([len(s.text.split()) for s in sentences], dtype=np.float64)
        evidence = cfg.w_dense * dense + cfg.w_lexical * lexical
        fast = evidence + cfg.w_retrieval * retrieval + cfg.w_type * typed
        features = {"dense": dense.astype(np.float64), "lexical": lexical, "retrieval": retrieval, "typed": typed,
                    "position": position, "length": length}
        return Candidates(question, kind, sentences, rows, vectors, features, fast, evidence, focus,
                          next((phrase for phrase in about if not self.mentions(phrase)), None), about=about_words)

    def _sentences(self, hits: list[Hit], expand: bool, dates: DateRange | None):
        """The distinct sentences of the hits, each with the best relative retrieval score of a chunk holding it and
        its place in its article, and per article the terms of its title and sentences (the context a sentence's
        evidence may draw on).

        With ``expand`` (list questions, whose facts are spread over an article), every sentence of the hits'
        articles is a candidate, at a discount on the article's best retrieval score.
        """
        store = self.index.store
        top = max((h.score for h in hits), default=0.0)
        seen: dict[int, int] = {}
        sentences, rows, retrieval, position = [], [], [], []
        context: dict[str, set[str]] = {}
        article_best: dict[int, float] = {}
        first_row: dict[int, int] = {}

        def add(row: int, sentence: Sentence, rel: float, a: int) -> None:
            if dates is not None and dates.bounded and not dates.overlaps(
                    *possible_days(sentence, store.article(a).date)):
                return
            if row in seen:
                retrieval[seen[row]] = max(retrieval[seen[row]], rel)
                return
            seen[row] = len(sentences)
            sentences.append(sentence)
            rows.append(row)
            retrieval.append(rel)
            position.append(row - first_row[a])

        for hit in hits:
            rel = hit.score / top if top > 0 else 0.0
            chunk = hit.chunk
            a = store.article_index(chunk.article_id)
            article_best[a] = max(article_best.get(a, 0.0), rel)
            if a not in first_row:
                first_row[a] = store.sentence_ranges(a)[0]
                context[chunk.article_id] = self._article_terms(a)
            for offset, sentence in enumerate(store.sentences(chunk.first_sentence, chunk.last_sentence)):
                add(chunk.first_sentence + offset, sentence, rel, a)
        if expand:
            for a, rel in article_best.items():
                first, ranges = store.sentence_ranges(a)
                n = min(len(ranges), self.settings.context_sentences)
                for offset, sentence in enumerate(store.sentences(first, first + n)):
                    add(first + offset, sentence, rel * self.settings.expand_discount, a)
        return (sentences, np.asarray(rows, dtype=np.int64), np.asarray(retrieval, dtype=np.float64),
                np.asarray(position, dtype=np.float64), context)

    def _tokenize_article(self, article_idx: int) -> frozenset[str]:
        """The tokens of an article's title and first sentences (cached per finder as ``_article_terms``)."""
        store = self.index.store
        article = store.article(article_idx)
        _, ranges = store.sentence_ranges(article_idx)
        body = " ".join(article.text[s:e] for s, e in ranges[:self.settings.context_sentences])
        return frozenset(tokenize(f"{article.title} {body}"))

    def _term_weights(self, question: str, about: frozenset[str]) -> tuple[dict[str, float], dict[str, float]]:
        """idf of the question's terms, split into topic terms (names: capitalised words after the first, and the
        words of a closing scene) and focus terms (the rest: what is asked about the topic, and the words of what it
        asks ``about``); the unit of a date asked for is neither. A term the collection never uses weighs the most."""
        vocab, idf = self.index.bm25.vocab, self.index.bm25.idf
        unseen = float(np.log((self.index.bm25.n_docs + 0.5) / 0.5))
        question = question.strip()
        scene = _SCENE.search(question)
        names = set(tokenize(" ".join(re.findall(r"(?<!^)(?<![.?!] )\b[A-Z][\w.-]*", question))))
        topic = (names | set(tokenize(scene.group(0) if scene else ""))) - about
        asked = set(tokenize(question)) - set(tokenize(asked_unit(question)))  # ("a day of meetings" is no closer)
        weights = {t: float(idf[vocab[t]]) if t in vocab else unseen for t in asked}
        return ({t: w for t, w in weights.items() if t not in topic},
                {t: w for t, w in weights.items() if t in topic})

    def mentions(self, phrase: str) -> bool:
        """Whether any article uses a word of ``phrase`` (one of no indexed word, as "U.S.", is not judged). What a
        question asks "about" that it does not mention ("... about AI?") no sentence can answer, however close the
        rest of the question comes to one; a name it does not mention is not carried into a follow-up."""
        vocab, words = self.index.bm25.vocab, tokenize(phrase)
        return not words or any(t in vocab for t in words)

    def _overlap(self, focus: dict[str, float], topic: dict[str, float], text: str, context: set[str]) -> float:
        """Share of the question's idf mass the sentence holds. Topic terms found elsewhere in the sentence's
        article count too ("What was agreed in San Francisco?" is answered by sentences of the article about the
        San Francisco meeting that never name the city); focus terms must be in the sentence itself."""
        total = sum(focus.values()) + sum(topic.values())
        if total <= 0:
            return 0.0
        present = set(tokenize(text))
        cfg = self.settings
        focus_found = sum(w if t in present else cfg.synonym_weight * w if _SYNONYMS.get(t, set()) & present else 0.0
                          for t, w in focus.items())
        topic_found = sum(w if t in present else cfg.context_weight * w if t in context else 0.0
                          for t, w in topic.items())
        focus_total, topic_total = sum(focus.values()), sum(topic.values())
        if not focus_total or not topic_total:
            return (focus_found + topic_found) / total
        # Both kinds count equally: a rare name must not drown what is being asked about it.
        return 0.5 * focus_found / focus_total + 0.5 * topic_found / topic_total

    @staticmethod
    def _has_type(kind: QuestionKind, question: str, text: str, speaker: str | None) -> float:
        """1 when the sentence holds a fitting answer candidate, 0 when none; 0.5 when nothing is expected. A question
        for someone's words is fitted by a sentence that gives theirs, and not by one that gives only another's."""
        if kind.answer_type is None:
            typed = 0.5
        else:
            typed = max((strength for _, strength in typed_candidates(kind.answer_type, question, text)), default=0.0)
        fit = speaker_fit(speaker, text) if speaker else None
        return typed if fit is None else min(1.0, 2 * typed) * fit
