"""``qa eval``: every configuration that matters, on the same questions, in one run.

Rows (configurations):

- ``bm25``, ``dense``, ``hybrid-rrf``, ``hybrid-convex``: the retriever in that mode. Retrieval metrics are taken at
  document (article) level: chunk hits are reduced to their articles in rank order. Where the dataset has answers,
  the full answer selector also reads each mode's top chunks, so the answer columns compare the retrievers too.
- ``baseline-cosine``: the plain baseline: the sentence with the highest cosine to the question among the top chunks
  of the default retrieval (hit@3: its three best sentences). It never abstains.
- ``full``: ``Assistant.ask`` as the CLI and the UI call it (default retrieval and the answer selector).

Each question is encoded once and its vector reused by every retrieval row. ``full`` calls ``Assistant.ask``; on an
evenly spread sample of up to ``LATENCY_SAMPLE`` questions it encodes the question itself, and only those asks are
timed, so its latency is the whole ask (the other asks are handed the vector already computed: same answers, less
time). Latency columns: retrieval rows time the search call (question already encoded), ``baseline-cosine`` the
search plus its sentence pick, ``full`` the whole ask (with the retrieve/select split and ``latency_n`` in JSON).

Programmatic use (e.g. to tune settings): ``evaluate("squad", split="tune", settings=replace(...))`` returns the
summary object that ``--json`` prints, and ``evaluate(..., keep_records=True)`` the per-question records as well.
"""
from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import random
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from . import metrics as M
from .datasets import ROOT, Dataset, Question, load_dataset

log = logging.getLogger("qa.eval")

CACHE_VERSION = 1
RETRIEVAL_CONFIGS = {  # name: (mode, fusion)
    "bm25": ("bm25", None),
    "dense": ("dense", None),
    "hybrid-rrf": ("hybrid", "rrf"),
    "hybrid-convex": ("hybrid", "convex"),
}
BASELINE, FAST, CROSS, FULL, CALIBRATED = "baseline-cosine", "fast", "cross-encoder", "full", "full-calibrated"
# name: (the reranker's combiner, None for --fast; the selector's abstention rule)
ANSWER_CONFIGS = {FAST: (None, "evidence"), CROSS: ("cross-encoder", "evidence"), FULL: ("full", "evidence"),
                  CALIBRATED: ("full", "calibrated")}
METRIC_KEYS = ["recall@1", "recall@5", "recall@20", "recall@100", "chunk_recall@5", "mrr@10", "ndcg@10", "hit@1",
               "hit@3", "em", "f1", "noise", "list_recall", "citation_precision", "abstain_precision",
               "abstain_recall", "wrong_abstain_rate", "abstain_auroc", "withheld_precision", "withheld_recall",
               "withheld_auroc", "p50_ms", "p95_ms"]
CURVE_K = (1, 2, 3, 5, 10, 20, 50, 100)
LATENCY_SAMPLE = 200  # questions on which the full ask (encoding included) is timed


def cache_root() -> Path:
    return Path(os.environ.get("QA_EVAL_CACHE") or ROOT / ".cache" / "eval")


# --- the index of a question set ------------------------------------------------------------------------------------


@dataclass
class Prepared:
    settings: object
    build_seconds: float
    embedded_texts: int
    up_to_date: bool
    prefix: str  # article id prefix to strip to get a dataset document id ("" for the bundled collection)


# The library modules that decide what an index holds: a change to any of them builds the cached indexes again.
INDEX_CODE = ("bm25.py", "chunk.py", "clean.py", "embed.py", "index.py", "ingest.py", "store.py", "text.py")


def index_code_digest() -> str:
    import qa

    folder = Path(qa.__file__).parent
    h = hashlib.sha256()
    for name in INDEX_CODE:
        path = folder / name
        h.update(name.encode() + b"\0" + (path.read_bytes() if path.is_file() else b"") + b"\0")
    return h.hexdigest()[:16]


