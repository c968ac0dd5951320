"""Time-aware answers on the bundled collection: each quoted sentence's date, questions scoped by their own time words,
date ranges that keep inferred dates in view, and the timeline of a topic (through the library and `qa timeline`)."""
import datetime as dt
import json
from pathlib import Path

from qa.retrieve import DateRange
from tests.test_cli import qa

REPO = Path(__file__).resolve().parent.parent
SF, BUSAN, BLINKEN, LETTERS, TRACK = ("001_cd19cef5703942ac", "002_3267ac7c794f8952", "004_853fa212cfd9642b",
                                      "000_98bc07159c41a427", "003_42fb9e8cdcba927c")


def test_quoted_sentences_carry_their_own_date(assistant):
    answer = assistant.ask("What did Xi and Trump discuss on the phone?")
    lead = answer.sentences[0]
    assert lead.article_id == BUSAN
    assert (lead.date, lead.date_source) in {("2025-11-24", "sentence"), ("2025-11-25", "meta")}
    by_n = {c.n: c for c in answer.citations}
    assert by_n[lead.citation].publisher == "Xinhua" and by_n[lead.citation].date == "2025-11-25"


def test_latest_answers_from_the_newest_article_that_holds_an_answer(assistant):
    answer = assistant.ask("Where did Xi most recently meet a US president in person?")
    assert answer.sentences[0].article_id == BUSAN and "Busan" in answer.sentences[0].text
    assert any("newest first" in note for note in answer.notes)


def test_question_scoped_to_a_year_answers_only_from_that_year(assistant):
    for question in ("What did the two presidents say in 2025?", "Which US official met Xi Jinping in June 2023?"):
        year = question.rstrip("?")[-4:]
        answer = assistant.ask(question)
        assert not answer.abstained and answer.sentences
        assert all(s.date.startswith(year) for s in answer.sentences), [(s.date, s.text) for s in answer.sentences]
    assert "Blinken" in answer.sentences[0].text


def test_relative_words_count_from_today(assistant):
    question = "Where did Xi and Trump meet last month?"
    vector = assistant.encoder.encode_query(question)
    then = assistant.pipeline.run(question, vector, k=5, today=dt.date(2025, 11, 26))
    assert not then.abstained and "Busan" in then.sentences[0].text and then.sentences[0].date == "2025-10"
    now = assistant.pipeline.run(question, vector, k=5, today=dt.date(2026, 11, 26))
    assert now.abstained and "2026-10-01 to 2026-10-31" in now.notes[0]


def test_after_a_named_event_is_dated_by_the_sentences_that_mention_it(assistant):
    answer = assistant.ask("Where did Xi meet a US president after the San Francisco summit?")
    assert any("San Francisco summit" in note and "2023-11" in note for note in answer.notes)
    assert all(s.date is None or s.date[:7] > "2023-11" for s in answer.sentences), answer.sentences
    assert "Busan" in answer.sentences[0].text


def test_reports_from_before_a_dated_thing_the_question_names_are_left_out(assistant):
    # the three articles from before November 2025 cannot report on that call; the one that can does not say how
    # long it lasted: a near miss, refused, with its closest passage
    call = assistant.ask("How long did the November 2025 phone call between Xi and Trump last?")
    assert any(note.startswith("Left out 3 articles published before \u201cNovember 2025\u201d") for note in call.notes)
    assert call.abstained and {s.article_id for s in call.sentences} <= {BUSAN, TRACK}
    # a thing from before every report leaves none out, and is answered
    trip = assistant.ask("Whose August 2022 trip to Taiwan led to the curtailing of US-China communication?")
    assert not trip.abstained and "Pelosi" in trip.sentences[0].text and not trip.notes


def test_date_range_keeps_inferred_dates_in_view(assistant):
    answer = assistant.ask("What did the new year's letters between Xi and Biden say?", dates=DateRange("2024-01-01",
                                                                                                      "2024-12-31"))
    assert answer.citations and answer.citations[0].article_id == LETTERS
    assert (answer.citations[0].date, answer.citations[0].date_source) == ("2024", "inferred")
    # A range the inferred 'not before 2024-01-08' may fall in keeps the Track 1.5 article too.
    hits = assistant.pipeline.retriever.search("Track 1.5 Dialogue", 25, dates=DateRange("2025-01-01", None))
    assert TRACK in {h.chunk.article_id for h in hits}


def test_timeline_is_in_order_with_checkable_citations(assistant):
    found = assistant.timeline("China US relations")
    dates = [e.date for e in found.events]
    assert dates[0].startswith("1979") and dates[-1].startswith("2025-11")
    firsts = [(e.date + "-01-01")[:10] if len(e.date) < 10 else e.date[:10] for e in found.events]
    assert firsts == sorted(firsts)
    assert {"2022-11", "2023-06-18", "2025-10"} <= set(dates)
    by_n = {c.n: c for c in found.citations}
    for e in found.events:
        on_disk = (REPO / by_n[e.citation].file).read_text()
        assert " ".join(on_disk[e.start:e.end].split()) == e.text


def test_timeline_of_a_narrow_topic_lists_only_its_events(assistant):
    busan = assistant.timeline("Busan")
    assert [e.date for e in busan.events] == ["2025-10"] and "Busan" in busan.events[0].text
    assert assistant.timeline("fentanyl").events == []  # the collection dates no event about it


def test_qa_timeline_json_and_ask_from_to(bundled_settings):
    index_dir = str(bundled_settings.index_dir)
    run = qa("timeline", "China US relations", "--json", "--index-dir", index_dir)
    assert run.returncode == 0, run.stderr
    found = json.loads(run.stdout)
    assert found["topic"] == "China US relations" and len(found["events"]) >= 8
    assert {"date", "date_source", "text", "article_id", "start", "end", "citation"} <= set(found["events"][0])
    run = qa("timeline", "China US relations", "--from", "2025-01-01", "--index-dir", index_dir)
    assert run.returncode == 0 and "1979" not in run.stdout and "Busan" in run.stdout
    run = qa("ask", "Who met Xi?", "--from", "2025-13-01", "--index-dir", index_dir)
    assert run.returncode == 2 and "expected a date as YYYY-MM-DD" in run.stderr
    run = qa("ask", "--json", "What did Biden say after meeting Xi?", "--to", "2023-12-31", "--index-dir", index_dir)
    answer = json.loads(run.stdout)
    assert {c["article_id"] for c in answer["citations"]} <= {SF, BLINKEN}


def test_an_undated_article_stays_in_view_of_a_question_but_not_of_a_set_range(tmp_path, encoder):
    from qa.assistant import Assistant
    from qa.build import build_index
    from qa.config import Settings

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "harbour.txt").write_text("The Velmora harbour council approved a tide barrier costing 38 million "
                                        "euros. Construction will take three years.\n")
    settings = Settings.from_env(corpus_dir=corpus, index_dir=tmp_path / "index")
    build_index(settings, encoder=encoder, progress=False)
    assistant = Assistant(settings, encoder=encoder)
    scoped = assistant.ask("What did the Velmora harbour council approve in 2024?")
    assert scoped.hits and "tide barrier" in scoped.hits[0].chunk.text  # in view, not filtered out
    assert all(s.date is None for s in scoped.sentences) and not any("left out" in n for n in scoped.notes)
    first = assistant.ask("What was the first thing the Velmora harbour council approved?")
    assert first.notes == []  # no dates to order by: "first" is just a word of the question
    ranged = assistant.ask("What did the Velmora harbour council approve?", dates=DateRange("2024-01-01", None))
    assert ranged.abstained and any("1 article with no known date" in note for note in ranged.notes)
