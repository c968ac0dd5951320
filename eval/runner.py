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

import json
import math
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

from .cache import prepare_index
from .configs import BASELINE, FULL, LATENCY_SAMPLE, RETRIEVAL_CONFIGS
from .datasets import Dataset, load_dataset
from .format import format_summary
from .questions import _answer_configs, _Context, _evaluate_question, sample
from .settings import EvalSettings
from .summary import EvalRun, grouped, recall_curves, rounded, summarize

def evaluate(dataset: str, *, data: str | Path | None = None, split: str = "all", limit: int | None = None,
             seed: int = 0, settings=None, index_dir: str | Path | None = None, progress: bool = True,
             keep_records: bool = False, latency_sample: int = LATENCY_SAMPLE,
             eval_settings: EvalSettings | None = None):
    """Run every configuration on the (sampled) questions of a dataset; returns the summary (``--json`` object), or
    an ``EvalRun`` with the per-question records when ``keep_records``. ``eval_settings`` (default: from the
    environment) says where the public datasets and their cached indexes are."""
    from qa.assistant import Assistant
    from qa.config import Settings
    from qa.embed import Encoder

    eval_settings = eval_settings or EvalSettings.from_env()
    ds = load_dataset(dataset, data, split, eval_settings=eval_settings)
    questions = sample(ds.questions, limit, seed)
    if not questions:
        raise ValueError(f"{dataset}: no questions to ask")
    base = settings or Settings.from_env()
    base = replace(base, reranker=replace(base.reranker, enabled=True))  # every configuration is measured
    encoder = Encoder.from_settings(base)
    prepared = prepare_index(ds, base, encoder, index_dir=index_dir, progress=progress, eval_settings=eval_settings)
    assistant = Assistant(prepared.settings, build_if_missing=False, progress=False, encoder=encoder)
    ctx = _context(ds, prepared, assistant)
    results, eval_seconds = _ask_all(ctx, questions, encoder, progress, latency_sample)
    configs = list(RETRIEVAL_CONFIGS) + ([BASELINE, *_answer_configs(ctx)] if ds.has_answers else [])
    summary = _summary(ds, questions, results, configs)
    _describe_run(summary, ctx, prepared, questions, limit=limit, seed=seed, eval_seconds=eval_seconds)
    outcome = _records(ctx, prepared, questions, results, configs, summary) if keep_records else summary
    ctx.index.close()
    return outcome


def _summary(ds: Dataset, questions, results, configs) -> dict:
    """The metrics of every configuration: on all the questions, on SQuAD's halves and on each kind of question."""
    summary = {
        "dataset": ds.name,
        "n": len(questions),
        "configs": summarize(ds, questions, results, configs),
    }
    # SQuAD's halves, and each kind of question of the collection set (temporal, list, ...), each on its own.
    for name, key in (("splits", lambda q: q.group), ("kinds", lambda q: q.kind)):
        parts = grouped(ds, questions, results, configs, key)
        if parts:
            summary[name] = parts
    return summary


def _describe_run(summary: dict, ctx: _Context, prepared, questions, *, limit: int | None, seed: int,
                  eval_seconds: float) -> None:
    """Adds what the run asked of what: the split and sample, question counts, the index and the settings, and how
    long it took."""
    settings, counts = prepared.settings, ctx.index.manifest["counts"]
    summary.update({
        "split": ctx.ds.split,
        "limit": limit,
        "seed": seed,
        "counts": {
            "answerable": sum(q.answerable for q in questions),
            "unanswerable": sum(not q.answerable for q in questions),
            "list": sum(q.kind == "list" for q in questions),
        },
        "default_config": ctx.default_config,
        "index": {"dir": str(settings.index_dir), "articles": counts["articles"], "chunks": counts["chunks"],
                  "sentences": counts["sentences"], "up_to_date": prepared.up_to_date,
                  "build_seconds": rounded(prepared.build_seconds, 2), "deep_k": ctx.deep_k},
        "settings": {"model": settings.model, "chunking": asdict(settings.chunking),
                     "retrieval": asdict(settings.retrieval), "selector": asdict(settings.selector)},
        "eval_seconds": rounded(eval_seconds, 1),
    })


def _records(ctx: _Context, prepared, questions, results, configs, summary: dict) -> EvalRun:
    """The summary with what the HTML report draws: per-question records, recall curves, latencies and titles."""
    ds = ctx.ds
    kmax = 100 if ctx.deep_k else 20
    curves = recall_curves(ds, questions, results, list(RETRIEVAL_CONFIGS) + ([FULL] if ds.has_answers else []),
                           kmax)
    latencies = {name: [r[name]["_ms"] for r in results if "_ms" in r.get(name, {})] for name in configs}
    titles = _titles(ds, ctx.index, prepared.prefix, questions, results)
    return EvalRun(summary, ds, questions, results, configs, curves, latencies, titles)


def _context(ds: Dataset, prepared, assistant) -> _Context:
    """What every question's evaluation reads: the index, the pipeline, the default retrieval configuration, how
    deep recall@100 searches, and how article ids map to the dataset's document ids."""
    index, settings, prefix = assistant.index, prepared.settings, prepared.prefix
    counts = index.manifest["counts"]
    r = settings.retrieval
    default_config = next((name for name, (mode, fusion) in RETRIEVAL_CONFIGS.items()
                           if mode == r.mode and (fusion is None or fusion == r.fusion)), "hybrid-convex")
    deep_k = 0
    if ds.documents is not None and counts["articles"] > 20:
        per_article = counts["chunks"] / max(counts["articles"], 1)
        deep_k = min(counts["chunks"], max(150, math.ceil(100 * per_article * 1.5)))

    def to_doc(article_id: str) -> str:
        return article_id[len(prefix):] if prefix and article_id.startswith(prefix) else article_id

    return _Context(ds, assistant, index, assistant.pipeline, settings, to_doc, default_config, deep_k,
                    counts["articles"], prefix)


def _ask_all(ctx: _Context, questions, encoder, progress: bool, latency_sample: int) -> tuple[list[dict], float]:
    """Every question through every configuration; the records and the seconds it took. The whole ask (encoding
    included) is timed on an evenly spread sample; the other asks reuse the question's vector (same answers)."""
    from tqdm import tqdm

    quiet = None if progress else True
    with tqdm(total=len(questions), desc="Encoding questions", unit="q", disable=quiet, file=sys.stderr) as bar:
        vectors = encoder.encode([q.question for q in questions], progress=bar.update)
    started = time.perf_counter()
    stride = max(1, math.ceil(len(questions) / latency_sample)) if latency_sample else 0
    results = [_evaluate_question(ctx, q, qv, timed=bool(stride) and i % stride == 0)
               for i, (q, qv) in enumerate(tqdm(list(zip(questions, vectors)), desc=f"Evaluating {ctx.ds.name}",
                                                unit="q", disable=quiet, file=sys.stderr))]
    return results, time.perf_counter() - started


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


def run(args) -> int:
    """Entry point of ``qa eval`` (called by qa.cli with its argparse Namespace)."""
    eval_settings = EvalSettings.from_env()  # the one read of the evaluation shell's environment
    split = getattr(args, "split", None) or eval_settings.split
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
                       index_dir=index_dir, progress=True, keep_records=want_records, eval_settings=eval_settings)
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