def index_key(ds: Dataset, settings) -> str:
    """Cache key: the dataset files' content, every setting the index depends on, and the indexing code."""
    r = settings.retrieval
    ident = {
        "cache_version": CACHE_VERSION,
        "code": index_code_digest(),
        "dataset": ds.identity(),
        "model": settings.model,
        "backend": settings.backend,
        "chunking": asdict(settings.chunking),
        "bm25": {"k1": r.bm25_k1, "b": r.bm25_b, "epsilon": r.bm25_epsilon},
    }
    if getattr(settings, "dense", None) is not None:  # the dense index's kind and build parameters
        ident["dense"] = asdict(settings.dense)
    return hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:12]


def _write_corpus(ds: Dataset, corpus_dir: Path) -> None:
    target = corpus_dir / f"{ds.name}.jsonl"
    if target.is_file():
        return
    corpus_dir.mkdir(parents=True, exist_ok=True)
    tmp = corpus_dir / f".{ds.name}.jsonl.tmp-{os.getpid()}"  # dot files are not part of the corpus
    with open(tmp, "w", encoding="utf-8") as f:
        for doc in ds.documents:
            f.write(json.dumps({"id": doc.id, "title": doc.title or None, "text": doc.text}, ensure_ascii=False))
            f.write("\n")
    os.replace(tmp, target)


def prepare_index(ds: Dataset, settings, encoder, *, index_dir: str | Path | None = None,
                  progress: bool = True) -> Prepared:
    """Settings pointing at an up-to-date index of the dataset's documents (built once, then reused)."""
    from qa.index import build_index

    if ds.documents is None:  # the bundled collection
        index_dir = Path(index_dir or os.environ.get("QA_INDEX_DIR") or ROOT / "index")
        settings = replace(settings, corpus_dir=ROOT / "corpus", index_dir=index_dir)
        prefix = ""
    else:
        # One corpus folder per dataset content; beside it one index per (settings, indexing code) key.
        folder = cache_root() / f"{ds.name}-{ds.identity()[:12]}"
        _write_corpus(ds, folder / "corpus")
        settings = replace(settings, corpus_dir=folder / "corpus",
                           index_dir=folder / f"index-{index_key(ds, settings)}")
        prefix = f"{ds.name}#"
    report = build_index(settings, encoder=encoder, progress=progress)
    where = settings.index_dir
    if report.up_to_date:
        log.info("eval: index %s is up to date (%d articles, %d chunks)", where, report.articles, report.chunks)
    else:
        log.info("eval: indexed %d articles into %s: %d chunks, %d texts embedded in %.1f s", report.articles, where,
                 report.chunks, report.embedded_texts, report.seconds)
    return Prepared(settings, report.seconds, report.embedded_texts, report.up_to_date, prefix)


# --- per-question evaluation ----------------------------------------------------------------------------------------


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
    span_text = None
    for s in answer.sentences:
        if s.span:
            store = ctx.index.store
            article = store.article(store.article_index(s.article_id))
            span_text = article.text[s.span[0]:s.span[1]]
            break
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
    cos = np.asarray(ctx.index.sentence_vectors[rows], dtype=np.float32) @ query_vector.astype(np.float32)
    order = np.argsort(-cos, kind="stable")[:3]
    picked = [ctx.index.store.sentences(rows[i], rows[i] + 1)[0] for i in order]
    texts = [" ".join(s.text.split()) for s in picked]
    cited = [ctx.to_doc(picked[0].article_id)]
    out = _answer_metrics(ctx, q, texts, texts[0], None, cited, False)
    out.update(_answer=texts[0], _cited=cited)
    return out


def _answer_configs(ctx: _Context) -> dict:
    """The answer configurations this run can compare, as (combiner, selector): the reranker's only when it loaded."""
    from qa.answer import AnswerSelector

    reranker, selector = ctx.pipeline.reranker, ctx.pipeline.selector
    out = {}
    for name, (combiner, abstention) in ANSWER_CONFIGS.items():
        if combiner is not None and reranker is None:
            continue
        chosen = selector if abstention == selector.settings.abstention else AnswerSelector(
            selector.index, replace(selector.settings, abstention=abstention))
        out[name] = (None if combiner is None else reranker.combiners[combiner], chosen)
    return out


