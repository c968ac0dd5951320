"""The extractive selector on the bundled collection: quotes, citations, spans and abstention."""
import numpy as np
import pytest

from qa.answer import NO_ANSWER
from qa.question import asked_speaker, question_kind, speaker_fit, speaker_pronoun, typed_candidates, untitled


def test_question_kinds():
    assert question_kind("When did Xi and Biden meet?").answer_type == "date"
    assert question_kind("How many representatives attended?").answer_type == "number"
    assert question_kind("Who did Blinken meet on Sunday?").answer_type == "name"
    assert question_kind("Where did the two presidents first meet in person?").answer_type == "place"
    assert question_kind("What was agreed in San Francisco?").is_list
    assert not question_kind("Who is Qin Gang?").is_list
    # typed from the main clause: after a scene-setting clause, a leading "about", an adjective before the role
    assert question_kind("After meeting Wang Yi, which Chinese leader did Blinken meet?").answer_type == "name"
    assert question_kind("After their first meeting in Bali, where did they meet next?").answer_type == "place"
    assert question_kind(", where did they meet next?").answer_type == "place"  # a time scope cut from its front
    assert question_kind("About how many representatives attended?").answer_type == "number"
    assert question_kind("Which Asia Society official took part?").answer_type == "name"
    assert question_kind("How did Matt Miller characterise the talks?").answer_type == "words"
    assert question_kind("How did Biden describe the talks?").is_list  # all his words on them
    assert not question_kind("Who took part in the discussions?").is_list  # a noun, not "discussed"
    assert not question_kind("In which city did Xi next meet a US president?").is_list
    assert question_kind("Which Chinese officials did Blinken meet?").is_list
    assert question_kind("Which two countries signed?").is_list
    # "was", "us", "genus" end in s but are no plurals: one president, one team, one genus is asked for
    assert not question_kind("Which US president met Xi Jinping?").is_list
    assert not question_kind("Which team was the best?").is_list
    assert not question_kind("In which city was the panel held?").is_list
    assert not question_kind("Which genus is it?").is_list
    # a date, a count or a place is one value, whatever else the question names
    assert not question_kind("When were the two finalists announced?").is_list
    assert not question_kind("How many points did the Panthers score?").is_list
    assert question_kind("What did Biden announce after meeting Xi?").is_list
    # a preposition before "what year" / "which day" asks for a date all the same
    assert question_kind("In what year did Beijing and Washington establish ties?").answer_type == "date"
    assert question_kind("On which day of the week was the dialogue held?").answer_type == "date"
    assert question_kind("In which city did they meet?").answer_type == "place"
    # a preposition before the question word asks what the word asks; a place may be qualified
    assert question_kind("For how long did the two sit down?").answer_type == "number"
    assert question_kind("To whom did Luther send the letter?").answer_type == "name"
    assert question_kind("From where was he transferred?").answer_type == "place"


def test_date_candidates_fit_the_unit_asked_for():
    sentence = "The dialogue opened on Thursday, January 8, 2024, as in 1979."

    def fits(question):
        return {sentence[s:e]: strength for (s, e), strength in typed_candidates("date", question, sentence)}

    # the unit asked for fits best, and is the span by itself: "Thursday", not "on Thursday"; "2024" of a full date
    assert fits("On which day of the week did it open?") == {"Thursday": 1.0, "January 8, 2024": 0.5, "1979": 0.5}
    assert fits("In what year were ties established?") == {"on Thursday": 0.5, "2024": 1.0, "1979": 1.0}
    assert fits("When did it open?") == {"on Thursday": 1.0, "January 8, 2024": 1.0, "1979": 1.0}
    # "in November" is a date, and "in November 2022" one date, not "in November" and "2022"
    met = "They met in November 2022 and in June."
    assert [met[s:e] for (s, e), _ in typed_candidates("date", "When did they meet?", met)] == [
        "November 2022", "in June"]
    older = "The house was built in 1787, rebuilt in the 1860s and listed in the 20th century."
    found = {older[s:e]: strength for (s, e), strength in typed_candidates("date", "In what decade was it rebuilt?",
                                                                           older)}
    assert found == {"1787": 0.5, "1860s": 1.0, "20th century": 0.5}


