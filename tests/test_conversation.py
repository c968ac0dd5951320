"""Follow-up questions: made to stand alone from the conversation (qa.conversation), then answered through the same
pipeline (Assistant.ask with history, `qa ask --follow-up`, `qa chat`)."""
from dataclasses import replace

import pytest

from qa.conversation import answer_names, Turn, leans_on_previous, names, understand
from qa.question import question_kind
from tests.test_cli import qa


@pytest.mark.parametrize("question, leans", [
    ("What did he tell him about Taiwan?", True),
    ("And Wang Yi?", True),
    ("What else was agreed?", True),
    ("And in 2025?", True),
    ("Where?", True),
    ("According to whom?", True),
    ("Roughly how many people from the two countries took part in it?", True),
    ("How many people from the two countries took part in it last year?", False),
    ("Who is Qin Gang?", False),
    ("What was agreed in San Francisco?", False),
    ("After that, which areas of dialogue were hit?", True),  # after what the last answer was about
    ("How long did Blinken meet Qin Gang on Sunday?", False),
    ("On what day of the week did it take place?", True),  # "it" as the subject, however long the question
    ("Says who?", True),
    ("Where did Biden and Xi hold their talks during the 2023 APEC summit?", False),  # "their": the pair it names
    ("How long did their call last?", True),
    ("When did Biden and Xi meet, and what did he say?", True),  # "he": which of the two the conversation says
])
def test_which_questions_lean_on_the_previous_one(question, leans):
    assert leans_on_previous(question) is leans


def test_names_leave_out_question_words_and_a_sentence_capital():
    assert names("Where did Xi Jinping meet Antony Blinken?") == ["Xi Jinping", "Antony Blinken"]
    assert names("Later in the day, Biden announced") == ["Biden"]
    assert names("Trump?", first_word=True) == ["Trump"]


