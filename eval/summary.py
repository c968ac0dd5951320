"""Per-question records into the figures ``qa eval`` reports: means per configuration, abstention scores, Recall@k
curves."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import metrics as M
from .configs import METRIC_KEYS
from .datasets import Dataset, Question


def rounded(x: float, digits: int = 4) -> float:
    """A figure as reported: rounded, a plain float."""
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
                m[key] = rounded(np.mean(values))
        if ds.has_answers and all("_abstained" in row for row in rows):
            ab = M.abstention_scores([bool(row.get("_abstained")) for row in rows], [q.answerable for q in questions])
            if has_unanswerable:
                m["abstain_precision"] = rounded(ab["abstain_precision"])
                m["abstain_recall"] = rounded(ab["abstain_recall"])
                if all("_confidence" in row for row in rows):
                    m["abstain_auroc"] = rounded(M.auroc(
                        [-row["_confidence"] for row, q in zip(rows, questions) if not q.answerable],
                        [-row["_confidence"] for row, q in zip(rows, questions) if q.answerable]))
            m["wrong_abstain_rate"] = rounded(ab["wrong_abstain_rate"])
        m.update(_withheld_scores(rows, questions))
        for prefix, key in (("", "_ms"), ("retrieve_", "_retrieve_ms"), ("rerank_", "_rerank_ms"),
                            ("select_", "_select_ms")):
            values = [row[key] for row in rows if key in row]
            if values and not prefix:
                m["latency_n"] = len(values)
            if values:
                m[f"{prefix}p50_ms"] = rounded(M.percentile(values, 50), 2)
                m[f"{prefix}p95_ms"] = rounded(M.percentile(values, 95), 2)
        ordered = {k: m[k] for k in METRIC_KEYS if k in m}
        ordered.update({k: v for k, v in m.items() if k not in ordered})
        out[name] = ordered
    return out


def grouped(ds: Dataset, questions: list[Question], results: list[dict], configs: list[str], key) -> dict:
    """``summarize`` per group of questions (``key(question)``), when there are several groups; else nothing."""
    groups = list(dict.fromkeys(key(q) for q in questions if key(q)))
    if len(groups) < 2:
        return {}
    out = {}
    for g in groups:
        pairs = [(q, r) for q, r in zip(questions, results) if key(q) == g]
        out[g] = {"n": len(pairs), "configs": summarize(ds, [q for q, _ in pairs], [r for _, r in pairs], configs)}
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
    return {"withheld_precision": rounded(ab["abstain_precision"]), "withheld_recall": rounded(ab["abstain_recall"]),
            "withheld_auroc": rounded(M.auroc([-c for _, c in withheld], [-row["_confidence"] for row in normal])),
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
            curves[name] = [rounded(v) for v in total / n]
    return curves


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