def test_how_long_asks_for_a_duration_after_a_preposition_too():
    sentence = "At their second meeting they met three times, for seven and a half hours in all."
    for question in ("How long did they meet?", "For how long did they meet?"):
        found = {sentence[s:e]: strength for (s, e), strength in typed_candidates("number", question, sentence)}
        assert found == {"second": 0.5, "three times": 0.5, "seven and a half hours": 1.0}


def test_words_candidates_are_what_was_said():
    sentence = "He called the talks “candid, substantive and constructive”, and praised Wang as very able."
    found = [(sentence[s:e], strength) for (s, e), strength
             in typed_candidates("words", "How did Miller describe the talks?", sentence)]
    assert found == [("candid, substantive and constructive", 1.0), ("very able", 0.5)]


def test_where_candidates_are_places_not_months():
    sentence = "The summit took place in January in Geneva, on Monday."
    found = [sentence[s:e] for (s, e), _ in typed_candidates("place", "Where was the summit held?", sentence)]
    assert found == ["Geneva"]
    # a dateline's or a photo caption's place, before its date
    caption = "A panel discussion is held under the framework of the Dialogue, New York, U.S., January 8, 2024. /CFP"
    found = [caption[s:e] for (s, e), _ in typed_candidates("place", "In which city was the panel held?", caption)]
    assert found == ["New York"]
    dateline = "BEIJING, Nov. 24 (Xinhua) -- Xi spoke by phone with Trump."
    assert [dateline[s:e] for (s, e), _ in typed_candidates("place", "Where did Xi speak?", dateline)] == ["BEIJING"]
    # a name after "to" or "from" is as often a person's: a weaker fit
    found = typed_candidates("place", "Where was the letter sent?", "Xi wrote to Biden in Beijing.")
    assert [strength for _, strength in found] == [0.5, 1.0]


def test_who_candidates_are_never_days_months_or_function_words():
    sentence = "On Sunday, Secretary Blinken met Qin Gang in January; However, The talks went on."
    found = [sentence[s:e] for (s, e), _ in typed_candidates("name", "Who met Blinken?", sentence)]
    assert found == ["Qin Gang"]  # "Secretary Blinken" is the question's own name with a title
    # a caption's place is where, not who
    caption = "Wang Yi speaks at the Dialogue, New York, U.S., January 8, 2024. /CFP"
    assert [caption[s:e] for (s, e), _ in typed_candidates("name", "Who spoke at the Dialogue?", caption)] == ["Wang Yi"]


def test_a_who_question_is_not_answered_by_a_captions_place(assistant):
    # The span reader read "New York" in the photo caption as who co-hosted the dialogue, surer of it than of "the
    # International Department ..." in the sentence that says so, and the caption led.
    answer = assistant.ask("Who co-hosted the China-U.S. Track 1.5 Dialogue?")
    assert "co-hosted by the International Department" in answer.sentences[0].text


def test_how_many_candidates_are_the_counts_without_the_counted_noun():
    sentence = "Approximately 30 representatives came for seven and a half hours; 25 percent were officials."
    found = [(sentence[s:e], strength) for (s, e), strength
             in typed_candidates("number", "How many representatives came?", sentence)]
    assert found == [("Approximately 30", 1.0), ("seven and a half", 0.5), ("25 percent", 0.5)]