def test_rewrites():
    said = Turn("Where did Xi meet a US president in 2023?", "Where did Xi meet a US president in 2023?",
                lead_date="2023-11-16")
    assert understand("And in 2025?", [said]).understood == "Where did Xi meet a US president in 2025?"
    assert understand("What about before that?", [said]).understood == \
        "Where did Xi meet a US president before 2023-11-16?"
    asked = Turn("What did Biden say about Taiwan?", "What did Biden say about Taiwan?")
    assert understand("And Trump?", [asked]).understood == "What did Trump say about Taiwan?"
    # ... and when Trump is already in it, he and whose words were asked change places
    call = "What did Xi Jinping say about Taiwan in his call with Donald Trump?"
    assert understand("And Trump?", [Turn(call, call)]).understood == \
        "What did Trump say about Taiwan in his call with Xi Jinping?"
    answered = Turn("Who did Blinken meet on Sunday?", "Who did Blinken meet on Sunday?", answer_names=["Qin Gang"])
    follow = understand("What did he say about Taiwan?", [answered])  # "he": whom the answer to "who" named
    assert follow.leans and follow.understood.startswith("What did Qin Gang say about Taiwan? (Blinken")
    # ... else whose words the previous question asked for, unless the question names someone before "he"
    described = Turn("How did Joe Biden describe his talks with Xi?", "How did Joe Biden describe his talks with Xi?")
    assert understand("What did he warn about?", [described]).understood == "What did Joe Biden warn about? (Xi)"
    assert understand("And Xi, what did he say?", [described]).understood == "And Xi, what did Xi say? (Joe Biden)"
    # "he" that is not the speaker stays: the names come along as context
    assert understand("Who did he meet next?", [described]).understood == "Who did he meet next? (Joe Biden, Xi)"
    alone = understand("Who is Qin Gang?", [answered])
    assert not alone.leans and alone.understood == "Who is Qin Gang?"
    # "what else" leaves out what a list question's answer quoted; after a question about one thing, nothing
    listed = Turn("What was agreed in San Francisco?", "What was agreed in San Francisco?")
    assert understand("What else was agreed?", [listed]).else_of == 0
    assert understand("What else did he say?", [asked]).else_of is None
    # ... but a sentence quoted for the list that holds what "what else" newly asks is quoted again
    areas = "In which areas did the Track 1.5 Dialogue say China and the U.S. should deepen cooperation?"
    assert understand("What else did it say they should promote?", [Turn(areas, areas)]).else_new == {"promot"}
    assert understand("What else was agreed?", [listed]).else_new == set()
    # the answer's own date is not carried: "in November" read again would be this year's November
    dated = Turn("When did Biden and Xi first meet?", "When did Biden and Xi first meet?",
                 answer_names=["in November", "Nov. 24", "Bali"])
    assert understand("Where?", [dated]).understood == "Where? (Bali, Biden, Xi, first)"
    monthly = Turn("Who met Xi?", "Who met Xi?", answer_names=["November", "Biden"])  # a month is no one "he" is
    assert understand("What did he say?", [monthly]).understood == "What did Biden say? (Xi)"
    # "since then" is the day the previous answer quoted, also inside a longer follow-up
    assert understand("And what did Xi say about ties since then?", [said]).understood.startswith(
        "And what did Xi say about ties since 2023-11-16?")
    # "a year earlier": the previous question's range, moved
    asked_in = Turn("Where did Biden and Xi meet in November 2023?", "Where did Biden and Xi meet in November 2023?")
    assert understand("And a year earlier?", [asked_in]).understood == "Where did Biden and Xi meet in November 2022?"
    assert understand("And two months later?", [asked_in]).understood == \
        "Where did Biden and Xi meet in January 2024?"
    assert understand("The year before?", [said]).understood == "Where did Xi meet a US president in 2022?"
    # "Says who?": the previous question, asked for who said it
    assert understand("Says who?", [asked]).understood == "Who said so? (What did Biden say about Taiwan?)"
    # "the month before that": the month before the day the previous answer quoted
    phoned = Turn("On what day did Xi and Trump talk by phone?", "On what day did Xi and Trump talk by phone?",
                  lead_date="2025-11-24")
    assert understand("And the month before that, where had they met?", [phoned]).understood.startswith(
        "And in October 2025, where had they met?")


def test_a_fragment_asks_the_previous_question_of_something_else():
    hosted = "Which Chinese body co-hosted the Second China-U.S. Track 1.5 Dialogue?"
    follow = understand("And on the U.S. side?", [Turn(hosted, hosted)])
    assert follow.understood == f"And on the U.S. side? ({hosted})"
    assert follow.asked == set()  # nothing new is asked: its lead may answer again


def test_carried_names_are_matched_word_for_word():
    held = "Where was the Second China-U.S. Track 1.5 Dialogue held?"
    understood = understand("What did they tell the U.S. side?", [Turn(held, held)]).understood
    assert "Second China-U.S. Track 1.5 Dialogue" in understood  # "U.S." is not that name
    answered = Turn("Who met Blinken?", "Who met Blinken?", answer_names=["Antony Blinken's"])
    assert "Antony Blinken's" not in understand("What did Antony Blinken say then?", [answered]).understood


def test_a_name_the_collection_never_mentions_is_not_carried(assistant):
    # the refused question's "AI" would only pull the follow-up's words away from what the collection holds
    answer = assistant.ask("What did they talk about in Paris?",
                           history=["Did Biden and Xi agree on anything about AI?"])
    assert answer.understood == "What did they talk about in Paris? (Biden, Xi)"
    asked = Turn("Did Biden and Xi agree on AI?", "Did Biden and Xi agree on AI?")
    assert "AI" in understand("What did they talk about in Paris?", [asked]).understood  # (nothing to ask)
    # a date is kept, spelled out in an article or not: it scopes the time
    met = Turn("Where did they meet?", "Where did they meet? (Qin Gang, Blinken, June 2023)")
    follow = understand("How long did their talks go on?", [met], mentioned=lambda name: name != "June 2023")
    assert follow.understood == "How long did their talks go on? (Qin Gang, Blinken, June 2023)"


