"""Thumbs up/down on answers in a local JSONL file (qa/feedback.py), and the ``feedback`` eval dataset made of them
(eval/datasets.py), on real files."""
from __future__ import annotations

import json
import logging
import threading
from datetime import datetime
from pathlib import Path

import pytest

from eval.datasets import load_dataset, load_feedback
from qa.config import Settings
from qa.feedback import MAX_NOTE, FeedbackError, feedback_path, read, record
from qa.types import Answer, AnswerSentence, Citation


def _answer(question: str, cited: list[str], text: str = "They agreed to resume military talks.",
            abstained: bool = False) -> dict:
    """A real ``Answer.to_json()`` object quoting ``text`` from the first of ``cited``."""
    sentences = [AnswerSentence(text, 1, cited[0], 10, 10 + len(text), 0.8, None, "2023-11-16", "meta")]
    citations = [Citation(n, a, f"Title of {a}", "2023-11-16", "meta", "News.Az", f"corpus/{a}.txt", text, 0, 50)
                 for n, a in enumerate(cited, start=1)]
    return Answer(question, "no answer" if abstained else f"{text} [1]", abstained, 0.7, sentences, citations,
                  {"total": 12.0}).to_json()


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").split("\n")


# --- where the file is ------------------------------------------------------------------------------------------------


def test_the_file_is_beside_the_index_folder_unless_the_environment_names_one(tmp_path, monkeypatch):
    monkeypatch.delenv("QA_FEEDBACK", raising=False)
    assert feedback_path(Settings(index_dir=tmp_path / "data" / "index")) == tmp_path / "data" / "feedback.jsonl"
    monkeypatch.setenv("QA_FEEDBACK", str(tmp_path / "elsewhere" / "ratings.jsonl"))
    assert feedback_path(Settings.from_env(index_dir=tmp_path / "index")) == tmp_path / "elsewhere" / "ratings.jsonl"


# --- writing and reading ----------------------------------------------------------------------------------------------


def test_a_record_is_one_json_line_with_the_answer_as_the_cli_prints_it(tmp_path):
    path = tmp_path / "new" / "folder" / "feedback.jsonl"  # the parent folder is made
    answer = _answer("What was agreed in San Francisco?", ["001_cd19cef5703942ac"])
    got = record(path, question="  What was agreed   in San Francisco? ", answer=answer, rating="UP",
                 note="spot on", history=["Who met in Woodside?"])
    record(path, question="Who is Qin Gang?", answer=_answer("Who is Qin Gang?", ["004_853fa212cfd9642b"]),
           rating="down")

    lines = _lines(path)
    assert len(lines) == 3 and lines[2] == ""  # two whole lines, each ended
    first = json.loads(lines[0])
    assert first == got
    assert set(first) == {"time", "question", "rating", "note", "history", "answer"}
    assert first["question"] == "What was agreed in San Francisco?" and first["rating"] == "up"
    assert first["note"] == "spot on" and first["history"] == ["Who met in Woodside?"]
    assert first["answer"] == answer
    stamp = datetime.fromisoformat(first["time"])
    assert stamp.utcoffset().total_seconds() == 0 and stamp.microsecond == 0
    records, problems = read(path)
    assert [r["rating"] for r in records] == ["up", "down"] and problems == []
    assert records[1]["note"] is None and records[1]["history"] is None


@pytest.mark.parametrize("fields, message", [
    ({"rating": "meh"}, "rating: must be 'up' or 'down', not 'meh'"),
    ({"rating": None}, "rating: must be 'up' or 'down'"),
    ({"question": "   "}, "question: empty"),
    ({"note": "x" * (MAX_NOTE + 1)}, "note: 2,001 characters, at most 2,000 allowed"),
    ({"answer": "an answer"}, "answer: must be a JSON object"),
    ({"answer": {"score": float("nan")}}, "answer: cannot be stored as JSON"),
    ({"history": "one question"}, "history: must be a list of questions"),
])
def test_bad_input_is_refused_with_one_line_and_nothing_is_written(tmp_path, fields, message):
    path = tmp_path / "feedback.jsonl"
    args = {"question": "Who met?", "answer": _answer("Who met?", ["001_cd19cef5703942ac"]), "rating": "up", **fields}
    with pytest.raises(FeedbackError) as err:
        record(path, **args)
    assert message in str(err.value) and "\n" not in str(err.value)
    assert not path.exists()
    record(path, **{**args, **{"rating": "up", "question": "Who met?", "note": "x" * MAX_NOTE,
                               "answer": _answer("Who met?", ["001_cd19cef5703942ac"]), "history": None}})
    assert len(read(path)[0]) == 1  # a note of exactly 2,000 characters is fine


