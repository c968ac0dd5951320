"""The span reader marks the answer's words; it declines a sentence that does not answer and never marks words of the
wrong type (loading offline and damaged files: tests/test_models.py)."""
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from qa.answer import NO_ANSWER
from qa.lora import WEIGHTS
from qa.question import question_kind
from qa.reader import DEFAULT_DIR, SpanReader, best_span

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def reader() -> SpanReader:
    return SpanReader()


def test_adapter_is_small_and_has_a_model_card():
    assert (DEFAULT_DIR / WEIGHTS).stat().st_size < 5 * 1024 * 1024
    card = (DEFAULT_DIR / "MODEL_CARD.md").read_text()
    for needed in ("SQuAD", "seed", "qa train-reader", "held-out"):
        assert needed in card


@pytest.mark.parametrize("question, sentence, answer", [
    ("How long did Blinken meet the Chinese foreign minister?",
     "On Sunday, Mr Blinken met with the Chinese foreign minister Qin Gang for seven and a half hours.",
     "seven and a half hours"),
    ("Which non-profit organised the dialogue?",
     "The dialogue was organised by the Asia Society, a non-profit based in New York, and a Chinese institute.",
     "Asia Society"),
])
def test_marks_the_answer_words(reader, question, sentence, answer):
    span = reader.span(question_kind(question), question, sentence)
    assert span is not None and answer in sentence[span[0]:span[1]]
    assert len(sentence[span[0]:span[1]].split()) <= len(answer.split()) + 2


def test_declines_a_sentence_that_does_not_answer(reader):
    question = "How long did Blinken meet the Chinese foreign minister?"
    sentence = "The foreign ministry in Beijing published a statement on its website."
    assert reader.span(question_kind(question), question, sentence) is None


def test_never_marks_words_of_the_wrong_type(reader):
    question = "Who met Blinken in Beijing?"
    text = "On Sunday, Qin Gang met Blinken in Beijing."
    read = reader.best(question_kind(question), question, text)
    assert text[read.start:read.end] == "Qin Gang"  # a name: never "Sunday", whatever the reader's scores
    assert reader.best(question_kind(question), question, "The talks went on late into the night.") is None


def test_best_span_keeps_the_end_after_the_start_and_within_the_context():
    starts = np.array([9.0, 0.0, 0.0, 4.0, 0.0])
    ends = np.array([9.0, 0.0, 3.0, 0.0, 1.0])
    context = np.array([False, True, True, True, True])  # the first token is "no answer", never a span
    assert best_span(starts, ends, context, max_tokens=30) == (3, 4, 5.0)  # not (3, 2): its end is before its start
    assert best_span(starts, ends, context, max_tokens=1) == (3, 3, 4.0)


def test_the_assistant_marks_spans_with_the_reader_unless_fast(assistant, monkeypatch):
    assert assistant.reader is not None
    selector = assistant.pipeline.selector
    # a low share to keep, so that further sentences qualify: the reader, sure of the answer, quotes its sentence alone
    monkeypatch.setattr(selector, "settings", replace(selector.settings, keep_ratio=0.5))
    question = "On which social network did Biden post about his meetings with Xi?"
    read, fast = assistant.ask(question), assistant.ask(question, fast=True)
    assert read.sentences[0].span_text.split()[0] == "X"  # "X social network"
    assert len(read.sentences) == 1 < len(fast.sentences)  # sure of the answer: its sentence alone, no padding
    assert fast.sentences[0].span_text is None  # a "which" question: no typed rule


@pytest.mark.parametrize("question", [
    "Which State Department spokesperson said Qin Gang accepted the invitation to Washington?",
    "Counting from Biden's inauguration, which meeting between the Chinese and US presidents was the San Francisco "
    "summit?",
])
def test_a_sentence_the_reader_finds_no_answer_in_is_not_quoted_after_the_lead(assistant, monkeypatch, question):
    selector, reader = assistant.pipeline.selector, assistant.reader
    floor = selector.settings.reader_quote_floor
    answer = assistant.ask(question)
    for sentence in answer.sentences[1:]:
        read = reader.best(question_kind(question), question, sentence.text)
        assert read is not None and read.margin > floor
    # with no quote floor a further sentence is quoted, one in which the reader finds no likely answer
    monkeypatch.setattr(selector, "settings", replace(selector.settings, reader_quote_floor=-1e9))
    padded = assistant.ask(question)
    assert len(padded.sentences) > len(answer.sentences)
    reads = [reader.best(question_kind(question), question, s.text) for s in padded.sentences[1:]]
    assert any(read is None or read.margin <= floor for read in reads)


def test_the_sentence_the_reader_can_answer_from_leads(assistant):
    # the fast score puts another sentence of the same talks first; the reader, reading the best three, is sure of
    # this one
    question = "How long did Wang Yi talk with Antony Blinken?"
    read, fast = assistant.ask(question), assistant.ask(question, fast=True)
    assert "more than three hours" not in fast.sentences[0].text
    assert read.sentences[0].span_text == "more than three hours"


@pytest.mark.parametrize("question", [
    "What tariff did Washington put on Chinese steel at the Busan meeting?",
    "How much was trade in goods between China and the US worth in 2023?",
])
def test_a_near_miss_the_reader_finds_no_answer_to_is_refused(assistant, monkeypatch, question):
    # the collection's own people and events, a detail it does not state: the evidence is middling, and the reader
    # finds no answer in any sentence it reads
    answer, fast = assistant.ask(question), assistant.ask(question, fast=True)
    selector = assistant.pipeline.selector
    assert answer.abstained and answer.answer == NO_ANSWER and answer.confidence < 0.5
    assert answer.sentences  # a refusal still shows the closest passages
    assert not fast.abstained  # the evidence alone would have answered
    monkeypatch.setattr(selector, "settings", replace(selector.settings, reader_abstain_evidence=0.0))
    assert not assistant.ask(question).abstained


def test_a_which_question_for_one_thing_is_read_not_gathered_as_a_list(assistant):
    # "which city was" is no plural: the reader reads it, and the caption's place ("..., New York, U.S., January 8,
    # 2024") is a place, so its sentence is quoted alone with the city marked
    answer = assistant.ask("In which city was a China-U.S. Track 1.5 Dialogue panel discussion held in January 2024?")
    assert [s.span_text for s in answer.sentences] == ["New York"]
