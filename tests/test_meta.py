"""Article metadata from the text: the date (with where it came from), the publisher and the headline, on the bundled
collection and on invented pages written from its patterns (tests/data/news_pages)."""
import json
from pathlib import Path

import pytest

from qa.ingest import load_corpus
from qa.dates import When
from qa.meta import date_bounds, date_label, possible_days, sentence_date
from qa.retrieve import DateRange
from qa.types import Sentence

PAGES = Path(__file__).parent / "data" / "news_pages"
CORPUS = Path(__file__).parent.parent / "corpus"
EXPECTED = json.loads((PAGES / "expected.json").read_text())


@pytest.fixture(scope="module")
def pages():
    articles, skipped = load_corpus(PAGES)
    assert skipped == []
    return {Path(a.path).name: a for a in articles if Path(a.path).name in EXPECTED}  # not the README


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_news_page_metadata(pages, name):
    article, want = pages[name], EXPECTED[name]
    assert (article.date, article.date_source, article.publisher) == (want["date"], want["date_source"],
                                                                      want["publisher"])
    if want["headline"]:
        assert article.title == want["headline"]
    else:  # no headline line: the title is the first sentence, shortened
        first = article.text[slice(*article.spans[0])]
        assert first.startswith(article.title.rstrip("\u2026"))


def test_bundled_collection_metadata():
    got = {a.id[:3]: a for a in load_corpus(CORPUS)[0]}
    stated = {"001": "2023-11-16", "002": "2025-11-25", "004": "2023-06-19"}
    for key, date in stated.items():
        assert (got[key].date, got[key].date_source) == (date, "meta")
    # Inferred, never stated, and never the caption's own day.
    assert (got["000"].date, got["000"].date_source) == ("2024", "inferred")
    assert "1979" in got["000"].date_note
    assert (got["003"].date, got["003"].date_source) == ("2024-01-08/..", "inferred")
    assert "caption" in got["003"].date_note
    assert got["002"].publisher == "Xinhua" and got["003"].publisher == "Xinhua"
    assert got["001"].publisher == "News.Az" and got["004"].publisher == "The Independent"
    assert got["000"].publisher is None  # the text names none
    assert got["002"].title.startswith("Xi says China, U.S. should keep up momentum")
    assert got["003"].title == "China-U.S. Track 1.5 Dialogue agrees to step up talks, avoid conflicts"


@pytest.mark.parametrize("date, bounds, label", [
    ("2023-11-16", ("2023-11-16", "2023-11-16"), "2023-11-16"),
    ("2024", ("2024-01-01", "2024-12-31"), "2024 (inferred)"),
    ("2024-02", ("2024-02-01", "2024-02-29"), "2024-02 (inferred)"),
    ("2024-01-08/..", ("2024-01-08", None), "not before 2024-01-08 (inferred)"),
    (None, (None, None), "undated"),
])
def test_date_bounds_and_label(date, bounds, label):
    assert date_bounds(date) == bounds
    assert date_label(date, "inferred" if date and date != "2023-11-16" else "meta") == label


def test_an_undated_sentence_can_be_of_its_reports_day_or_the_day_before():
    undated = Sentence("002", 0, 10, "Xi made the remarks while speaking with Trump.")
    # "BEIJING, Nov. 24 (Xinhua)", published on November 25: a range keeps it for either day; its order stays the 25th
    assert possible_days(undated, "2025-11-25") == ("2025-11-24", "2025-11-25")
    assert sentence_date(undated, "2025-11-25") == ("2025-11-25", "2025-11-25")
    assert possible_days(undated, "2024") == ("2024-01-01", "2024-12-31")  # a year is wide enough already
    assert possible_days(undated, None) == (None, None)
    # so does the article, for the range a retrieval keeps: its report may be of the 24th, not of the 26th
    assert DateRange("2025-11-24", "2025-11-24").admits("2025-11-25")
    assert not DateRange("2025-11-26", "2025-11-26").admits("2025-11-25")
    dated = Sentence("002", 0, 10, "He spoke on Monday.", When("2025-11-24", "2025-11-24", "on Monday"))
    assert possible_days(dated, "2025-11-25") == ("2025-11-24", "2025-11-24")  # its own day is known