def _evaluate_question(ctx: _Context, q: Question, qv: np.ndarray, timed: bool = True) -> dict:
    result: dict = {}
    pipeline, k = ctx.pipeline, ctx.settings.retrieval.k
    candidates = ctx.settings.retrieval.candidates
    default_hits = None
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
            default_hits, default_ms = hits, search_ms
    if not ctx.ds.has_answers:
        return result

    t0 = time.perf_counter()
    row = _cosine_baseline(ctx, q, default_hits, qv)
    row["_ms"] = default_ms + (time.perf_counter() - t0) * 1000
    result[BASELINE] = row

    # The answer configurations share one pass of the stages (the reranker scores once); each selects with its own
    # combiner. On the latency sample each is also asked whole, as a user asks, for its time.
    configs = _answer_configs(ctx)
    hits, cands = pipeline.candidates(q.question, qv, k=k, history=q.history)
    withheld = None
    if ctx.ds.documents is not None and q.answerable:
        # The question asked with its gold paragraphs withheld from the index: unanswerable when nothing left holds
        # an answer.
        w_hits, w_cands = pipeline.candidates(q.question, qv, k=k, exclude={ctx.prefix + g for g in q.gold},
                                              history=q.history)
        if not any(M.contains_answer(s.text, q.answers) for s in w_cands.sentences):
            withheld = w_hits, w_cands
    for name, (combiner, selector) in configs.items():
        answer = selector.select(cands, hits, combiner)
        row = _from_answer(ctx, q, answer)
        if q.answerable:
            ranking = _ranked_docs(hits, ctx.to_doc)
            row["recall@1"] = M.recall_at_k(ranking, q.gold, 1)
            if q.answers:
                row["chunk_recall@5"] = float(any(M.contains_answer(h.chunk.text, q.answers) for h in hits[:5]))
            row["_top_docs"] = ranking[:3]
            row["_gold_rank"] = next((i + 1 for i, d in enumerate(ranking) if d in set(q.gold)), None)
        if withheld is not None:
            refusal = selector.select(withheld[1], withheld[0], combiner)
            row["_withheld"] = (refusal.abstained, refusal.confidence)
        if timed:
            asked = ctx.assistant.ask(q.question, fast=combiner is None, history=q.history)
            row["_ms"] = asked.timings_ms["total"]
            row["_retrieve_ms"] = asked.timings_ms["encode"] + asked.timings_ms["retrieve"]
            row["_rerank_ms"] = asked.timings_ms["rerank"]
            row["_select_ms"] = asked.timings_ms["select"]
        result[name] = row
    return result


# --- aggregation ----------------------------------------------------------------------------------------------------


def _r(x: float, digits: int = 4) -> float:
    return round(float(x), digits)


def summarize(ds: Dataset, questions: list[Question], results: list[dict], configs: list[str]) -> dict:
    """Mean of each metric over the questions it applies to, per configuration."""
    has_unanswerable = any(not q.answerable for q in questions)
    out: dict = {}
    for name in configs:
        rows = [r[name] for r in results if name in r]
        if not rows:
            continue
        m: dict = {}
        for key in METRIC_KEYS + ["hit@1_top", "span_rate"]:
            values = [row[key] for row in rows if key in row]
            if values:
                m[key] = _r(np.mean(values))
        if ds.has_answers and all("_abstained" in row for row in rows):
            ab = M.abstention_scores([bool(row.get("_abstained")) for row in rows], [q.answerable for q in questions])
            if has_unanswerable:
                m["abstain_precision"] = _r(ab["abstain_precision"])
                m["abstain_recall"] = _r(ab["abstain_recall"])
                if all("_confidence" in row for row in rows):
                    m["abstain_auroc"] = _r(M.auroc(
                        [-row["_confidence"] for row, q in zip(rows, questions) if not q.answerable],
                        [-row["_confidence"] for row, q in zip(rows, questions) if q.answerable]))
            m["wrong_abstain_rate"] = _r(ab["wrong_abstain_rate"])
        m.update(_withheld_scores(rows, questions))
        for prefix, key in (("", "_ms"), ("retrieve_", "_retrieve_ms"), ("rerank_", "_rerank_ms"),
                            ("select_", "_select_ms")):
            values = [row[key] for row in rows if key in row]
            if values and not prefix:
                m["latency_n"] = len(values)
            if values:
                m[f"{prefix}p50_ms"] = _r(M.percentile(values, 50), 2)
                m[f"{prefix}p95_ms"] = _r(M.percentile(values, 95), 2)
        ordered = {k: m[k] for k in METRIC_KEYS if k in m}
        ordered.update({k: v for k, v in m.items() if k not in ordered})
        out[name] = ordered
    return out


