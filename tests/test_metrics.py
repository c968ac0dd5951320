"""Tests for eval.metrics on hand-worked examples, and a validation of eval/sets/collection.jsonl."""
from __future__ import annotations

import json
import math
import sys
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from eval.metrics import (  # noqa: E402
    abstention_scores,
    beir_recall_at_k,
    contains_answer,
    exact_match,
    f1_score,
    list_recall,
    mrr_at_k,
    ndcg_at_k,
    normalize_answer,
    percentile,
    recall_at_k,
    straighten_quotes,
)

# --- SQuAD normalisation, EM, F1 ------------------------------------------------------------------------------------


def test_normalize_answer_case_punctuation_articles_whitespace():
    assert normalize_answer("The  Cat's, HAT!") == "cats hat"
    assert normalize_answer("An apple a day") == "apple day"
    assert normalize_answer("  Busan\n\t") == "busan"
    assert normalize_answer("theatre then") == "theatre then"  # articles only as whole words
    assert normalize_answer("Nov. 24") == "nov 24"
    assert normalize_answer("") == ""


def test_normalize_answer_curly_quotes():
    assert straighten_quotes("\u2018a\u2019 \u201cb\u201d") == "'a' \"b\""
    assert normalize_answer("America\u2019s \u201cwrong perception\u201d") == normalize_answer("America's \"wrong perception\"")
    assert normalize_answer("America\u2019s") == "americas"


def test_exact_match():
    assert exact_match("The Cat.", ["cat"]) == 1.0
    assert exact_match("cat sat", ["dog", "cat"]) == 0.0
    assert exact_match("cat", ["dog", "a cat"]) == 1.0
    assert exact_match("cat", []) == 0.0


def test_f1_hand_worked():
    # "the cat sat" -> [cat, sat]; "cat sat down" -> [cat, sat, down]; common = 2
    # P = 2/2 = 1, R = 2/3, F1 = 2 * 1 * 2/3 / (1 + 2/3) = (4/3) / (5/3) = 0.8
    assert f1_score("the cat sat", ["cat sat down"]) == pytest.approx(0.8)
    # "a big red dog" -> [big, red, dog]
    #   vs "red dog barks": common 2, P = 2/3, R = 2/3 -> F1 = 2/3
    #   vs "small dog":     common 1, P = 1/3, R = 1/2 -> F1 = 2 * (1/6) / (5/6) = 0.4
    # max = 2/3
    assert f1_score("a big red dog", ["red dog barks", "small dog"]) == pytest.approx(2 / 3)
    # "dog dog dog" vs "dog": common = min(3, 1) = 1, P = 1/3, R = 1 -> F1 = 2 * (1/3) / (4/3) = 0.5
    assert f1_score("dog dog dog", ["dog"]) == pytest.approx(0.5)
    assert f1_score("cat", ["dog"]) == 0.0
    assert f1_score("cat", []) == 0.0
    assert f1_score("The Cat!", ["cat"]) == 1.0


def test_contains_answer_token_boundaries():
    assert contains_answer("Ties were established in 1979.", ["1979"])
    assert not contains_answer("Some 19790 units", ["1979"])
    assert contains_answer("In the year 1979 ties began", ["year 1979"])
    assert contains_answer("Premier Chen Chien-jen said", ["Chen Chien-jen"])
    assert contains_answer("America\u2019s \u201cwrong perception\u201d", ["America's wrong perception"])
    # a possessive's "'s" is no part of the name: "Nancy Pelosi's visit" names Nancy Pelosi
    assert contains_answer("after Nancy Pelosi\u2019s visit to Taiwan", ["Nancy Pelosi"])
    assert contains_answer("the visit of Nancy Pelosi", ["Nancy Pelosi's"])
    assert not contains_answer("Pelosis and others", ["Pelosi"])
    assert contains_answer("met in Busan", ["Seoul", "Busan"])
    assert not contains_answer("met in Busan", [])
    assert not contains_answer("the meeting", ["the"])  # a gold that normalises to nothing never matches
    assert not contains_answer("sat cat", ["cat sat"])  # order matters


# --- ranking metrics ----------------------------------------------------------------------------------------------


def test_recall_at_k_hit_style():
    assert recall_at_k(["a", "b", "c"], ["c"], 2) == 0.0
    assert recall_at_k(["a", "b", "c"], ["c"], 3) == 1.0
    assert recall_at_k(["a", "b", "c"], ["c", "a"], 1) == 1.0
    assert recall_at_k(["a", "a", "c"], ["c"], 2) == 1.0  # duplicates ignored: ranking is [a, c]
    assert recall_at_k(["a"], [], 5) == 0.0