def test_what_a_follow_up_newly_asks(encoder):
    met = Turn("Who did Blinken meet on Sunday?", "Who did Blinken meet on Sunday?", answer_names=["Qin Gang"],
               lead_date="2023-06-18")
    assert understand("What did he say Washington must choose between?", [met]).asked == {"must", "choos"}
    assert understand("And what did he say about ties since then?", [met]).asked == {"tie", "sinc"}
    for same in ("Where?", "Says who?", "And with Wang Yi?", "And in 2025?", "And a year earlier?"):
        assert understand(same, [met], encoder.encode_query).asked == set(), same


def test_swapped_name_replaces_the_most_alike(encoder):
    asked = Turn("How long did Blinken meet Qin Gang?", "How long did Blinken meet Qin Gang?")
    follow = understand("And with Wang Yi?", [asked], encoder.encode_query)
    assert follow.understood == "How long did Blinken meet Wang Yi?" and follow.others == {"wang", "yi"}
    # a nationality is not a name the new one replaces, however alike their vectors
    met = "How long did Blinken's meeting with Chinese foreign minister Qin Gang last?"
    asked = Turn(met, met)
    follow = understand("And with Wang Yi?", [asked], encoder.encode_query)
    assert follow.understood == "How long did Blinken's meeting with Chinese foreign minister Wang Yi last?"
    # a fragment whose other words are the previous question's asks it of the new name
    talks = Turn("How long did Blinken's talks with Qin Gang last?", "How long did Blinken's talks with Qin Gang last?")
    follow = understand("And his talks with Wang Yi?", [talks], encoder.encode_query)
    assert follow.understood == "How long did Blinken's talks with Wang Yi last?"


