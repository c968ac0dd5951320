"""Time expressions in news sentences and in questions (qa.dates): regex-located, dateutil-resolved, no model."""
from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from qa.dates import TimeScope, When, event_date, find_dates, parse_question

D = dt.date
TODAY = D(2025, 11, 25)  # a Tuesday


@pytest.mark.parametrize("text, base, labels", [
    # Sentences of the bundled collection.
    ("Beijing and Washington officially established ties on January 1, 1979, based on agreements reached after "
     "years of negotiations.", None, ["1979-01-01"]),
    ("The two presidents met in person for the first time in November 2022, on Indonesia's resort city of Bali.",
     D(2023, 11, 16), ["2022-11"]),
    ("Chinese President Xi Jinping said on Monday that China and the United States should keep up the momentum in "
     "ties", D(2025, 11, 25), ["2025-11-24"]),
    ("Xi noted that he and Trump had a successful meeting in Busan last month, and reached many important common "
     "understandings.", D(2025, 11, 25), ["2025-10"]),
    ("A panel discussion is held under the framework of the China-U.S. Track 1.5 Dialogue, New York, U.S., "
     "January 8, 2024. /CFP", None, ["2024-01-08"]),
    ("BEIJING, Nov. 24 (Xinhua) -- Chinese President ...", D(2025, 11, 25), ["2025-11-24"]),
    ("The new year's messages between the two leaders come as the two countries bid to restore relations that have "
     "reached their most confrontational point in 45 years since ties were established in 1979.", None, ["1979"]),
    ("Hours of talks across two days have seemingly done little", D(2023, 6, 19), []),
    ("Mr Wang spoke with Mr Blinken for more than three hours", D(2023, 6, 19), []),
    # Absolute forms.
    ("Jan. 8, 2024", None, ["2024-01-08"]),
    ("Nov. 24, 2025", None, ["2025-11-24"]),
    ("Sept. 3, 2023 and 8 January 2024", None, ["2023-09-03", "2024-01-08"]),
    ("on the 8th of November 2023", None, ["2023-11-08"]),
    ("They met in August 2022.", None, ["2022-08"]),
    ("It was released 2024-01-08.", None, ["2024-01-08"]),
    ("It has grown since 1979, and by mid-2020 and in early 1999 too.", None, ["1979", "2020", "1999"]),
    ("Trade rose from 2019 to 2021.", None, ["2019-01-01/2021-12-31"]),
    ("He spoke on Monday, Jan. 8, 2024, in Washington.", D(2024, 1, 10), ["2024-01-08"]),  # one date, not two
    # Numbers that are not years.
    ("The dispute lasted five years and then 45 years, over three hours.", TODAY, []),
    ("There were 2024 delegates, a total of 2024 delegates, in room 1979 and a group of 1999.", TODAY, []),
    ("By the end of 2023 talks resumed.", None, ["2023"]),
    # Leap years and impossible days.
    ("It happened on Feb. 29, 2024.", None, ["2024-02-29"]),
    ("It happened on February 29, 2023.", None, []),
    ("It happened on Feb. 29.", D(2025, 3, 1), ["2024-02-29"]),
    ("Prices fell last month.", D(2024, 3, 15), ["2024-02"]),
    # 'May' the verb.
    ("Talks may resume; it may be too early, and 30 may attend.", TODAY, []),
    ("May be delayed, officials said.", TODAY, []),
    ("Elections in May 2024 and on May 5 and in May.", D(2024, 6, 1), ["2024-05", "2024-05-05", "2024-05"]),
    # Month and day without a year: the latest such day on or before base.
    ("on June 18", D(2023, 6, 19), ["2023-06-18"]),
    ("on Dec. 30", D(2024, 1, 2), ["2023-12-30"]),
    ("on 18 June", D(2023, 6, 19), ["2023-06-18"]),
    # Weekdays: on or before base, same day allowed.
    ("on Monday", D(2023, 6, 19), ["2023-06-19"]),
    ("on Sunday", D(2023, 6, 19), ["2023-06-18"]),
    ("Thursday", TODAY, ["2025-11-20"]),
    ("last Monday", D(2023, 6, 19), ["2023-06-12"]),
    ("next Friday", TODAY, []),
    ("Mondays are quiet", TODAY, []),
    # Relative phrases.
    ("last week", TODAY, ["2025-11-17/2025-11-23"]),
    ("last week", D(2023, 6, 19), ["2023-06-12/2023-06-18"]),
    ("last month", D(2024, 1, 10), ["2023-12"]),
    ("last year's talks", TODAY, ["2024"]),
    ("this year", TODAY, ["2025"]),
    ("yesterday", D(2024, 1, 1), ["2023-12-31"]),
    ("today", TODAY, ["2025-11-25"]),
    ("earlier this month", TODAY, ["2025-11-01/2025-11-25"]),
    ("a month ago", D(2025, 3, 31), ["2025-02"]),
    ("a year ago", TODAY, ["2024"]),
    ("two weeks ago", TODAY, ["2025-11-10/2025-11-16"]),
    ("3 days ago", TODAY, ["2025-11-22"]),
    # A month without a year: the latest such whole month starting on or before base.
    ("in November", TODAY, ["2025-11"]),
    ("In November", D(2024, 1, 2), ["2023-11"]),
    ("in December", D(2024, 1, 2), ["2023-12"]),
    ("last November", TODAY, ["2024-11"]),  # said in November, it means the year before
    ("last November", D(2025, 12, 3), ["2025-11"]),
    ("since mid-November", TODAY, ["2025-11"]),
])
def test_find_dates(text, base, labels):
    assert [when.label for when in find_dates(text, base)] == labels