def test_concurrent_appends_from_threads_keep_every_line_whole(tmp_path):
    path = tmp_path / "feedback.jsonl"
    threads, per_thread = 8, 25
    # Records larger than any write buffer (about 40 kB each), so a split write would show.
    big = _answer("q", ["001_cd19cef5703942ac"], text="Sentence " + "word " * 8000 + "end.")
    errors = []

    def rate(t: int) -> None:
        try:
            for n in range(per_thread):
                record(path, question=f"question {t}-{n}", answer=big, rating="up" if n % 2 else "down",
                       note=f"thread {t} " + "n" * 1900)
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    workers = [threading.Thread(target=rate, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()

    assert errors == []
    records, problems = read(path)
    assert problems == []
    assert sorted(r["question"] for r in records) == sorted(f"question {t}-{n}" for t in range(threads)
                                                           for n in range(per_thread))
    assert all(r["answer"] == big for r in records)
    assert len([line for line in _lines(path) if line]) == threads * per_thread


def test_a_truncated_last_line_is_skipped_with_a_reason_and_the_next_record_stays_whole(tmp_path):
    path = tmp_path / "feedback.jsonl"
    for q in ("first?", "second?"):
        record(path, question=q, answer=_answer(q, ["001_cd19cef5703942ac"]), rating="up")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 40])  # a crash in the middle of writing the second line

    records, problems = read(path)
    assert [r["question"] for r in records] == ["first?"]
    assert problems == ["line 2: cut short (an interrupted write)"]

    record(path, question="third?", answer=_answer("third?", ["001_cd19cef5703942ac"]), rating="down")
    records, problems = read(path)
    assert [r["question"] for r in records] == ["first?", "third?"]  # not glued onto the cut line
    assert len(problems) == 1 and problems[0].startswith("line 2: not JSON")  # no longer the last line


def test_unreadable_lines_are_skipped_each_with_its_line_number(tmp_path):
    path = tmp_path / "feedback.jsonl"
    good = json.dumps({"time": "2026-01-01T00:00:00+00:00", "question": "Who met?", "rating": "up", "note": None,
                       "history": None, "answer": _answer("Who met?", ["001_cd19cef5703942ac"])})
    path.write_bytes(b"\n".join([good.encode(), b"{not json", b"[1, 2]", b'{"question": "q", "rating": "sideways"}',
                                 b"\xff\xfe", b"", good.encode()]) + b"\n")
    records, problems = read(path)
    assert len(records) == 2
    assert problems[0].startswith("line 2: not JSON")
    assert problems[1:] == ["line 3: not a JSON object", "line 4: rating must be 'up' or 'down', not 'sideways'",
                            "line 5: not UTF-8 text"]


def test_reading_a_missing_file_is_one_line_naming_it(tmp_path):
    with pytest.raises(FeedbackError, match=r"feedback\.jsonl: no feedback file") as err:
        read(tmp_path / "feedback.jsonl")
    assert "\n" not in str(err.value)


# --- the feedback eval dataset ----------------------------------------------------------------------------------------


def test_thumbs_up_answers_become_questions_over_the_bundled_collection(tmp_path, caplog, monkeypatch):
    path = tmp_path / "feedback.jsonl"
    sf = "What was agreed in San Francisco?"
    record(path, question=sf, rating="up",
           answer=_answer(sf, ["001_cd19cef5703942ac", "000_98bc07159c41a427"], "Biden and Xi agreed on talks."))
    record(path, question="Who is Qin Gang?", rating="down", answer=_answer("Who is Qin Gang?",
                                                                              ["004_853fa212cfd9642b"]))
    record(path, question="What is the capital of Peru?", rating="up",  # a right abstention: unanswerable
           answer=_answer("What is the capital of Peru?", ["002_3267ac7c794f8952"], abstained=True))
    record(path, question="Which dock?", rating="up", answer=_answer("Which dock?", ["ledger_upload"]))  # an upload
    record(path, question="How long did they meet?", rating="up",
           answer=_answer("How long did they meet?", ["004_853fa212cfd9642b"]))
    record(path, question="How long did they meet?", rating="down",  # changed their mind: left out
           answer=_answer("How long did they meet?", ["004_853fa212cfd9642b"]))
    with open(path, "a", encoding="utf-8") as f:
        f.write("{cut")

    with caplog.at_level(logging.INFO, logger="eval.datasets"):
        ds = load_feedback(path)
    assert ds.name == "feedback" and ds.documents is None and ds.corpus_files == [path]
    by_question = {q.question: q for q in ds.questions}
    assert list(by_question) == [sf, "What is the capital of Peru?"]
    q = by_question[sf]
    assert q.gold == ["001_cd19cef5703942ac", "000_98bc07159c41a427"] and q.answerable
    assert q.answers == ["Biden and Xi agreed on talks."] and q.kind == "feedback"
    assert q.qrels == {"001_cd19cef5703942ac": 1.0, "000_98bc07159c41a427": 1.0} and q.id.startswith("fb-")
    peru = by_question["What is the capital of Peru?"]
    assert not peru.answerable and peru.kind == "unanswerable" and peru.answers == []
    assert "2 questions from thumbs-up answers; left out: 2 thumbs-down, 1 citing articles not in corpus/, " \
           "1 unreadable line" in caplog.text

    monkeypatch.setenv("QA_FEEDBACK", str(path))  # the default file, as the page writes it
    assert [q.question for q in load_dataset("feedback").questions] == [sf, "What is the capital of Peru?"]


def test_the_feedback_dataset_of_a_missing_file_is_a_one_line_error(tmp_path):
    with pytest.raises(ValueError, match=r"nothing\.jsonl: no feedback file"):  # qa eval prints it as one line
        load_dataset("feedback", tmp_path / "nothing.jsonl")


def test_a_real_answer_rated_up_becomes_a_question_with_its_cited_articles(assistant, tmp_path):
    path = tmp_path / "feedback.jsonl"
    answer = assistant.ask("What was agreed in San Francisco?")
    assert not answer.abstained and answer.sentences
    record(path, question=answer.question, answer=answer.to_json(), rating="up", history=[])

    (q,) = load_feedback(path).questions
    assert q.gold == list(dict.fromkeys(c.article_id for c in answer.citations))
    assert q.answers == [answer.sentences[0].text]
    assert q.question == "What was agreed in San Francisco?"
