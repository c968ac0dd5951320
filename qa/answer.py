"""The selector: picks, orders and quotes the answer sentences among the candidates, marks the factoid span, and
abstains when the evidence is weak.

With a learned combiner (after the reranker stage) the combiner's probability ranks the sentences, and a further
sentence is quoted only when it reaches a share of the best one's probability; without one the hand-weighted score
decides, as before the reranker existed. The learned span reader (``qa.reader``), when given, reads the best three
sentences of a non-list question and moves up the one it is sure answers; it marks the factoid span in the sentence
that leads, else rules over the question's type do (``--fast``). A factoid answer whose span the reader marks quotes
that sentence alone; otherwise a sentence in which the reader finds no likely answer is not quoted after the lead.
Abstention is decided by the hand threshold on the sentence evidence and, with the reader, also when the evidence is
middling and the reader finds no possible answer in any sentence it read; unless ``SelectorSettings.abstention`` is
"calibrated" (the combiner's probability and threshold). Whatever the scores, it refuses, with a note, when the
collection never uses the words of what the question asks "about".
"""
from __future__ import annotations

import re

import numpy as np

from .candidates import Candidates
from .combine import Combiner
from .config import SelectorSettings
from .index import Index
from .meta import sentence_date
from .question import QuestionKind, typed_candidates
from .reader import ReadSpan, SpanReader
from .store import Store
from .types import Answer, AnswerSentence, Citation, Hit, Sentence

NO_ANSWER = "The collection does not say."


