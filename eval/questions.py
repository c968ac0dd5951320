"""One question through every configuration: the retrieval rows, the plain baseline and the answer configurations,
which compose the assistant's own query pipeline stages."""
from __future__ import annotations

import random
import time
from dataclasses import dataclass, replace

import numpy as np

from qa.question import question_kind

from . import metrics as M
from .configs import ANSWER_CONFIGS, BASELINE, CURVE_K, RETRIEVAL_CONFIGS
from .datasets import Dataset, Question


def sample(questions: list[Question], limit: int | None, seed: int) -> list[Question]:
    """``limit`` questions drawn reproducibly with ``seed``, kept in file order; all of them without a limit."""
    if not limit or limit >= len(questions):
        return list(questions)
    picked = sorted(random.Random(seed).sample(range(len(questions)), limit))
    return [questions[i] for i in picked]


def _ranked_docs(hits, to_doc) -> list[str]:
    return M._dedupe(to_doc(h.chunk.article_id) for h in hits)


@dataclass
class _Context:
    ds: Dataset
    assistant: object
    index: object
    pipeline: object  # the assistant's query pipeline, whose stages every configuration composes
    settings: object
    to_doc: object
    default_config: str
    deep_k: int  # chunks retrieved for recall@100 (0: not measured)
    n_articles: int
    prefix: str = ""  # article id prefix of the dataset's documents


def _retrieval_metrics(ctx: _Context, q: Question, ranking: list[str], top_chunks) -> dict:
    out: dict = {}
    if not q.answerable:
        return out
    gold = set(q.gold)
    for k in (1, 5, 20):
        out[f"recall@{k}"] = (M.beir_recall_at_k(ranking, q.qrels, k) if ctx.ds.graded
                              else M.recall_at_k(ranking, gold, k))
    if ctx.deep_k:
        out["recall@100"] = (M.beir_recall_at_k(ranking, q.qrels, 100) if ctx.ds.graded
                             else M.recall_at_k(ranking, gold, 100))
    out["mrr@10"] = M.mrr_at_k(ranking, gold, 10)
    out["ndcg@10"] = M.ndcg_at_k(ranking, q.qrels, 10)
    if ctx.ds.has_answers and q.answers:
        out["chunk_recall@5"] = float(any(M.contains_answer(h.chunk.text, q.answers) for h in top_chunks[:5]))
    out["_rel_ranks"] = [i + 1 for i, d in enumerate(ranking[:CURVE_K[-1]]) if d in gold]
    out["_n_rel"] = len(gold)
    out["_top_docs"] = ranking[:3]
    first = next((i + 1 for i, d in enumerate(ranking) if d in gold), None)
    out["_gold_rank"] = first
    return out


def _answer_metrics(ctx: _Context, q: Question, sentences: list[str], top_sentence: str | None,
                    span_text: str | None, cited: list[str], abstained: bool) -> dict:
    """Answer columns for one question: ``sentences`` in the order shown to the user."""
    out: dict = {"_abstained": abstained}
    if not q.answerable:
        return out
    answered = not abstained and bool(sentences)
    if q.answers:
        out["hit@1"] = float(answered and M.contains_answer(sentences[0], q.answers))
        out["hit@3"] = float(answered and any(M.contains_answer(s, q.answers) for s in sentences[:3]))
        out["hit@1_top"] = float(answered and top_sentence is not None and M.contains_answer(top_sentence, q.answers))
    if q.kind == "list":
        out["list_recall"] = M.list_recall(sentences, q.answers) if answered else 0.0
    elif answered and q.answers:
        out["noise"] = float(sum(not M.contains_answer(s, q.answers) for s in sentences))
        out["span_rate"] = float(span_text is not None)
        if span_text is not None:
            out["em"] = M.exact_match(span_text, q.answers)
            out["f1"] = M.f1_score(span_text, q.answers)
    if answered and cited:
        gold = set(q.gold)
        out["citation_precision"] = sum(1 for c in cited if c in gold) / len(cited)
    return out


def _from_answer(ctx: _Context, q: Question, answer) -> dict:
    texts = [s.text for s in answer.sentences]
    top = max(answer.sentences, key=lambda s: s.score).text if answer.sentences else None
    span_text = next((s.span_text for s in answer.sentences if s.span_text), None)
    cited = [ctx.to_doc(c.article_id) for c in answer.citations]
    out = _answer_metrics(ctx, q, texts, top, span_text, cited, answer.abstained)
    out["_answer"] = answer.answer
    out["_span"] = span_text
    out["_cited"] = cited
    out["_confidence"] = answer.confidence
    return out


def _cosine_baseline(ctx: _Context, q: Question, hits, query_vector) -> dict:
    rows = list(dict.fromkeys(r for h in hits[:ctx.settings.retrieval.k]
                              for r in range(h.chunk.first_sentence, h.chunk.last_sentence)))
    if not rows:
        out = _answer_metrics(ctx, q, [], None, None, [], False)
        out.update(_answer="", _cited=[])
        return out
    cos = ctx.index.sentence_vectors(rows) @ query_vector.astype(np.float32)
    order = np.argsort(-cos, kind="stable")[:3]
    picked = [ctx.index.store.sentences(rows[i], rows[i] + 1)[0] for i in order]
    texts = [" ".join(s.text.split()) for s in picked]
    cited = [ctx.to_doc(picked[0].article_id)]
    out = _answer_metrics(ctx, q, texts, texts[0], None, cited, False)
    out.update(_answer=texts[0], _cited=cited)
    return out