@pytest.mark.parametrize("text", [
    "on Monday", "last month", "Nov. 24", "In November", "yesterday", "last week", "two weeks ago", "this year"])
def test_relative_expressions_need_a_base(text):
    assert find_dates(text) == []
    assert find_dates(text, TODAY)


def test_texts_and_spans_are_those_of_the_sentence_in_order():
    sentence = "Xi met Trump in Busan last month and spoke on Monday, after talks in November 2022 and in 1979."
    found = find_dates(sentence, TODAY)
    assert [w.text for w in found] == ["last month", "on Monday", "November 2022", "in 1979"]
    assert all(sentence[w.span[0]:w.span[1]] == w.text for w in found)
    assert found[0] == When("2025-10-01", "2025-10-31", "last month", (22, 32))


def test_a_datetime_base_is_accepted():
    assert find_dates("on Monday", dt.datetime(2025, 11, 25, 14, 30))[0].start == "2025-11-24"


@pytest.mark.parametrize("sentence, base, label", [
    ("The two presidents met in person for the first time in November 2022, on Indonesia's resort city of Bali.",
     dt.date(2023, 11, 16), "2022-11"),
    ("Beijing and Washington officially established ties on January 1, 1979, based on agreements reached after "
     "years of negotiations.", None, "1979-01-01"),
    # A date after 'since'/'after' in its clause is the point another event is measured from, not the event's own.
    ("It was the seventh meeting between the presidents of China and the United States since Biden took office in "
     "January 2021, and their second face-to-face talks.", dt.date(2023, 11, 16), None),
    ("It was their seventh meeting since Biden took office in January 2021, and their second talks in 2023.", None,
     "2023"),
    ("The new year's messages come as relations have reached their most confrontational point in 45 years since "
     "ties were established in 1979.", None, None),
    # The first expression cannot be resolved without the article's day: the event's date is unknown.
    ("In November, Xi and Biden met in San Francisco and restored channels curtailed after Pelosi's visit to Taiwan "
     "in August 2022.", None, None),
    ("Hours of talks across two days have seemingly done little", TODAY, None),
    ("He arrived on Monday.", None, None),
])
def test_event_date_is_the_sentence_own(sentence, base, label):
    when = event_date(sentence, base)
    assert (when.label if when else None) == label