def test_follow_up_is_answered_from_the_conversation(assistant):
    alone = assistant.ask("What did he tell him about Taiwan?")
    answer = assistant.ask("What did he tell him about Taiwan?", history=["What did Xi and Trump discuss on the phone?"])
    assert answer.understood and "Trump" in answer.understood and alone.understood is None
    assert not answer.abstained and answer.sentences[0].article_id == "002_3267ac7c794f8952"
    assert "Taiwan" in answer.sentences[0].text
    # a quotation marked as the answer is no one a follow-up's "he" could be; a name is
    said = "How did Matt Miller characterise Blinken's talks with Qin Gang?"
    quoted = assistant.ask(said)
    lead, words = quoted.sentences[0], "candid, substantive and constructive"
    assert words in lead.text
    at = lead.start + lead.text.index(words)  # marked as a surer reader would mark it
    marked = replace(quoted, sentences=[replace(lead, span=(at, at + len(words)), span_text=words)])
    assert words not in answer_names(marked, said)
    named = "Which Chinese foreign minister did Blinken meet on Sunday?"
    assert answer_names(assistant.ask(named), named)[0] == "Qin Gang"
    # with no span marked, the quoted name that holds the role asked for, not the lead's first name (China)
    filoli = "Which US president met Xi Jinping at Filoli Historic House in November 2023?"
    assert answer_names(assistant.ask(filoli), filoli)[0] == "Joe Biden"
    # A follow-up that asks something new is not answered with the sentence just quoted, which the conversation's
    # names would pull back first; one that asks about the same event may be.
    letter = "What did Xi Jinping's new year's letter say the San Francisco Vision opened up?"
    vision = assistant.ask(letter).sentences[0]
    committed = assistant.ask("And Biden, what did he say he is committed to?", history=[letter]).sentences[0]
    assert "opened up the future" in vision.text and "responsibly managing" in committed.text
    # The same question of another: the sentence that answered it for Qin Gang does not answer it for Wang Yi
    qin = "How long did Blinken's talks with Qin Gang last on Sunday?"
    assert "seven and a half hours" in assistant.ask(qin).sentences[0].text
    wang = assistant.ask("And with Wang Yi?", history=[qin])
    lead = wang.sentences[0]
    assert "more than three hours" in lead.text
    # the reader's best words in it are the answer (below its margin for bold on this rewording)
    read = assistant.reader.best(question_kind(wang.understood), wang.understood, lead.text)
    assert lead.text[read.start:read.end] == "more than three hours"
    # "he" is whose words the question before asked for, and his words lead, not Xi's on the same war
    described = "How did Donald Trump describe Xi Jinping during their phone call in November 2025?"
    war = assistant.ask("What did he say about China's role in World War II?", history=[described])
    assert war.understood.startswith("What did Donald Trump say about China's role")
    assert "big part of the victory" in war.sentences[0].text
    # a follow-up of the same type is not answered again with the previous answer's words ("November 2022")
    first = "When did Joe Biden and Xi Jinping first meet in person?"
    office = assistant.ask("When had Biden taken office before then?", history=[first])
    assert "January 2021" in office.sentences[0].text
    # "he" is whom the answer the user was shown named (the span reader's pick, Biden), not the fast pick's China
    filoli = "Which US president met Xi Jinping at Filoli Historic House in November 2023?"
    described = assistant.ask("How did he describe the meeting afterwards?", history=[filoli])
    assert "Biden" in described.understood and "China" not in described.understood.split("?")[0]
    assert "constructive and productive" in described.sentences[0].text
    held = "Was the Second China-U.S. Track 1.5 Dialogue held in Beijing?"
    assert "Thursday" in assistant.ask("On which day of the week?", history=[held]).sentences[0].text
    # "What else" after a list question: not the sentences already quoted, unless nothing else answers.
    first = assistant.ask("What was agreed in San Francisco?")
    more = assistant.ask("What else was agreed?", history=["What was agreed in San Francisco?"])
    assert {(s.article_id, s.start) for s in more.sentences}.isdisjoint({(s.article_id, s.start)
                                                                       for s in first.sentences})
    # ... except one that holds what the follow-up newly asks ("agree"), which was quoted for the areas
    areas = "In which areas did the Track 1.5 Dialogue say China and the U.S. should deepen cooperation?"
    agreed = assistant.ask("What else did the two sides agree on?", history=[areas])
    assert "strengthen communication" in agreed.sentences[0].text
    # After a question about one thing, the rest may be in the very sentence that answered it.
    theory = "What theory did Wang Yi ask the US to stop speculating on?"
    assert "threat theory" in assistant.ask(theory).sentences[0].text
    more = assistant.ask("What else did he ask the US to do?", history=[theory])
    assert "illegal unilateral sanctions" in more.sentences[0].text


def test_qa_ask_follow_up_and_qa_chat(bundled_settings):
    index_dir = str(bundled_settings.index_dir)
    run = qa("ask", "--follow-up", "How long did Blinken meet Qin Gang on Sunday?", "And Wang Yi?",
             "--index-dir", index_dir)
    assert run.returncode == 0, run.stderr
    assert "Understood as: How long did Blinken meet Wang Yi on Sunday?" in run.stdout
    run = qa("chat", "--index-dir", index_dir, stdin="Who did Blinken meet on Sunday?\nHow long did it last?\n\n")
    assert run.returncode == 0, run.stderr
    assert run.stdout.count("Q: ") == 2 and "Understood as: How long did it last?" in run.stdout
    assert "seven and a half hours" in run.stdout.split("Q: How long")[1]


def test_a_fast_follow_up_replays_the_conversation_without_the_span_reader(assistant, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the span reader ran on a --fast ask")

    monkeypatch.setattr(assistant.reader, "best", refuse)
    answer = assistant.ask("What did he tell him about Taiwan?", fast=True,
                           history=["What did Xi and Trump discuss on the phone?"])
    assert "Trump" in answer.understood and not answer.abstained