def _withheld_scores(rows: list[dict], questions: list[Question]) -> dict:
    """Abstention measured on the questions asked with their gold paragraph withheld (unanswerable) against the same
    questions asked normally (answerable): precision and recall at the configuration's threshold, and AUROC of its
    confidence."""
    withheld = [row["_withheld"] for row in rows if "_withheld" in row]
    if not withheld:
        return {}
    normal = [row for row, q in zip(rows, questions) if q.answerable and "_abstained" in row]
    abstained = [a for a, _ in withheld] + [bool(row["_abstained"]) for row in normal]
    ab = M.abstention_scores(abstained, [False] * len(withheld) + [True] * len(normal))
    return {"withheld_precision": _r(ab["abstain_precision"]), "withheld_recall": _r(ab["abstain_recall"]),
            "withheld_auroc": _r(M.auroc([-c for _, c in withheld], [-row["_confidence"] for row in normal])),
            "withheld_n": len(withheld)}


def recall_curves(ds: Dataset, questions: list[Question], results: list[dict], configs: list[str],
                  kmax: int) -> dict[str, list[float]]:
    """Mean Recall@k for k = 1..kmax per configuration (hit-style, or the BEIR share for graded sets)."""
    curves = {}
    for name in configs:
        total, n = np.zeros(kmax), 0
        for q, r in zip(questions, results):
            row = r.get(name)
            if row is None or "_rel_ranks" not in row:
                continue
            hits = np.zeros(kmax)
            for rank in row["_rel_ranks"]:
                if rank <= kmax:
                    hits[rank - 1] += 1
            cum = np.cumsum(hits)
            total += cum / max(row["_n_rel"], 1) if ds.graded else (cum > 0)
            n += 1
        if n:
            curves[name] = [_r(v) for v in total / n]
    return curves


# --- the run --------------------------------------------------------------------------------------------------------


@dataclass
class EvalRun:
    summary: dict
    dataset: Dataset
    questions: list[Question]
    results: list[dict]
    configs: list[str]
    curves: dict
    latencies: dict[str, list[float]]
    titles: dict[str, str]