@pytest.mark.parametrize("start, end, label", [
    ("2023-11-16", "2023-11-16", "2023-11-16"),
    ("2022-11-01", "2022-11-30", "2022-11"),
    ("2024-02-01", "2024-02-29", "2024-02"),
    ("2023-02-01", "2023-02-28", "2023-02"),
    ("2024-02-01", "2024-02-28", "2024-02-01/2024-02-28"),
    ("1979-01-01", "1979-12-31", "1979"),
    ("2022-01-01", "2024-12-31", "2022-01-01/2024-12-31"),
    ("2023-12-25", "2023-12-31", "2023-12-25/2023-12-31"),
])
def test_labels(start, end, label):
    assert When(start, end, "x").label == label


@pytest.mark.parametrize("question, today, expected", [
    ("What happened in 2024?", TODAY, dict(start="2024-01-01", end="2024-12-31", expressions=("in 2024",))),
    ("What did they sign during 2023?", TODAY, dict(start="2023-01-01", end="2023-12-31")),
    ("Who visited Beijing in November 2023?", TODAY,
     dict(start="2023-11-01", end="2023-11-30", expressions=("in November 2023",))),
    # "late", "early" or "mid" narrow nothing: the whole month
    ("Whom did Xi phone in late November 2025?", TODAY,
     dict(start="2025-11-01", end="2025-11-30", expressions=("in November 2025",))),
    ("What was agreed in 1979?", TODAY, dict(start="1979-01-01", end="1979-12-31")),
    ("What did Xi say LAST YEAR?", TODAY, dict(start="2024-01-01", end="2024-12-31", order=None)),
    ("What happened this year?", TODAY, dict(start="2025-01-01", end="2025-12-31")),
    ("Where did Xi and Trump meet last month?", TODAY, dict(start="2025-10-01", end="2025-10-31", order=None)),
    ("What happened last month?", D(2025, 1, 10), dict(start="2024-12-01", end="2024-12-31")),
    ("What happened in December?", D(2025, 1, 10), dict(start="2024-12-01", end="2024-12-31")),
    ("What changed since 2023?", TODAY, dict(start="2023-01-01", end=None, expressions=("since 2023",))),
    ("What happened before 2024?", TODAY, dict(start=None, end="2023-12-31", relation=None, event=None)),
    ("What happened after 2022?", TODAY, dict(start="2023-01-01", end=None, relation=None)),
    ("What happened between 2022 and 2024?", TODAY, dict(start="2022-01-01", end="2024-12-31")),
    ("What happened between November 2022 and March 2023?", TODAY, dict(start="2022-11-01", end="2023-03-31")),
    ("What happened from January 2023 to March 2024?", TODAY, dict(start="2023-01-01", end="2024-03-31")),
    ("What happened prior to 2020?", TODAY, dict(start=None, end="2019-12-31", event=None)),
    ("What changed since last year?", TODAY, dict(start="2024-01-01", end=None, expressions=("since last year",))),
    ("What happened on January 8, 2024?", TODAY, dict(start="2024-01-08", end="2024-01-08")),
    ("What happened on Nov. 24?", TODAY, dict(start="2025-11-24", end="2025-11-24")),
    ("What was the latest meeting?", TODAY, dict(order="latest", expressions=("latest",))),
    ("What is the most recent statement on Taiwan?", TODAY, dict(order="latest", expressions=("most recent",))),
    ("Who did Blinken meet most recently?", TODAY, dict(order="latest")),
    ("What is the newest tariff?", TODAY, dict(order="latest")),
    ("When was the last time they met?", TODAY, dict(order="latest")),
    ("What did Xi recently say?", TODAY, dict(order="latest")),
    ("When did they last meet?", TODAY, dict(order="latest", start=None)),
    ("Where did the two presidents first meet in person?", TODAY, dict(order="earliest")),
    ("What was the earliest agreement?", TODAY, dict(order="earliest")),
    ("When did they meet for the first time?", TODAY, dict(order="earliest")),
    ("What was initially agreed?", TODAY, dict(order="earliest")),
    ("What happened before the San Francisco summit?", TODAY,
     dict(relation="before", event="the San Francisco summit", expressions=("before the San Francisco summit",))),
    ("What did they agree after the Bali meeting?", TODAY, dict(relation="after", event="the Bali meeting")),
    ("What followed the Busan meeting?", TODAY, dict(relation="after", event="the Busan meeting")),
    ("What did Xi say ahead of the APEC summit?", TODAY, dict(relation="before", event="the APEC summit")),
    ("When did they last meet before the San Francisco summit?", TODAY,
     dict(order="latest", relation="before", event="the San Francisco summit",
          expressions=("last", "before the San Francisco summit"))),
    ("What has changed since the Pelosi visit?", TODAY, dict(relation="after", event="the Pelosi visit")),
    ("Who spoke after the Bali meeting with Biden?", TODAY, dict(event="the Bali meeting")),
    ("What was said before the Busan talks and the summit?", TODAY, dict(event="the Busan talks")),
    # A date in the event's name dates the event; it is not a range of the question's.
    ("What did Xi say after the Bali meeting in 2022?", TODAY,
     dict(relation="after", event="the Bali meeting in 2022", start=None, end=None)),
    ("What happened to the channels after Nancy Pelosi's August 2022 visit to Taiwan?", TODAY,
     dict(relation="after", event="Nancy Pelosi's August 2022 visit to Taiwan", start=None, end=None)),
    ("After their first meeting in Bali, where did Biden and Xi next hold talks?", TODAY,
     dict(relation="after", event="their first meeting in Bali", order="earliest")),
    # After doing something is a clause, not a named event: its date scopes the question.
    ("What did Biden announce after meeting Xi in November 2023?", TODAY,
     dict(relation=None, event=None, start="2023-11-01", end="2023-11-30")),
    # So is a subject with its verb (cut at 'and', the event would be 'Biden'); a possessive names an event.
    ("What did they agree after Biden and Xi met in November 2023?", TODAY,
     dict(relation=None, event=None, start="2023-11-01", end="2023-11-30")),
    ("What happened after Trump's delayed visit?", TODAY, dict(relation="after", event="Trump's delayed visit")),
    # 'next' orders only after something; without it, it says nothing about time.
    ("What did Xi say after the Bali meeting and who spoke next?", TODAY, dict(relation="after", order="earliest")),
    ("How long did their most recent meeting last?", TODAY, dict(order="latest")),
    ("What was the first deal after the Bali meeting?", TODAY,
     dict(order="earliest", relation="after", event="the Bali meeting")),
    ("What happened before the first summit?", TODAY, dict(order=None, event="the first summit")),
])
def test_parse_question(question, today, expected):
    scope = parse_question(question, today)
    assert not scope.empty
    for field, value in expected.items():
        assert getattr(scope, field) == value, field