def test_which_role_candidates_fit_the_names_given_that_role():
    def found(question, sentence):
        return [(sentence[s:e], strength) for (s, e), strength in typed_candidates("name", question, sentence)]

    president = "Which US president spoke with Xi Jinping by phone on November 24, 2025?"
    # the question's own Xi with a title is no answer; a news agency is a weaker one than the titled president
    assert found(president, "BEIJING, Nov. 24 (Xinhua) -- Chinese President Xi Jinping said that.") == [("Xinhua", 0.5)]
    assert found(president, "Xi spoke with U.S. President Donald Trump on the phone.") == [
        ("President Donald Trump", 1.0)]
    diplomat = "Which top Chinese diplomat did Blinken see first?"
    assert found(diplomat, "On Sunday, Mr Blinken met the Chinese foreign minister Qin Gang.") == [("Qin Gang", 0.5)]
    assert ("Wang Yi", 1.0) in found(diplomat, "Mr Blinken met China’s top diplomat Wang Yi, who warned him.")
    assert found(diplomat, "Wang Yi, China's top diplomat, met Qin Gang.") == [
        ("Wang Yi", 1.0), ("China's", 0.5), ("Qin Gang", 0.5)]
    # anyone in the news is an "official": that role tells no name from another
    assert found("Which Chinese official did Blinken meet first?", "Mr Blinken met the foreign minister Qin Gang.") == [
        ("Qin Gang", 1.0)]


def test_whose_words_a_question_asks_for_and_a_sentence_gives():
    assert asked_speaker("What did Trump say about China's role in World War II?") == "Trump"
    assert asked_speaker("What theory did Wang Yi ask the US to stop speculating on?") == "Wang Yi"
    assert asked_speaker("How did Joe Biden describe his talks with Xi?") == "Joe Biden"
    assert asked_speaker("How long did the phone call between Xi and Trump last?") is None  # no one's words
    assert asked_speaker("What did he say about Taiwan?") is None  # the conversation names him first
    assert asked_speaker("What actions on drugs did Biden announce after meeting Xi?") == "Biden"
    # where or when someone spoke is not their words
    assert asked_speaker("On which social network did Biden praise the meeting?") is None
    assert speaker_pronoun("On which social network did he praise the meeting?") is None
    question = "And Biden, what did he say he is committed to?"
    start, end = speaker_pronoun(question)
    assert question[start:end] == "he" and speaker_pronoun("What did Biden say?") is None
    # the name just before the verb, or just after a "said" put first; a title or a nationality is no one's name
    assert speaker_fit("Trump", "China was a big part of the victory of WWII, said Trump, stressing it.") == 1.0
    assert speaker_fit("Donald Trump", "Trump noted that President Xi is a great leader.") == 1.0
    assert speaker_fit("Wang Yi", "Mr Wang told Mr Blinken that it mattered.") == 1.0
    assert speaker_fit("Trump", "Noting the war, Xi said that it is even more important.") == 0.0
    assert speaker_fit("Trump", "US President Joe Biden praised the meeting.") == 0.0
    assert untitled("US President Joe Biden") == "Joe Biden" and untitled("President") == "President"
    # a pronoun or a common noun names no one; "speaking with Trump" gives no one's words
    for sentence in ("He called the talks candid.", "The Chinese leader stressed it.",
                     "Xi made the remarks while speaking with U.S. President Donald Trump on the phone."):
        assert speaker_fit("Trump", sentence) is None, sentence


def test_a_question_for_someones_words_leads_with_theirs(assistant):
    # Xi's sentence on the war shares more of its words; Trump's answers it
    answer = assistant.ask("What did Trump say about China's role in World War II?")
    assert "big part of the victory" in answer.sentences[0].text


@pytest.mark.parametrize("fast", [True, False])
def test_what_a_question_asks_about_outweighs_the_scene_it_sets(assistant, fast):
    # "during the phone call with Trump" is the scene, which the Xinhua report supplies; "about Taiwan" is what is
    # asked. The fast score led with the sentence that only sets the scene ("Xi made the remarks while speaking with
    # ... on the phone"), and the span reader, reading "Donald Trump" in it as an answer, moved it up again.
    answer = assistant.ask("What did Xi say about Taiwan during the phone call with Trump?", fast=fast)
    assert "Taiwan's return to China" in answer.sentences[0].text