def evaluate(dataset: str, *, data: str | Path | None = None, split: str = "all", limit: int | None = None,
             seed: int = 0, settings=None, index_dir: str | Path | None = None, progress: bool = True,
             keep_records: bool = False, latency_sample: int = LATENCY_SAMPLE):
    """Run every configuration on the (sampled) questions of a dataset; returns the summary (``--json`` object), or
    an ``EvalRun`` with the per-question records when ``keep_records``."""
    from tqdm import tqdm

    from qa.assistant import Assistant
    from qa.config import Settings
    from qa.embed import Encoder

    ds = load_dataset(dataset, data, split)
    questions = sample(ds.questions, limit, seed)
    if not questions:
        raise ValueError(f"{dataset}: no questions to ask")
    base = settings or Settings.from_env()
    base = replace(base, reranker=replace(base.reranker, enabled=True))  # every configuration is measured
    encoder = Encoder.from_settings(base)
    prepared = prepare_index(ds, base, encoder, index_dir=index_dir, progress=progress)
    settings = prepared.settings
    assistant = Assistant(settings, build_if_missing=False, progress=False, encoder=encoder)
    index = assistant.index
    counts = index.manifest["counts"]
    r = settings.retrieval
    default_config = next((name for name, (mode, fusion) in RETRIEVAL_CONFIGS.items()
                           if mode == r.mode and (fusion is None or fusion == r.fusion)), "hybrid-convex")
    deep_k = 0
    if ds.documents is not None and counts["articles"] > 20:
        per_article = counts["chunks"] / max(counts["articles"], 1)
        deep_k = min(counts["chunks"], max(150, math.ceil(100 * per_article * 1.5)))
    prefix = prepared.prefix

    def to_doc(article_id: str) -> str:
        return article_id[len(prefix):] if prefix and article_id.startswith(prefix) else article_id

    ctx = _Context(ds, assistant, index, assistant.pipeline, settings, to_doc, default_config, deep_k,
                   counts["articles"], prefix)

    with tqdm(total=len(questions), desc="Encoding questions", unit="q", disable=None if progress else True,
              file=sys.stderr) as bar:
        vectors = encoder.encode([q.question for q in questions], progress=bar.update)
    results = []
    started = time.perf_counter()
    # The whole ask (encoding included) is timed on an evenly spread sample of the questions; the other asks reuse
    # the question's vector. Answers are the same either way.
    stride = max(1, math.ceil(len(questions) / latency_sample)) if latency_sample else 0
    for i, (q, qv) in enumerate(tqdm(list(zip(questions, vectors)), desc=f"Evaluating {ds.name}", unit="q",
                                     disable=None if progress else True, file=sys.stderr)):
        results.append(_evaluate_question(ctx, q, qv, timed=bool(stride) and i % stride == 0))
    eval_seconds = time.perf_counter() - started

    configs = list(RETRIEVAL_CONFIGS) + ([BASELINE, *_answer_configs(ctx)] if ds.has_answers else [])
    summary = {
        "dataset": ds.name,
        "n": len(questions),
        "configs": summarize(ds, questions, results, configs),
    }
    groups = list(dict.fromkeys(q.group for q in questions if q.group))
    if len(groups) > 1:
        summary["splits"] = {}
        for g in groups:
            pairs = [(q, r) for q, r in zip(questions, results) if q.group == g]
            summary["splits"][g] = {"n": len(pairs), "configs": summarize(ds, [p[0] for p in pairs],
                                                                         [p[1] for p in pairs], configs)}
    kinds = list(dict.fromkeys(q.kind for q in questions))
    if len(kinds) > 1:  # the collection set: each kind of question on its own (temporal, list, ...)
        summary["kinds"] = {}
        for kind in kinds:
            pairs = [(q, r) for q, r in zip(questions, results) if q.kind == kind]
            summary["kinds"][kind] = {"n": len(pairs), "configs": summarize(ds, [p[0] for p in pairs],
                                                                           [p[1] for p in pairs], configs)}
    summary.update({
        "split": ds.split,
        "limit": limit,
        "seed": seed,
        "counts": {
            "answerable": sum(q.answerable for q in questions),
            "unanswerable": sum(not q.answerable for q in questions),
            "list": sum(q.kind == "list" for q in questions),
        },
        "default_config": default_config,
        "index": {"dir": str(settings.index_dir), "articles": counts["articles"], "chunks": counts["chunks"],
                  "sentences": counts["sentences"], "up_to_date": prepared.up_to_date,
                  "build_seconds": _r(prepared.build_seconds, 2), "deep_k": deep_k},
        "settings": {"model": settings.model, "chunking": asdict(settings.chunking),
                     "retrieval": asdict(settings.retrieval), "selector": asdict(settings.selector)},
        "eval_seconds": _r(eval_seconds, 1),
    })
    if not keep_records:
        index.close()
        return summary
    kmax = 100 if deep_k else 20
    curves = recall_curves(ds, questions, results, list(RETRIEVAL_CONFIGS) + ([FULL] if ds.has_answers else []),
                           kmax)
    latencies = {name: [r[name]["_ms"] for r in results if "_ms" in r.get(name, {})] for name in configs}
    titles = _titles(ds, index, prefix, questions, results)
    index.close()
    return EvalRun(summary, ds, questions, results, configs, curves, latencies, titles)


def _titles(ds: Dataset, index, prefix: str, questions, results) -> dict[str, str]:
    """Titles of the documents that the report names (gold ones and the top retrieved ones)."""
    wanted = {g for q in questions for g in q.gold}
    for r in results:
        for row in r.values():
            wanted.update(row.get("_top_docs", []))
            wanted.update(row.get("_cited", []))
    if ds.documents is not None:
        by_id = {d.id: d.title for d in ds.documents}
        return {d: by_id.get(d, d) for d in wanted}
    store = index.store
    out = {}
    for d in wanted:
        idx = store.article_index(prefix + d)
        out[d] = store.article(idx).title if idx is not None else d
    return out


# --- output ---------------------------------------------------------------------------------------------------------


