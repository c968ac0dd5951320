"""Cleaning finds the content of the collection's raw pages without moving a single character."""
from pathlib import Path

import pytest

from qa.chunk import article_sentences
from qa.clean import byline_date, clean
from qa.ingest import SourceFile, read_articles

CORPUS = Path(__file__).resolve().parent.parent / "corpus"


def content(name: str) -> str:
    text = (CORPUS / name).read_text()
    return "\n".join(text[s:e] for s, e in clean(text).spans)


@pytest.mark.parametrize("name, furniture", [
    ("003_42fb9e8cdcba927c.txt", "Cookie Policy"),  # cookie and privacy notice
    ("003_42fb9e8cdcba927c.txt", "use of cookies"),
    ("003_42fb9e8cdcba927c.txt", "I agree"),  # its button
    ("003_42fb9e8cdcba927c.txt", "Search Trends"),  # trailer
    ("004_853fa212cfd9642b.txt", "sign up"),  # newsletter prompt
    ("004_853fa212cfd9642b.txt", "email address"),
    ("004_853fa212cfd9642b.txt", "{{"),  # template code
    ("004_853fa212cfd9642b.txt", "Something went wrong"),
    ("001_cd19cef5703942ac.txt", "16 px"),  # font-size widget
    ("001_cd19cef5703942ac.txt", "\u21ba"),
    ("002_3267ac7c794f8952.txt", "date 2025"),  # the date line is metadata, not content
])
def test_furniture_is_removed(name, furniture):
    assert furniture.lower() in (CORPUS / name).read_text().lower()
    assert furniture.lower() not in content(name).lower()


def test_paragraph_repeated_verbatim_is_kept_once():
    caption = "A panel discussion is held under the framework of the China-U.S. Track 1.5 Dialogue"
    raw = (CORPUS / "003_42fb9e8cdcba927c.txt").read_text()
    assert raw.count(caption) == 3
    assert content("003_42fb9e8cdcba927c.txt").count(caption) == 1


def test_news_text_is_kept():
    assert "Also, China and the United States agreed to cooperate in anti-drug efforts." in content(
        "001_cd19cef5703942ac.txt")
    assert "The US secretary of state Antony Blinken is meeting" in content("004_853fa212cfd9642b.txt")


@pytest.mark.parametrize("path", sorted(CORPUS.glob("*.txt")), ids=lambda p: p.name)
def test_sentence_offsets_point_into_the_file_on_disk(path):
    [article] = read_articles(SourceFile(path, path.stem, "x"))
    on_disk = open(path).read()
    assert article.text == on_disk
    sentences = article_sentences(article)
    assert len(sentences) >= 8
    for s, e in sentences:
        assert on_disk[s:e] == article.text[s:e]
        assert on_disk[s:e].strip() == on_disk[s:e] and "{{" not in on_disk[s:e]


def test_title_and_date():
    cases = {
        "002_3267ac7c794f8952.txt": ("Xi says China, U.S. should keep up momentum in ties, move forward in right "
                                     "direction", "2025-11-25"),
        "003_42fb9e8cdcba927c.txt": ("China-U.S. Track 1.5 Dialogue agrees to step up talks, avoid conflicts", None),
        "004_853fa212cfd9642b.txt": (None, "2023-06-19"),
    }
    for name, (title, date) in cases.items():
        cleaned = clean((CORPUS / name).read_text())
        assert cleaned.date == date
        if title:
            assert cleaned.title == title
    # No headline: the first sentence, shortened, stands in.
    [article] = read_articles(SourceFile(CORPUS / "004_853fa212cfd9642b.txt", "004", "x"))
    assert article.title.startswith("The US secretary of state Antony Blinken is meeting")
    assert len(article.title) < 100


@pytest.mark.parametrize("line, date", [
    ("November 25, 2025", "2025-11-25"),
    ("Monday, Nov. 3, 2025", "2025-11-03"),
    ("Published: 14 May 2024", "2024-05-14"),
    ("By Jane Roe | March 3, 2024", "2024-03-03"),
    ("November 25 was a Monday, 2025", None),
    ("The talks ended on March 3, 2024 with no agreement.", None),  # a sentence that mentions a date
    ("By Nadia Farrell | March 2025", None),  # no day: not a publication date
])
def test_byline_dates(line, date):
    assert byline_date(line) == date
