"""The extractive answer selector: scores the sentences of the retrieved chunks and quotes the best, with citations.

A sentence's score mixes the dense cosine to the question (sentence vectors are stored at index time, so nothing is
encoded here), idf-weighted lexical overlap, the retrieval score of its chunk, and whether it holds the kind of thing
asked for (a date for "when", a number for "how many", a name for "who"). Weak evidence means an abstention.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .config import SelectorSettings
from .index import Index
from .text import tokenize
from .types import Answer, AnswerSentence, Citation, Hit, Sentence

NO_ANSWER = "The collection does not say."

_MONTH = r"(?:January|February|March|April|May|June|July|August|September|October|November|December|" \
         r"Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|Nov|Dec)\.?"
_WEEKDAY = r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
_NUMBER_WORD = r"(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|forty|" \
               r"fifty|hundred|thousand|million|billion|half|dozen|first|second|third|fourth|fifth|sixth|" \
               r"seventh|eighth|ninth|tenth)"
_NUM = rf"(?:\d[\d,.]*|{_NUMBER_WORD})"
_PATTERNS = {
    "date": re.compile(
        rf"\b(?:{_MONTH}\s+\d{{1,2}}(?:,\s*\d{{4}})?|\d{{1,2}}\s+{_MONTH}(?:\s+\d{{4}})?|{_MONTH}\s+\d{{4}}|"
        rf"(?:in|since|until|by)\s+{_MONTH}|(?:on|last|this|next)\s+{_WEEKDAY}|{_WEEKDAY}|"
        rf"(?:last|this|next)\s+(?:month|year|week)|(?:19|20)\d{{2}})\b"),
    "number": re.compile(
        rf"\b(?:(?:more than|less than|approximately|about|nearly|over|almost|some|around)\s+)?"
        rf"{_NUM}(?:(?:\s+and\s+a|\s+and|-|\s+)\s*{_NUM})*(?:\s+(?:per\s?cent|percent|%)|(?P<noun>\s+[a-z]+s))?\b",
        re.IGNORECASE),
    "name": re.compile(r"\b(?:(?:Mr|Mrs|Ms|Dr|President|Secretary)\.?\s+)?[A-Z][a-z\u2019'-]+(?:\s+[A-Z][a-z\u2019'-]+)*"),
    # a capitalised name after "in", "at", ...; not a month or weekday ("in January" says when, not where)
    "place": re.compile(rf"(?:(?<=\bin )|(?<=\bat )|(?<=\bto )|(?<=\bnear )|(?<=\bfrom ))"
                        rf"(?:the )?(?!(?:{_MONTH}|{_WEEKDAY})\b)[A-Z][a-z]+(?:[\s-][A-Z][a-z]+)*"),
}
_LIST_CUES = re.compile(r"\b(agree[ds]?|discuss(?:ed)?|announce[ds]?|outline[ds]?|areas|issues|steps|topics|points|"
                        r"measures|what were|which .*s\b)", re.IGNORECASE)


# Words news reports use for the outcome of talks, so that "what was agreed" also finds "they are resuming contacts".
_OUTCOME = {"agre", "agreement", "resum", "restart", "restor", "launch", "pledg", "promis", "decid",
            "consensus", "deal"}
_SYNONYMS = {stem: _OUTCOME - {stem} for stem in _OUTCOME}


@dataclass
class QuestionKind:
    answer_type: str | None  # date | number | name | place | None
    is_list: bool


def question_kind(question: str) -> QuestionKind:
    q = question.lower().strip()
    if re.match(r"(when|what (year|date|day|month)|which (year|date|day|month)|on what (date|day))\b", q):
        kind = "date"
    elif re.match(r"(how (many|much|long|old|often)|what (percentage|number|share))\b", q):
        kind = "number"
    elif re.match(r"(who|whom|whose|which (person|official|leader|minister|president|diplomat))\b", q):
        kind = "name"
    elif re.match(r"(where|in (what|which) (city|country|place)|what (city|country|place))\b", q):
        kind = "place"
    else:
        kind = None
    parts = len(re.findall(r"\b(and|also)\b", q)) > 0 and len(re.findall(r"\b(what|who|when|where|how|which)\b", q)) > 1
    return QuestionKind(kind, bool(_LIST_CUES.search(q)) or parts)


_DURATION = re.compile(r"\b(?:seconds?|minutes?|hours?|days?|weeks?|months?|years?|decades?)\b", re.IGNORECASE)
_YEAR = re.compile(r"^(?:19|20)\d\d$")


def typed_candidates(kind: str, question: str, sentence: str) -> list[tuple[tuple[int, int], float]]:
    """Spans of the sentence that could answer a question of this kind, with a strength: 1 for a good fit, 0.5 for a
    weaker one ("how many representatives" fits "30 representatives" better than "8, 2024"). Spans made only of the
    question's own words are left out."""
    q = question.lower()
    q_words = set(re.findall(r"\w+", q))
    counted = re.match(r"how many ([a-z]+)", q)
    counted = counted.group(1).rstrip("s") if counted else None
    out = []
    for m in _PATTERNS[kind].finditer(sentence):
        words = re.findall(r"\w+", m.group(0).lower())
        if not words or set(words) <= q_words:
            continue
        strength, span = 1.0, m.span()
        if kind == "number":
            following = sentence[m.end():m.end() + 30].lower()
            if _YEAR.match(m.group(0)) or re.search(_MONTH, sentence[max(0, m.start() - 12):m.start()]):
                continue  # a year or a day of the month is not a count
            if counted:
                strength = 1.0 if counted in m.group(0).lower() or counted in following.split()[:3] else 0.5
                if m.group("noun"):  # the count answers "how many"; the counted noun is the question's own
                    span = (m.start(), m.start("noun"))
            elif q.startswith("how long"):
                strength = 1.0 if _DURATION.search(m.group(0)) else 0.5
        out.append((span, strength))
    return out


