"""The configurations ``qa eval`` compares, and the metric columns it reports, in their order."""
from __future__ import annotations

RETRIEVAL_CONFIGS = {  # name: (mode, fusion)
    "bm25": ("bm25", None),
    "dense": ("dense", None),
    "hybrid-rrf": ("hybrid", "rrf"),
    "hybrid-convex": ("hybrid", "convex"),
}
BASELINE, FAST, READER, CROSS, FULL, CALIBRATED = ("baseline-cosine", "fast", "reader", "cross-encoder", "full",
                                                    "full-calibrated")
# name: (the reranker's combiner, None for the fast score; the selector's abstention rule; whether the span reader
# marks the answer's words, else the typed rules). "fast" is --fast; "reader" is the default assistant.
ANSWER_CONFIGS = {FAST: (None, "evidence", False), READER: (None, "evidence", True),
                  CROSS: ("cross-encoder", "evidence", True), FULL: ("full", "evidence", True),
                  CALIBRATED: ("full", "calibrated", True)}
METRIC_KEYS = ["recall@1", "recall@5", "recall@20", "recall@100", "chunk_recall@5", "mrr@10", "ndcg@10", "hit@1",
               "hit@3", "em", "f1", "noise", "list_recall", "citation_precision", "abstain_precision",
               "abstain_recall", "wrong_abstain_rate", "abstain_auroc", "withheld_precision", "withheld_recall",
               "withheld_auroc", "p50_ms", "p95_ms"]
CURVE_K = (1, 2, 3, 5, 10, 20, 50, 100)
LATENCY_SAMPLE = 200  # questions on which the full ask (encoding included) is timed