class AnswerSelector:
    def __init__(self, index: Index, settings: SelectorSettings):
        self.index = index
        self.settings = settings

    def select(self, cands: Candidates, hits: list[Hit], combiner: Combiner | None = None,
               reader: SpanReader | None = None) -> Answer:
        """The answer from the candidates: ranked by ``combiner`` when given (else the fast score), the lead
        sentence's answer words marked by ``reader`` when given (else by the typed rules)."""
        cfg, kind, question = self.settings, cands.kind, cands.question
        if not len(cands):
            return Answer(question, NO_ANSWER, True, 0.0, [], [], hits=hits, notes=cands.notes,
                          understood=cands.understood)
        evidence = float(cands.evidence.max())
        if combiner is not None and not set(combiner.features) <= set(cands.features):
            combiner = None  # candidates the reranker did not read (list questions) keep the fast score
        if combiner is None:
            scores, ratio = cands.fast, (cfg.list_keep_ratio if kind.is_list else cfg.keep_ratio)
        else:
            scores = combiner.probability(cands)
            ratio = combiner.list_keep_share if kind.is_list else combiner.keep_share
        if cands.unmentioned is not None:  # the collection never speaks of what is asked about (a note says so)
            confidence, abstain = 0.0, True
        elif combiner is not None and cfg.abstention == "calibrated":
            confidence = float(scores.max())
            abstain = confidence < combiner.abstain_below
        else:  # the hand threshold on the sentence evidence (see SelectorSettings.abstention for why)
            confidence = _confidence(evidence, cfg.abstain_below)
            abstain = evidence < cfg.abstain_below
        order = np.argsort(-scores, kind="stable")
        reads: dict[int, ReadSpan | None] = {}
        if not abstain and reader is not None and not kind.is_list:  # list answers gather sentences; none leads
            order, reads = self._reread(reader, cands, scores, order, combined=combiner is not None)
            if cfg.abstention == "evidence" and self._reader_declines(reads, evidence):
                abstain, confidence = True, 0.5 * evidence / cfg.reader_abstain_evidence  # under 0.5, as refusals
        if abstain:
            chosen = [int(i) for i in order[:cfg.max_sentences]]
            return self._answer(cands, chosen, scores, None, True, confidence, hits)
        best = float(scores[order[0]])
        if cands.order:  # "the latest ...": of the sentences nearly as good as the best, the newest (oldest) leads
            quotable = [int(i) for i in order if scores[i] >= cfg.order_share * best and scores[i] > 0]
            dated = self._by_date(cands.sentences, quotable, newest=cands.order == "latest")
            order = np.array([dated] + [int(i) for i in order if i != dated])
        first = int(order[0])
        lead = cands.sentences[first]
        if reader is not None:
            if first not in reads:
                reads[first] = reader.best(kind, question, lead.text)
            span = reader.sure(reads[first])
            span = (lead.start + span[0], lead.start + span[1]) if span else None
        else:
            span = self._span(kind, question, lead) if kind.answer_type else None
        if span and reader is not None and not kind.is_list:
            chosen = [first]  # the reader is sure the lead answers: the other sentences would be padding
        else:
            chosen = self._quoted(cands, order, scores, ratio, reader, reads)
        return self._answer(cands, chosen, scores, span, False, confidence, hits)

    def _quoted(self, cands: Candidates, order: np.ndarray, scores: np.ndarray, ratio: float,
                reader: SpanReader | None, reads: dict[int, ReadSpan | None]) -> list[int]:
        """The lead and the further sentences worth quoting after it, in ``order``: each within ``ratio`` of the
        best score, not a near-duplicate, and (with the reader, but for a list) one in which the reader finds a
        likely answer (margin above ``reader_quote_floor``); a list question's must hold what it asks about."""
        cfg, kind = self.settings, cands.kind
        best = float(scores.max())
        limit = cfg.list_max_sentences if kind.is_list else cfg.max_sentences
        chosen = [int(order[0])]
        for i in (int(i) for i in order[1:]):
            if len(chosen) >= limit:
                break
            if scores[i] < ratio * best or scores[i] <= 0:
                continue  # (the reader's order need not follow the scores)
            if kind.is_list and cands.focus and not cands.holds_focus(i):
                continue
            if max(float(cands.vectors[i] @ cands.vectors[j]) for j in chosen) >= cfg.duplicate_cosine:
                continue  # a near-duplicate of a sentence already quoted
            if reader is not None and not kind.is_list:  # (last: a sentence not yet read costs a reader pass)
                if i not in reads:
                    reads[i] = reader.best(kind, cands.question, cands.sentences[i].text)
                if reads[i] is None or reads[i].margin <= cfg.reader_quote_floor:
                    continue  # the reader finds no likely answer in it: it would be padding
            chosen.append(i)
        return chosen

    def _reader_declines(self, reads: dict[int, ReadSpan | None], evidence: float) -> bool:
        """Whether the evidence is only middling and the span reader finds no possible answer in any sentence it
        read: a near miss (the collection's own people and events, not what was asked) looks like this."""
        cfg = self.settings
        return evidence < cfg.reader_abstain_evidence and all(
            read is None or read.margin <= cfg.reader_floor for read in reads.values())

    def _reread(self, reader: SpanReader, cands: Candidates, scores: np.ndarray, order: np.ndarray,
                combined: bool) -> tuple[np.ndarray, dict[int, ReadSpan | None]]:
        """The span reader reads the best few sentences, and the surer it is that one holds the answer (its margin
        over "no answer", floored), the further up that one moves: the order of the candidates, and what it read. A
        sentence without a word of what the question asks "about" is not moved: the reader finds answers to "What did
        Xi say about Taiwan during the call with Trump?" in the sentence that only sets the scene ("Donald Trump")."""
        cfg = self.settings
        top = [int(i) for i in order[:cfg.reader_reads]]
        # One sentence at a time: int8 activations are scaled per batch, so a sentence read beside others scores
        # differently from one read alone, as the reader's margin was fitted.
        reads = {i: reader.best(cands.kind, cands.question, cands.sentences[i].text) for i in top}
        # The combiner's probabilities are moved on their log-odds, where a constant step means the same everywhere.
        key = np.log(np.clip(scores, 1e-6, None) / np.clip(1 - scores, 1e-6, None)) if combined else scores.copy()
        weight = cfg.reader_weight_combined if combined else cfg.reader_weight
        for i, read in reads.items():
            if read is not None and cands.holds_about(i):
                key[i] += weight * (max(read.margin, cfg.reader_floor) - cfg.reader_floor)
        return np.argsort(-key, kind="stable"), reads

    def _by_date(self, sentences: list[Sentence], indices: list[int], newest: bool) -> int:
        """The newest (else oldest) of the sentences, by the first day their event can be; ties keep score order."""
        store = self.index.store

        def first_day(i: int) -> str:
            first, last = sentence_date(sentences[i], store.article(store.article_index(sentences[i].article_id)).date)
            return first or last or ("" if newest else "9999")

        return (max if newest else min)(indices, key=first_day)

    @staticmethod
    def _span(kind: QuestionKind, question: str, sentence: Sentence) -> tuple[int, int] | None:
        """The answer inside the best sentence: the strongest typed candidate, the one closest to the question's
        words among equals; none when no candidate fits the question well (a weak fit is a guess, not an answer)."""
        text = sentence.text
        q_words = set(re.findall(r"\w+", question.lower())) - {"the", "a", "an", "of", "in", "to", "and"}
        anchors = [m.start() for m in re.finditer(r"\w+", text) if m.group(0).lower() in q_words]
        ranked = sorted(typed_candidates(kind.answer_type, question, text),
                        key=lambda c: (-c[1], min((abs(a - c[0][0]) for a in anchors), default=0)))
        if not ranked or ranked[0][1] < 1.0:
            return None
        s, e = ranked[0][0]
        return sentence.start + s, sentence.start + e

    def _answer(self, cands, chosen, scores, span, abstained, confidence, hits) -> Answer:
        question, sentences = cands.question, cands.sentences
        # The best sentence leads (it is the direct answer); the others follow grouped by article, articles in the
        # order of their best sentence, each article's sentences in document order.
        article_order: dict[str, int] = {}
        for i in chosen:
            article_order.setdefault(sentences[i].article_id, len(article_order) + 1)
        lead = chosen[0]
        ordered = [lead] + sorted(chosen[1:], key=lambda i: (article_order[sentences[i].article_id],
                                                             sentences[i].start))
        quoted = []
        store = self.index.store
        for i in ordered:
            s = sentences[i]
            sent_span = span if (span and i == chosen[0]) else None
            article = store.article(store.article_index(s.article_id))
            date, date_source = (s.when.label, "sentence") if s.when else (article.date, article.date_source)
            span_text = " ".join(article.text[sent_span[0]:sent_span[1]].split()) if sent_span else None
            quoted.append(AnswerSentence(" ".join(s.text.split()), article_order[s.article_id], s.article_id,
                                         s.start, s.end, round(float(scores[i]), 4), sent_span, span_text, date,
                                         date_source))
        citations = [citation(store, n, article_id, [(q.start, q.end) for q in quoted if q.article_id == article_id])
                     for article_id, n in article_order.items()]
        text = NO_ANSWER if abstained else " ".join(f"{q.text} [{q.citation}]" for q in quoted)
        notes = cands.notes + ([f"The collection never mentions \u201c{cands.unmentioned}\u201d."]
                               if cands.unmentioned is not None else [])
        return Answer(question, text, abstained, round(confidence, 4), quoted, citations, hits=hits,
                      notes=notes, understood=cands.understood)