def _answer_configs(ctx: _Context) -> dict:
    """The answer configurations this run can compare, as (combiner, selector, reader): the reranker's and the
    reader's only when they loaded."""
    from qa.answer import AnswerSelector

    reranker, selector, reader = ctx.pipeline.reranker, ctx.pipeline.selector, ctx.pipeline.reader
    out = {}
    for name, (combiner, abstention, reads) in ANSWER_CONFIGS.items():
        if (combiner is not None and reranker is None) or (reads and reader is None):
            continue
        chosen = selector if abstention == selector.settings.abstention else AnswerSelector(
            selector.index, replace(selector.settings, abstention=abstention))
        out[name] = (None if combiner is None else reranker.combiners[combiner], chosen, reader if reads else None)
    return out


def _evaluate_question(ctx: _Context, q: Question, qv: np.ndarray, timed: bool = True) -> dict:
    """One question's records, per configuration: each retrieval row, then (with answers) the baseline and each
    answer configuration."""
    result, default = _retrieval_rows(ctx, q, qv)
    if not ctx.ds.has_answers:
        return result
    default_hits, default_ms = default
    t0 = time.perf_counter()
    row = _cosine_baseline(ctx, q, default_hits, qv)
    row["_ms"] = default_ms + (time.perf_counter() - t0) * 1000
    result[BASELINE] = row
    result.update(_answer_rows(ctx, q, qv, timed))
    return result


def _retrieval_rows(ctx: _Context, q: Question, qv: np.ndarray) -> tuple[dict, tuple]:
    """A row per retrieval configuration, and the default configuration's hits and search time."""
    result: dict = {}
    pipeline, k = ctx.pipeline, ctx.settings.retrieval.k
    candidates = ctx.settings.retrieval.candidates
    default = (None, 0.0)
    for name, (mode, fusion) in RETRIEVAL_CONFIGS.items():
        t0 = time.perf_counter()
        hits = pipeline.retriever.search(q.question, k, mode=mode, fusion=fusion, query_vector=qv)
        search_ms = (time.perf_counter() - t0) * 1000
        # The ranking the system has: the same candidate pools as the timed call, so its top k is ``hits``.
        ranked = pipeline.retriever.search(q.question, max(candidates, k), mode=mode, fusion=fusion,
                                           query_vector=qv)
        ranking = _ranked_docs(ranked, ctx.to_doc)
        if ctx.deep_k > len(ranked):  # recall@100 and the curve go on with a deeper search's new documents
            deep = _ranked_docs(pipeline.retriever.search(q.question, ctx.deep_k, mode=mode, fusion=fusion,
                                                          query_vector=qv), ctx.to_doc)
            seen = set(ranking)
            ranking = ranking + [d for d in deep if d not in seen]
        row = _retrieval_metrics(ctx, q, ranking, ranked)
        row["_ms"] = search_ms
        if ctx.ds.has_answers:  # each retriever's chunks answered by the fast selector
            row.update(_from_answer(ctx, q, pipeline.selector.select(pipeline.finder.find(q.question, hits, qv),
                                                                     hits)))
        result[name] = row
        if name == ctx.default_config:
            default = (hits, search_ms)
    return result, default


def _answer_rows(ctx: _Context, q: Question, qv: np.ndarray, timed: bool) -> dict:
    """The answer configurations share one pass of the stages (the reranker scores once); each selects with its own
    combiner. On the latency sample each is also asked whole, as a user asks, for its time."""
    pipeline, k = ctx.pipeline, ctx.settings.retrieval.k
    hits, cands = pipeline.candidates(q.question, qv, k=k, history=q.history)
    withheld = None
    if ctx.ds.documents is not None and q.answerable:
        # The question asked with its gold paragraphs withheld from the index: unanswerable when nothing left holds
        # an answer.
        w_hits, w_cands = pipeline.candidates(q.question, qv, k=k, exclude={ctx.prefix + g for g in q.gold},
                                              history=q.history)
        if not any(M.contains_answer(s.text, q.answers) for s in w_cands.sentences):
            withheld = w_hits, w_cands
    result = {}
    for name, (combiner, selector, reader) in _answer_configs(ctx).items():
        row = _from_answer(ctx, q, selector.select(cands, hits, combiner, reader))
        if q.answerable:
            ranking = _ranked_docs(hits, ctx.to_doc)
            row["recall@1"] = M.recall_at_k(ranking, q.gold, 1)
            if q.answers:
                row["chunk_recall@5"] = float(any(M.contains_answer(h.chunk.text, q.answers) for h in hits[:5]))
            row["_top_docs"] = ranking[:3]
            row["_gold_rank"] = next((i + 1 for i, d in enumerate(ranking) if d in set(q.gold)), None)
        if withheld is not None:
            refusal = selector.select(withheld[1], withheld[0], combiner, reader)
            row["_withheld"] = (refusal.abstained, refusal.confidence)
        if timed:
            # asked whole, as a user asks; the "reader" configuration is the fast ask plus the reader's time on the
            # sentence it quotes first (the assistant of this run has the reranker on, for the other configurations)
            asked = ctx.assistant.ask(q.question, fast=combiner is None, history=q.history)
            read_ms = 0.0
            if combiner is None and reader is not None and asked.sentences:
                t0 = time.perf_counter()
                reader.span(question_kind(q.question), q.question, asked.sentences[0].text)
                read_ms = (time.perf_counter() - t0) * 1000
            row.update(_ms=asked.timings_ms["total"] + read_ms, _rerank_ms=asked.timings_ms["rerank"],
                       _retrieve_ms=asked.timings_ms["encode"] + asked.timings_ms["retrieve"],
                       _select_ms=asked.timings_ms["select"] + read_ms)
        result[name] = row
    return result