def test_beir_recall_at_k():
    qrels = {"d1": 2, "d2": 1, "d4": 1, "d5": 0}  # relevant: d1, d2, d4 (d5 has grade 0)
    assert beir_recall_at_k(["d3", "d1", "d2"], qrels, 2) == pytest.approx(1 / 3)  # d1 found
    assert beir_recall_at_k(["d3", "d1", "d2"], qrels, 3) == pytest.approx(2 / 3)  # d1, d2 found
    assert beir_recall_at_k(["d5", "d4", "d2", "d1"], qrels, 10) == 1.0
    assert beir_recall_at_k(["d1"], {"d1": 0}, 10) == 0.0  # nothing relevant


def test_mrr_at_k():
    assert mrr_at_k(["x", "y", "g"], ["g"]) == pytest.approx(1 / 3)
    assert mrr_at_k(["x", "y", "g"], ["g"], k=2) == 0.0
    assert mrr_at_k(["g", "h"], ["h", "g"]) == 1.0
    assert mrr_at_k(["x", "x", "g"], ["g"]) == pytest.approx(1 / 2)  # duplicate x ignored


def test_ndcg_graded_hand_worked():
    qrels = {"d1": 2, "d2": 1, "d4": 1}
    # ranking [d3, d1, d2]: gains 0, 2, 1
    # DCG  = 0/log2(2) + 2/log2(3) + 1/log2(4) = 0 + 1.2618595 + 0.5 = 1.7618595
    # IDCG = 2/log2(2) + 1/log2(3) + 1/log2(4) = 2 + 0.6309298 + 0.5 = 3.1309298   (ideal: d1, d2/d4, d4/d2)
    # nDCG = 1.7618595 / 3.1309298 = 0.562727
    assert ndcg_at_k(["d3", "d1", "d2"], qrels, k=10) == pytest.approx(0.562727, abs=1e-6)
    assert ndcg_at_k(["d1", "d2", "d4"], qrels, k=10) == pytest.approx(1.0)
    # k=2: DCG = 2/log2(3) = 1.2618595; IDCG@2 = 2 + 1/log2(3) = 2.6309298 -> 0.479625
    assert ndcg_at_k(["d3", "d1", "d2"], qrels, k=2) == pytest.approx(0.479625, abs=1e-6)
    assert ndcg_at_k(["d3", "d1"], qrels, k=1) == 0.0


def test_ndcg_linear_gain_and_edge_cases():
    # ranking [b, a] with {a: 3, b: 1}: DCG = 1/1 + 3/log2(3) = 2.892789; IDCG = 3/1 + 1/log2(3) = 3.630930
    # linear gain -> 0.796707 (exponential 2^g-1 gain would give 0.709810)
    assert ndcg_at_k(["b", "a"], {"a": 3, "b": 1}) == pytest.approx(0.796707, abs=1e-6)
    # duplicates after the first occurrence are ignored: [d1, d1, d2] scores like [d1, d2], the ideal ranking
    assert ndcg_at_k(["d1", "d1", "d2"], {"d1": 2, "d2": 1}) == pytest.approx(1.0)
    assert ndcg_at_k(["d1"], {"d1": 0}) == 0.0
    assert ndcg_at_k([], {"d1": 1}) == 0.0
    assert math.isclose(ndcg_at_k(["d1"], {}), 0.0)


# --- list recall, abstention, percentile ----------------------------------------------------------------------------


def test_list_recall():
    sentences = ["They restored communication channels.", "Military contacts resumed."]
    facts = ["communication channels", "military contacts", "counter narcotics"]
    assert list_recall(sentences, facts) == pytest.approx(2 / 3)
    assert list_recall(["The talks ended in San", "Francisco late."], ["San Francisco"]) == 1.0  # concatenation
    assert list_recall([], ["x"]) == 0.0
    assert list_recall(["anything"], []) == 0.0


def test_abstention_scores_mixed():
    # q0 unanswerable+abstained (right), q1 answerable+abstained (wrong), q2 unanswerable+answered, q3 fine
    s = abstention_scores([True, True, False, False], [False, True, False, True])
    assert s == {"abstain_precision": 0.5, "abstain_recall": 0.5, "wrong_abstain_rate": 0.5}


def test_abstention_scores_edge_cases():
    # no abstentions, nothing unanswerable: nothing to get wrong
    assert abstention_scores([False, False], [True, True]) == {
        "abstain_precision": 1.0, "abstain_recall": 1.0, "wrong_abstain_rate": 0.0}
    # no abstentions although some questions were unanswerable
    assert abstention_scores([False, False], [False, True]) == {
        "abstain_precision": 0.0, "abstain_recall": 0.0, "wrong_abstain_rate": 0.0}
    # every question unanswerable and abstained on; no answerable questions
    assert abstention_scores([True, True], [False, False]) == {
        "abstain_precision": 1.0, "abstain_recall": 1.0, "wrong_abstain_rate": 0.0}
    # abstained on everything: 1 of 3 abstentions right
    assert abstention_scores([True, True, True], [False, True, True]) == pytest.approx(
        {"abstain_precision": 1 / 3, "abstain_recall": 1.0, "wrong_abstain_rate": 1.0})
    assert abstention_scores([], []) == {"abstain_precision": 1.0, "abstain_recall": 1.0, "wrong_abstain_rate": 0.0}
    with pytest.raises(ValueError):
        abstention_scores([True], [True, False])