def test_the_unit_a_date_question_asks_for_is_not_a_word_to_find(assistant):
    # "On what day ...?" is answered by "on Monday"; "a day of meetings" holds the word and no day. Before, the word
    # counted as what is asked, and that sentence outranked the dateline's "said on Monday".
    question = "On what day did Xi and Trump speak by phone?"
    pipeline = assistant.pipeline
    _, cands = pipeline.candidates(question, pipeline.retriever.encoder.encode_query(question), k=5, rerank=False)
    ranked = [cands.sentences[i].text for i in np.argsort(-cands.fast, kind="stable")]
    said_on_monday = next(r for r, text in enumerate(ranked) if "said on Monday" in text)
    day_of_meetings = next(r for r, text in enumerate(ranked) if "a day of meetings" in text)
    assert said_on_monday < day_of_meetings


def test_a_which_president_question_leads_with_the_president_named(assistant):
    # The Xinhua report is dated November 25 and its dateline November 24: the sentence naming Trump, which states no
    # day of its own, is of the report's day or the one before; "U.S. President Donald Trump" fits "which US president"
    answer = assistant.ask("Which US president spoke with Xi Jinping by phone on November 24, 2025?")
    assert "President Donald Trump" in answer.sentences[0].text


@pytest.mark.parametrize("question, article, span", [
    ("How long did Blinken meet Qin Gang on Sunday?", "004", "seven and a half hours"),
    ("Where did Xi and Trump meet in October 2025?", "002", "Busan"),
    ("How many representatives attended the Track 1.5 Dialogue?", "003", "Approximately 30"),
])
def test_fast_answers_mark_the_span_by_type(assistant, question, article, span):
    answer = assistant.ask(question, fast=True)  # the typed rules (the span reader: tests/test_reader.py)
    assert not answer.abstained
    first = next(s for s in answer.sentences if s.span)
    assert first.article_id.startswith(article)
    text = assistant.index.store.article(assistant.index.store.article_index(first.article_id)).text
    assert text[first.span[0]:first.span[1]] == span


@pytest.mark.parametrize("question", [
    "What is the boiling point of mercury?",
    "Which football club won the 2022 World Cup final?",
    "How do I bake sourdough bread?",
])
def test_abstains_on_unrelated_questions(assistant, question):
    answer = assistant.ask(question)
    assert answer.abstained and answer.answer == NO_ANSWER
    assert answer.confidence < 0.5
    assert answer.sentences and answer.citations  # the closest passages are still shown


def test_refuses_when_the_collection_never_mentions_what_is_asked_about(assistant):
    # the agreements of San Francisco come close to the rest of the question; none is about AI
    answer = assistant.ask("Did Biden and Xi agree on anything about AI?")
    assert answer.abstained and answer.confidence == 0.0
    assert "The collection never mentions \u201cAI\u201d." in answer.notes
    assert answer.sentences  # the closest passages are still shown
    # what is asked about is in the collection: answered
    assert not assistant.ask("What did Xi say about Taiwan?").abstained
    # "in Paris" is where they talked, not what about: no subject to look up
    assert not any("Paris" in note for note in assistant.ask("What did they talk about in Paris?").notes)


def test_quotes_are_exact_and_cited(assistant):
    answer = assistant.ask("What did Wang Yi tell Blinken?")
    store = assistant.index.store
    numbers = {c.n: c for c in answer.citations}
    for s in answer.sentences:
        article = store.article(store.article_index(s.article_id))
        assert " ".join(article.text[s.start:s.end].split()) == s.text
        assert numbers[s.citation].article_id == s.article_id
        assert f"{s.text} [{s.citation}]" in answer.answer
    assert sorted(numbers) == list(range(1, len(numbers) + 1))


def test_multi_part_question_draws_on_several_articles(assistant):
    answer = assistant.ask("What did Xi and Trump discuss, and what did Blinken and Qin Gang agree?")
    assert len({s.article_id for s in answer.sentences}) >= 2


def test_empty_question_is_refused(assistant):
    with pytest.raises(ValueError, match="empty"):
        assistant.ask("   ")