def _fmt(key: str, value) -> str:
    if value is None:
        return "-"
    if key.endswith("_ms"):
        return f"{value:.1f}"
    return f"{value:.3f}"


def _aligned(head: list[str], rows: list[list[str]]) -> str:
    """A plain-text table: the first column left-aligned, the others right-aligned, a rule under the head."""
    widths = [max(len(r[i]) for r in [head] + rows) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
             for r in [head] + rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def format_table(configs: dict, keys: list[str] | None = None) -> str:
    keys = keys or [k for k in METRIC_KEYS if any(k in m for m in configs.values())]
    head = ["config"] + keys
    rows = [[name] + [_fmt(k, m.get(k)) for k in keys] for name, m in configs.items()]
    return _aligned(head, rows)


def _kinds_table(kinds: dict) -> str:
    names = [n for n in ANSWER_CONFIGS if any(n in k["configs"] for k in kinds.values())]
    head = ["kind", "n", *names]
    rows = []
    for kind, sub in kinds.items():
        cells = []
        for name in names:
            m = sub["configs"].get(name, {})
            if kind == "list":
                cells.append(_fmt("list_recall", m.get("list_recall")))
            elif kind == "unanswerable":
                cells.append("abstain " + _fmt("abstain_recall", m.get("abstain_recall")))
            else:
                cells.append(f"{_fmt('hit@1', m.get('hit@1'))} / {_fmt('hit@3', m.get('hit@3'))}")
        rows.append([kind, str(sub["n"]), *cells])
    return _aligned(head, rows)


def format_summary(summary: dict) -> str:
    split = f", split {summary['split']}" if summary.get("split", "all") != "all" else ""
    sampled = f", sample of {summary['limit']} with seed {summary['seed']}" if summary.get("limit") else ""
    parts = [f"{summary['dataset']}: {summary['n']} questions{split}{sampled}; index {summary['index']['articles']} "
             f"articles, {summary['index']['chunks']} chunks",
             format_table(summary["configs"])]
    for name, sub in summary.get("splits", {}).items():
        parts += ["", f"{summary['dataset']} {name} half: {sub['n']} questions", format_table(sub["configs"])]
    if summary.get("kinds"):
        parts += ["", "By kind of question (answer hit@1 / hit@3; list: list recall):", _kinds_table(summary["kinds"])]
    timed = summary["configs"].get(FULL, {}).get("latency_n")
    parts += ["", "Latency (ms): retrieval rows = search call (question already encoded)"
                  + ("; baseline-cosine = search + pick" if BASELINE in summary["configs"] else "")
                  + (f"; full = whole ask (encode + retrieve + select), timed on {timed} questions spread over the "
                     "set" if timed else "") + "."]
    return "\n".join(parts)


def run(args) -> int:
    """Entry point of ``qa eval`` (called by qa.cli with its argparse Namespace)."""
    split = getattr(args, "split", None) or os.environ.get("QA_EVAL_SPLIT") or "all"
    if args.dataset != "squad" and split != "all":
        print(f"qa eval: --split applies to squad only; ignored for {args.dataset}", file=sys.stderr)
        split = "all"
    index_dir = getattr(args, "index_dir", None)
    if index_dir and args.dataset not in ("collection", "feedback"):  # both ask the bundled corpus
        print("qa eval: --index-dir applies to the collection set only; public datasets use .cache/eval/",
              file=sys.stderr)
        index_dir = None
    if args.limit is not None and args.limit <= 0:
        print("qa eval: error: --limit must be positive", file=sys.stderr)
        return 2
    if args.data and not Path(args.data).exists():
        print(f"qa eval: error: {args.data}: not found", file=sys.stderr)
        return 1
    want_records = bool(getattr(args, "report", None))
    outcome = evaluate(args.dataset, data=args.data, split=split, limit=args.limit, seed=args.seed,
                       index_dir=index_dir, progress=True, keep_records=want_records)
    summary = outcome.summary if want_records else outcome
    if want_records:
        from .report import write_report

        write_report(Path(args.report), outcome)
        print(f"qa eval: report written to {args.report}", file=sys.stderr)
    if args.json:
        print(json.dumps(summary, ensure_ascii=False))
    else:
        print(format_summary(summary))
    return 0
