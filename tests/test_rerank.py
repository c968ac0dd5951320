"""The reranker stage: the committed adapter reads questions; one pipeline answers alike through the library, the
command and the page (loading offline and damaged files: tests/test_models.py)."""
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from qa.assistant import Assistant
from qa.config import RerankerSettings
from qa.rerank import DEFAULT_DIR, WEIGHTS, Reranker

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def reranker() -> Reranker:
    return Reranker(DEFAULT_DIR)


def test_adapter_is_small_and_has_a_model_card():
    assert (DEFAULT_DIR / WEIGHTS).stat().st_size < 5 * 1024 * 1024
    card = (DEFAULT_DIR / "MODEL_CARD.md").read_text()
    for needed in ("SQuAD", "seed", "qa train-reranker", "held-out"):
        assert needed in card


def test_scores_the_answer_above_a_distractor(reranker):
    question = "How long did Blinken meet the Chinese foreign minister?"
    gold = "On Sunday, Mr Blinken met with the Chinese foreign minister Qin Gang for seven and a half hours."
    distractors = ["Mr Blinken invited the Chinese foreign minister to visit Washington.",
                   "The Chinese foreign ministry said the talks were candid."]
    scores = reranker.score_pairs(question, [gold, *distractors])
    assert scores[0] > max(scores[1:])


@pytest.fixture(scope="module")
def reranked(bundled_settings, encoder) -> Assistant:
    assistant = Assistant(replace(bundled_settings, reranker=RerankerSettings(enabled=True)), build_if_missing=False,
                          encoder=encoder)
    assert assistant.reranker is not None
    return assistant


def test_reranker_reorders_what_the_fast_path_ranks_first(reranked):
    """The two paths are really different stages: on the collection they disagree on some first sentence."""
    assistant = reranked
    questions = [json.loads(line)["question"] for line in open(REPO / "eval" / "sets" / "collection.jsonl")][:30]
    differ = sum(assistant.ask(q).sentences[0].text != assistant.ask(q, fast=True).sentences[0].text
                 for q in questions)
    assert differ > 0


def test_the_fast_path_does_not_run_the_cross_encoder(reranked, monkeypatch):
    def fail(cands):
        raise AssertionError("the cross-encoder ran on a --fast ask")

    monkeypatch.setattr(reranked.pipeline.reranker, "score", fail)
    answer = reranked.ask("Where did Xi and Trump meet in October 2025?", fast=True)
    assert not answer.abstained and "Busan" in answer.sentences[0].text
    with pytest.raises(AssertionError, match="cross-encoder ran"):
        reranked.ask("Where did Xi and Trump meet in October 2025?")


def test_reranked_factoid_answers_are_concise(reranked):
    """A quoted sentence beyond the first must reach a share of the best one's probability: no trail of others."""
    question = "Which State Department spokesperson said Qin Gang accepted the invitation to Washington?"
    answer, fast = reranked.ask(question), reranked.ask(question, fast=True)
    assert "Matt Miller" in answer.sentences[0].text
    assert len(answer.sentences) < len(fast.sentences)


def test_k_is_the_number_of_sources(assistant):
    question = "What did Wang Yi tell Blinken?"
    one, many = assistant.ask(question, k=1), assistant.ask(question, k=12)
    assert len(one.hits) == 1 and len(many.hits) == 12
    assert {s.article_id for s in one.sentences} == {one.hits[0].chunk.article_id}
    with pytest.raises(ValueError, match="between 1 and"):
        assistant.ask(question, k=0)


def test_the_reranker_is_off_unless_asked_for(monkeypatch):
    from qa.config import Settings

    assert not Settings.from_env().reranker.enabled
    monkeypatch.setenv("QA_RERANKER", "on")
    assert Settings.from_env().reranker == RerankerSettings(enabled=True)
    monkeypatch.setenv("QA_RERANKER", "/some/folder")
    assert Settings.from_env().reranker.path == Path("/some/folder")


def test_the_command_answers_as_the_library_does(assistant, bundled_settings):
    question = "How long did Blinken's meeting with Chinese foreign minister Qin Gang last?"
    run = subprocess.run([sys.executable, "-m", "qa", "ask", "--json", question, "--index-dir",
                          str(bundled_settings.index_dir)], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert run.returncode == 0, run.stderr
    expected = assistant.ask(question).to_json()
    got = json.loads(run.stdout)
    for key in ("answer", "abstained", "sentences", "citations"):
        assert got[key] == expected[key]