def citation(store: Store, n: int, article_id: str, quoted: list[tuple[int, int]]) -> Citation:
    """Source ``n``: the quoted sentences (their offsets) with one neighbour on each side, as one passage."""
    a = store.article_index(article_id)
    article = store.article(a)
    _, ranges = store.sentence_ranges(a)
    picked = sorted({j for q in quoted for j, r in enumerate(ranges) if r == q})
    keep = sorted({k for j in picked for k in (j - 1, j, j + 1) if 0 <= k < len(ranges)})
    pieces, prev = [], None
    for k in keep:
        if prev is not None and k != prev + 1:
            pieces.append("\u2026")
        pieces.append(" ".join(article.text[slice(*ranges[k])].split()))
        prev = k
    start, end = ranges[keep[0]][0], ranges[keep[-1]][1]
    return Citation(n, article.id, article.title, article.date, article.date_source, article.publisher,
                    article.path, " ".join(pieces), start, end, article.page_at(quoted[0][0]))


def _confidence(best: float, threshold: float) -> float:
    """A monotone map of the best sentence score to 0..1, equal to 0.5 at the abstention threshold."""
    if best < threshold:
        return max(0.0, 0.5 * best / threshold) if threshold > 0 else 0.0
    return min(1.0, 0.5 + 0.5 * (best - threshold) / max(1e-9, 0.75 - threshold))