def test_percentile_linear():
    assert percentile([1, 2, 3, 4], 50) == pytest.approx(2.5)
    assert percentile([4, 1, 3, 2], 90) == pytest.approx(3.7)  # position 0.9 * 3 = 2.7 -> 3 + 0.7 * (4 - 3)
    assert percentile([5.0], 99) == 5.0
    assert percentile([1, 2, 3], 0) == 1.0
    assert math.isnan(percentile([], 50))


# --- the hand-written question set ------------------------------------------------------------------------------------

COLLECTION = ROOT / "eval" / "sets" / "collection.jsonl"
FRESH_SETS = [ROOT / "eval" / "sets" / name for name in ("temporal_fresh.jsonl", "temporal_fresh2.jsonl")]
CONVERSATIONS = [ROOT / "eval" / "sets" / name
                 for name in ("conversation.jsonl", "conversation_fresh.jsonl", "conversation_fresh2.jsonl",
                              "conversation_fresh3.jsonl", "conversation_fresh4.jsonl", "conversation_fresh5.jsonl")]
CORPUS = ROOT / "corpus"
KINDS_MINIMUM = {"factoid": 12, "list": 12, "paraphrase": 10, "temporal": 20, "unanswerable": 12}


def _match_form(s: str) -> str:
    """Lowercase, straight quotes, collapsed whitespace: the form in which answers must occur in gold articles."""
    return " ".join(straighten_quotes(s).lower().split())


def _load_collection(path: Path = COLLECTION) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def test_collection_schema_and_counts():
    items = _load_collection()
    article_ids = {p.stem for p in CORPUS.glob("*.txt")}
    assert len(items) >= 64
    assert len({q["id"] for q in items}) == len(items)
    assert len({q["question"].strip().lower() for q in items}) == len(items)
    for q in items:
        assert set(q) == {"id", "question", "answers", "articles", "kind"}, q["id"]
        assert isinstance(q["question"], str) and q["question"].strip().endswith("?"), q["id"]
        assert q["kind"] in KINDS_MINIMUM, q["id"]
        assert all(isinstance(a, str) and a.strip() for a in q["answers"]), q["id"]
        assert set(q["articles"]) <= article_ids, q["id"]
        if q["kind"] == "unanswerable":
            assert q["answers"] == [] and q["articles"] == [], q["id"]
        else:
            assert q["answers"] and q["articles"], q["id"]
            assert all(1 <= len(a.split()) <= 6 for a in q["answers"]), q["id"]
        if q["kind"] == "list":
            assert len(q["answers"]) >= 2, q["id"]
    kinds = Counter(q["kind"] for q in items)
    for kind, minimum in KINDS_MINIMUM.items():
        assert kinds[kind] >= minimum, kind
    gold_counts = Counter(a for q in items for a in q["articles"])
    for article_id in article_ids:
        assert gold_counts[article_id] >= 5, article_id


@pytest.mark.parametrize("path", [COLLECTION, *FRESH_SETS, *CONVERSATIONS], ids=lambda p: p.name)
def test_collection_answers_occur_in_gold_articles(path):
    texts = {p.stem: _match_form(p.read_text(encoding="utf-8")) for p in CORPUS.glob("*.txt")}
    missing = [(q["id"], a) for q in _load_collection(path) for a in q["answers"]
               if not any(_match_form(a) in texts[art] for art in q["articles"])]
    assert missing == []


@pytest.mark.parametrize("path", FRESH_SETS, ids=lambda p: p.name)
def test_fresh_temporal_set_schema(path):
    items = _load_collection(path)
    assert len(items) >= 20 and len({q["id"] for q in items}) == len(items)
    assert all(q["kind"] == "temporal" and q["answers"] and q["articles"] for q in items)


@pytest.mark.parametrize("path", CONVERSATIONS, ids=lambda p: p.name)
def test_conversation_sets_schema(path):
    items = _load_collection(path)
    assert len(items) >= 20 and len({q["id"] for q in items}) == len(items)
    for q in items:
        assert set(q) == {"id", "history", "question", "answers", "articles", "kind"}, q["id"]
        assert q["history"] and all(isinstance(h, str) and h.endswith("?") for h in q["history"]), q["id"]
        assert q["answers"] and q["articles"] and q["question"].endswith("?"), q["id"]
