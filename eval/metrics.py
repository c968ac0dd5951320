"""Pure evaluation metrics for answers, retrieval rankings and abstention.

Answer metrics follow the official SQuAD v1.1 script; ranking metrics follow BEIR / pytrec_eval conventions.
Ranked id lists are de-duplicated (first occurrence kept) before the cut-off ``k`` is applied.
"""
from __future__ import annotations

import math
import re
import string
from collections import Counter
from typing import Hashable, Iterable, Mapping, Sequence

import numpy as np

_QUOTES = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
})
_PUNCTUATION = set(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_POSSESSIVE = re.compile(r"(?<=\w)'s\b", re.IGNORECASE)


def straighten_quotes(s: str) -> str:
    """Map curly single/double quotes (and primes) to their straight ASCII forms."""
    return s.translate(_QUOTES)


def normalize_answer(s: str) -> str:
    """SQuAD v1.1 normalisation after straightening quotes: lowercase, drop punctuation, articles, extra spaces."""
    s = straighten_quotes(s).lower()
    s = "".join(ch for ch in s if ch not in _PUNCTUATION)
    s = _ARTICLES.sub(" ", s)
    return " ".join(s.split())


def _f1_single(prediction: str, gold: str) -> float:
    pred_tokens = normalize_answer(prediction).split()
    gold_tokens = normalize_answer(gold).split()
    num_same = sum((Counter(pred_tokens) & Counter(gold_tokens)).values())
    if num_same == 0:
        return 0.0
    precision = num_same / len(pred_tokens)
    recall = num_same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def exact_match(prediction: str, golds: Sequence[str]) -> float:
    """1.0 if the normalised prediction equals any normalised gold, else 0.0 (0.0 when there are no golds)."""
    pred = normalize_answer(prediction)
    return float(any(pred == normalize_answer(g) for g in golds))


def f1_score(prediction: str, golds: Sequence[str]) -> float:
    """Maximum SQuAD token-level F1 of the prediction over the golds (0.0 when there are no golds)."""
    return max((_f1_single(prediction, g) for g in golds), default=0.0)


def _contains_tokens(haystack: list[str], needle: list[str]) -> bool:
    n = len(needle)
    return any(haystack[i:i + n] == needle for i in range(len(haystack) - n + 1))


def _answer_tokens(s: str) -> list[str]:
    """Normalised tokens with a possessive's "'s" dropped first: dropping only its apostrophe would make "Pelosi's"
    the token "pelosis", and a sentence naming "Nancy Pelosi's visit" would not hold the answer "Nancy Pelosi"."""
    return normalize_answer(_POSSESSIVE.sub("", straighten_quotes(s))).split()


def contains_answer(text: str, golds: Iterable[str]) -> bool:
    """True if some gold's normalised token sequence occurs contiguously in the normalised text.

    Matching is on whole tokens, so "1979" does not match "19790"; a possessive "'s" is no part of its word. Golds
    that normalise to nothing are ignored.
    """
    tokens = _answer_tokens(text)
    for gold in golds:
        gold_tokens = _answer_tokens(gold)
        if gold_tokens and _contains_tokens(tokens, gold_tokens):
            return True
    return False


def _dedupe(ranked_ids: Iterable[Hashable]) -> list[Hashable]:
    seen: set[Hashable] = set()
    out = []
    for doc_id in ranked_ids:
        if doc_id not in seen:
            seen.add(doc_id)
            out.append(doc_id)
    return out


def recall_at_k(ranked_ids: Sequence[Hashable], gold_ids: Iterable[Hashable], k: int) -> float:
    """Hit-style recall: 1.0 if any gold id is among the top k, else 0.0 (0.0 when there are no golds)."""
    gold = set(gold_ids)
    return float(any(doc_id in gold for doc_id in _dedupe(ranked_ids)[:k]))


def beir_recall_at_k(ranked_ids: Sequence[Hashable], qrels: Mapping[Hashable, float], k: int) -> float:
    """BEIR / pytrec_eval recall: |relevant (grade > 0) in top k| / |relevant|; 0.0 when nothing is relevant."""
    relevant = {doc_id for doc_id, grade in qrels.items() if grade > 0}
    if not relevant:
        return 0.0
    found = sum(1 for doc_id in _dedupe(ranked_ids)[:k] if doc_id in relevant)
    return found / len(relevant)


def mrr_at_k(ranked_ids: Sequence[Hashable], gold_ids: Iterable[Hashable], k: int = 10) -> float:
    """Reciprocal rank of the first gold id within the top k, else 0.0."""
    gold = set(gold_ids)
    for rank, doc_id in enumerate(_dedupe(ranked_ids)[:k], start=1):
        if doc_id in gold:
            return 1.0 / rank
    return 0.0


def ndcg_at_k(ranked_ids: Sequence[Hashable], qrels: Mapping[Hashable, float], k: int = 10) -> float:
    """nDCG@k as pytrec_eval's ndcg_cut: linear gain grade / log2(rank + 1), ideal DCG from all judged grades.

    Unjudged ids have grade 0 and negative grades count as 0. Returns 0.0 when no document is relevant.
    """
    gains = {doc_id: max(float(grade), 0.0) for doc_id, grade in qrels.items()}
    dcg = sum(gains.get(doc_id, 0.0) / math.log2(rank + 1)
              for rank, doc_id in enumerate(_dedupe(ranked_ids)[:k], start=1))
    ideal = sorted(gains.values(), reverse=True)[:k]
    idcg = sum(g / math.log2(rank + 1) for rank, g in enumerate(ideal, start=1))
    return dcg / idcg if idcg > 0 else 0.0


def list_recall(answer_texts: Sequence[str], facts: Sequence[str]) -> float:
    """Share of facts contained in any answer sentence or in their concatenation; 0.0 when there are no facts."""
    if not facts:
        return 0.0
    texts = list(answer_texts) + [" ".join(answer_texts)]
    covered = sum(1 for fact in facts if any(contains_answer(t, [fact]) for t in texts))
    return covered / len(facts)


def abstention_scores(abstained: Sequence[bool], answerable: Sequence[bool]) -> dict[str, float]:
    """Precision/recall of abstaining on unanswerable questions, and the rate of abstaining on answerable ones.

    Edge cases: with no abstentions, precision is 1.0 if there were no unanswerable questions, else 0.0;
    with no unanswerable questions, recall is 1.0; with no answerable questions, wrong_abstain_rate is 0.0.
    """
    if len(abstained) != len(answerable):
        raise ValueError("abstained and answerable must have the same length")
    n_abstain = sum(1 for a in abstained if a)
    n_unanswerable = sum(1 for ok in answerable if not ok)
    n_answerable = len(answerable) - n_unanswerable
    right = sum(1 for a, ok in zip(abstained, answerable) if a and not ok)
    wrong = n_abstain - right
    if n_abstain:
        precision = right / n_abstain
    else:
        precision = 1.0 if n_unanswerable == 0 else 0.0
    return {
        "abstain_precision": precision,
        "abstain_recall": right / n_unanswerable if n_unanswerable else 1.0,
        "wrong_abstain_rate": wrong / n_answerable if n_answerable else 0.0,
    }


def auroc(positive: Sequence[float], negative: Sequence[float]) -> float:
    """Area under the ROC curve: the chance that a random positive scores above a random negative (ties count half);
    NaN when either side is empty."""
    pos, neg = np.asarray(positive, dtype=float), np.asarray(negative, dtype=float)
    if not len(pos) or not len(neg):
        return float("nan")
    ranks = _average_ranks(np.concatenate([pos, neg]))
    return float((ranks[:len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def _average_ranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks with ties given their mean rank (the Mann-Whitney convention)."""
    order = np.argsort(x, kind="stable")
    ranks = np.empty(len(x))
    ranks[order] = np.arange(1, len(x) + 1)
    _, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    return (sums / counts)[inverse]


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (0-100) with linear interpolation, as numpy computes it; NaN for no values."""
    if len(values) == 0:
        return float("nan")
    return float(np.percentile(np.asarray(values, dtype=float), p, method="linear"))
