"""The pieces of ``qa train-reader`` that decide what it learns and what it marks: where an answer is in a sentence,
which tokens carry it, and the margin chosen on the fit questions."""
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from eval.train_reader import MAX_LENGTH, choose_margin, locate, no_answer_texts, token_labels  # noqa: E402


def test_locate_finds_whole_words_exact_case_first():
    text = "In 2012 the Vostok station, not vostok lake, drilled 20120 metres."
    assert text[slice(*locate(text, ["Vostok"]))] == "Vostok" and locate(text, ["Vostok"])[0] == 12
    assert locate(text, ["2012"]) == (3, 7)  # not inside "20120"
    assert locate(text, ["Lake Baikal", "VOSTOK LAKE"]) == (32, 43)  # any case when no exact match
    assert locate(text, ["Baikal"]) is None


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    from qa.config import DEFAULT_MODEL
    from qa.embed import resolve_model

    return AutoTokenizer.from_pretrained(resolve_model(DEFAULT_MODEL))


def test_token_labels_cover_the_answer_and_point_at_the_first_token_for_none(tokenizer):
    from qa.lora import tokenize_pairs

    question, text = "How long did they meet?", "They met for seven and a half hours on Sunday."
    span = locate(text, ["seven and a half hours"])
    enc = tokenize_pairs(tokenizer, [question, question], [text, text], MAX_LENGTH, return_offsets_mapping=True)
    first, last = token_labels(enc, 0, span)
    tokens = enc["input_ids"][0][first:last + 1].tolist()
    assert tokenizer.decode(tokens) == "seven and a half hours"
    assert token_labels(enc, 1, None) == (0, 0)


def test_the_margin_marks_spans_while_they_are_more_often_right_than_wrong():
    rows = [(3.0, True), (2.5, True), (2.0, False), (1.5, True), (1.2, True), (1.0, False), (0.5, False)]
    margin, report = choose_margin(rows)
    assert margin == 1.2  # 4 right, 1 wrong from it up; lower margins only add wrong ones
    assert report["marked"] == 5 and report["em_of_marked"] == 0.8


def test_no_answer_sentences_are_the_pipelines_confusions_then_the_gold_paragraphs_neighbours():
    answers = ["Denver Broncos"]
    ranked = ["The Denver Broncos won Super Bowl 50.", "Carolina lost.", "Carolina lost.", "Levi's Stadium hosted.",
              "Peyton Manning retired."]
    paragraph = ["Levi's Stadium hosted.", "It was played in February.", "The MVP was Von Miller."]
    # the sentence holding the answer is never a negative, nor one sentence twice
    assert no_answer_texts(ranked, paragraph, answers, 2, 0) == ["Carolina lost.", "Levi's Stadium hosted."]
    # the paragraph's neighbours come after, in its order, skipping one already taken
    assert no_answer_texts(ranked, paragraph, answers, 2, 1) == ["Carolina lost.", "Levi's Stadium hosted.",
                                                                  "It was played in February."]
    assert no_answer_texts(ranked, paragraph, answers, 0, 5) == paragraph