class AnswerSelector:
    def __init__(self, index: Index, settings: SelectorSettings):
        self.index = index
        self.settings = settings
        self._article_terms = lru_cache(maxsize=4096)(self._tokenize_article)  # every question re-reads them

    def select(self, question: str, hits: list[Hit], query_vector: np.ndarray) -> Answer:
        cfg = self.settings
        kind = question_kind(question)
        sentences, rows, retrieval, context = self._candidates(hits[:cfg.chunks], expand=kind.is_list)
        if not sentences:
            return Answer(question, NO_ANSWER, True, 0.0, [], [], hits=hits)
        q = query_vector.astype(np.float32)
        vectors = np.asarray(self.index.sentence_vectors[rows], dtype=np.float32)
        dense = vectors @ q
        focus, topic = self._term_weights(question)
        lexical = np.array([self._overlap(focus, topic, s.text, context[s.article_id]) for s in sentences])
        typed = np.array([self._has_type(kind, question, s.text) for s in sentences])
        evidence = cfg.w_dense * dense + cfg.w_lexical * lexical  # how well the sentence itself answers
        scores = evidence + cfg.w_retrieval * retrieval + cfg.w_type * typed

        order = np.argsort(-scores, kind="stable")
        best = float(scores[order[0]])
        support = float(evidence.max())
        confidence = _confidence(support, cfg.abstain_below)
        if support < cfg.abstain_below:
            chosen = [int(i) for i in order[:cfg.max_sentences]]
            return self._answer(question, sentences, chosen, scores, None, True, confidence, hits)
        limit = cfg.list_max_sentences if kind.is_list else cfg.max_sentences
        ratio = cfg.list_keep_ratio if kind.is_list else cfg.keep_ratio
        chosen = [int(order[0])]
        for i in order[1:]:
            if len(chosen) >= limit or scores[i] < ratio * best:
                break
            if kind.is_list and focus and not self._holds_focus(focus, sentences[i].text):
                continue
            if max(float(vectors[i] @ vectors[j]) for j in chosen) >= cfg.duplicate_cosine:
                continue  # a near-duplicate of a sentence already quoted
            chosen.append(int(i))
        span = self._span(kind, question, sentences[chosen[0]]) if kind.answer_type else None
        return self._answer(question, sentences, chosen, scores, span, False, confidence, hits)

    def _candidates(self, hits: list[Hit], expand: bool):
        """The distinct sentences of the hits, each with the best relative retrieval score of a chunk holding it,
        and per article the terms of its title and sentences (the context a sentence's evidence may draw on).

        With ``expand`` (list questions, whose facts are spread over an article), every sentence of the hits'
        articles is a candidate, at a discount on the article's best retrieval score.
        """
        store = self.index.store
        top = max((h.score for h in hits), default=0.0)
        seen: dict[int, int] = {}
        sentences, rows, retrieval = [], [], []
        context: dict[str, set[str]] = {}
        article_best: dict[int, float] = {}

        def add(row: int, sentence: Sentence, rel: float) -> None:
            if row in seen:
                retrieval[seen[row]] = max(retrieval[seen[row]], rel)
                return
            seen[row] = len(sentences)
            sentences.append(sentence)
            rows.append(row)
            retrieval.append(rel)

        for hit in hits:
            rel = hit.score / top if top > 0 else 0.0
            chunk = hit.chunk
            a = store.article_index(chunk.article_id)
            article_best[a] = max(article_best.get(a, 0.0), rel)
            if chunk.article_id not in context:
                context[chunk.article_id] = self._article_terms(a)
            for offset, sentence in enumerate(store.sentences(chunk.first_sentence, chunk.last_sentence)):
                add(chunk.first_sentence + offset, sentence, rel)
        if expand:
            for a, rel in article_best.items():
                first, ranges = store.sentence_ranges(a)
                n = min(len(ranges), self.settings.context_sentences)
                for offset, sentence in enumerate(store.sentences(first, first + n)):
                    add(first + offset, sentence, rel * self.settings.expand_discount)
        return sentences, np.asarray(rows, dtype=np.int64), np.asarray(retrieval), context

    def _tokenize_article(self, article_idx: int) -> frozenset[str]:
        """The tokens of an article's title and first sentences (cached per selector as ``_article_terms``)."""
        store = self.index.store
        article = store.article(article_idx)
        _, ranges = store.sentence_ranges(article_idx)
        body = " ".join(article.text[s:e] for s, e in ranges[:self.settings.context_sentences])
        return frozenset(tokenize(f"{article.title} {body}"))

    def _term_weights(self, question: str) -> tuple[dict[str, float], dict[str, float]]:
        """idf of the question's terms, split into topic terms (names: capitalised words after the first) and focus
        terms (the rest: what is asked about the topic). A term the collection never uses weighs the most."""
        vocab, idf = self.index.bm25.vocab, self.index.bm25.idf
        unseen = float(np.log((self.index.bm25.size + 0.5) / 0.5))
        names = set(tokenize(" ".join(re.findall(r"(?<!^)(?<![.?!] )\b[A-Z][\w.-]*", question.strip()))))
        weights = {t: float(idf[vocab[t]]) if t in vocab else unseen for t in set(tokenize(question))}
        return ({t: w for t, w in weights.items() if t not in names},
                {t: w for t, w in weights.items() if t in names})

    @staticmethod
    def _holds_focus(focus: dict[str, float], text: str) -> bool:
        present = set(tokenize(text))
        return any(t in present or _SYNONYMS.get(t, set()) & present for t in focus)

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
    def _has_type(kind: QuestionKind, question: str, text: str) -> float:
        """1 when the sentence holds a fitting answer candidate, 0 when none; 0.5 when nothing is expected."""
        if kind.answer_type is None:
            return 0.5
        return max((strength for _, strength in typed_candidates(kind.answer_type, question, text)), default=0.0)

    @staticmethod
    def _span(kind: QuestionKind, question: str, sentence: Sentence) -> tuple[int, int] | None:
        """The answer inside the best sentence: the strongest typed candidate, the one closest to the question's
        words among equals."""
        text = sentence.text
        q_words = set(re.findall(r"\w+", question.lower())) - {"the", "a", "an", "of", "in", "to", "and"}
        anchors = [m.start() for m in re.finditer(r"\w+", text) if m.group(0).lower() in q_words]
        ranked = sorted(typed_candidates(kind.answer_type, question, text),
                        key=lambda c: (-c[1], min((abs(a - c[0][0]) for a in anchors), default=0)))
        if not ranked:
            return None
        s, e = ranked[0][0]
        return sentence.start + s, sentence.start + e

    def _answer(self, question, sentences, chosen, scores, span, abstained, confidence, hits) -> Answer:
        # The best sentence leads (it is the direct answer); the others follow grouped by article, articles in the
        # order of their best sentence, each article's sentences in document order.
        article_order: dict[str, int] = {}
        for i in chosen:
            article_order.setdefault(sentences[i].article_id, len(article_order) + 1)
        lead = chosen[0]
        ordered = [lead] + sorted(chosen[1:], key=lambda i: (article_order[sentences[i].article_id], sentences[i].start))
        quoted = []
        for i in ordered:
            s = sentences[i]
            sent_span = span if (span and i == chosen[0]) else None
            quoted.append(AnswerSentence(" ".join(s.text.split()), article_order[s.article_id], s.article_id,
                                         s.start, s.end, round(float(scores[i]), 4), sent_span))
        citations = [self._citation(n, article_id, [q for q in quoted if q.article_id == article_id])
                     for article_id, n in article_order.items()]
        text = NO_ANSWER if abstained else " ".join(f"{q.text} [{q.citation}]" for q in quoted)
        return Answer(question, text, abstained, round(confidence, 4), quoted, citations, hits=hits)

    def _citation(self, n: int, article_id: str, quoted: list[AnswerSentence]) -> Citation:
        """The quoted sentences with one neighbour on each side, as one passage of the article."""
        store = self.index.store
        a = store.article_index(article_id)
        article = store.article(a)
        _, ranges = store.sentence_ranges(a)
        picked = sorted({j for q in quoted for j, r in enumerate(ranges) if r == (q.start, q.end)})
        keep = sorted({k for j in picked for k in (j - 1, j, j + 1) if 0 <= k < len(ranges)})
        pieces, prev = [], None
        for k in keep:
            if prev is not None and k != prev + 1:
                pieces.append("\u2026")
            pieces.append(" ".join(article.text[slice(*ranges[k])].split()))
            prev = k
        start, end = ranges[keep[0]][0], ranges[keep[-1]][1]
        return Citation(n, article.id, article.title, article.date, article.source, article.path, " ".join(pieces),
                        start, end, article.page_at(quoted[0].start))


def _confidence(best: float, threshold: float) -> float:
    """A monotone map of the best sentence score to 0..1, equal to 0.5 at the abstention threshold."""
    if best < threshold:
        return max(0.0, 0.5 * best / threshold) if threshold > 0 else 0.0
    return min(1.0, 0.5 + 0.5 * (best - threshold) / max(1e-9, 0.75 - threshold))