@pytest.mark.parametrize("question", [
    "What follow-up did Blinken and Qin Gang agree to schedule next?",
    # A duration is measured from the event or the last time, which do not limit or order the answer.
    "How long had it been since a US secretary of state last visited China before Blinken's trip?",
    "How long before their November 2025 phone call had Xi and Trump met in Busan?",
    "And how long did they last?",  # a follow-up's duration: "last" is the verb
    "What will they discuss next year?",
    "When did Joe Biden take office?",
    "On which day of the week did Blinken hold talks?",
    "How many representatives attended the Track 1.5 Dialogue?",
    "Who did Blinken meet on Sunday?",
    "What happened after that?",
    "What changed after Biden and Xi met?",
    "What did Xi say after the two presidents spoke?",
    "Who may attend the summit?",
])
def test_unscoped_questions_are_empty(question):
    scope = parse_question(question, TODAY)
    assert scope == TimeScope() and scope.empty


def test_a_dated_thing_the_question_names_scopes_nothing_but_is_kept():
    # "Whose August 2022 trip": the date describes the thing asked about; it limits no answer, but no report from
    # before August 2022 can be about it
    trip = parse_question("Whose August 2022 trip to Taiwan led to the curtailing of US-China channels?", TODAY)
    assert replace(trip, described=None) == TimeScope() and trip.described == ("August 2022", "2022-08-01")
    call = parse_question("How long did the November 2025 phone call between Xi and Trump last?", TODAY)
    assert call.described == ("November 2025", "2025-11-01") and call.expressions == ()
    # a day without its year names no day for certain
    assert parse_question("What was said on the Nov. 24 call?", TODAY).described is None
