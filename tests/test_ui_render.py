"""The chat page's own pieces, without a server: text escaping in messages, where uploaded files may go, and how
answers, sources and whole articles are shown."""
from __future__ import annotations

import html
import os
import re
from argparse import Namespace
from pathlib import Path

import pytest

from qa.types import Answer, AnswerSentence, Article, Citation
from ui import render
from ui.uploads import destination, safe_filename, save_upload

# --- text is text -----------------------------------------------------------------------------------------------------

HOSTILE = ('<script>alert(1)</script> <img src=x onerror="alert(2)"> [link](http://example.com) **bold** '
           '_it_ `code` # heading $$x^2$$ <a href="javascript:alert(3)">a</a> &amp; www.example.com')


def test_text_leaves_no_markup_and_no_markdown():
    out = render.text(HOSTILE)
    assert "<" not in out and ">" not in out
    for mark in ("*", "_", "`", "[", "]", "(", ")", "#", "$", "\"", "'", ":", "/", "."):
        assert mark not in out.replace("&#", "").replace(";", ""), mark
    assert html.unescape(out) == " ".join(HOSTILE.split())  # the same text, only written as references


def test_text_squashes_whitespace():
    assert render.text("  a\n\n b\tc  ") == "a b c"
    assert render.text(" a ", strip=False) == " a "


def test_file_label_is_relative_to_the_corpus():
    assert render.file_label("000_abc", "/srv/secret/corpus/000_abc.txt") == "000_abc.txt"
    assert render.file_label("feeds/news#3", "corpus/feeds/news.jsonl") == "feeds/news.jsonl"


# --- upload names and places -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name, expected", [
    ("report.txt", "report.txt"),
    ("../../etc/cron.d/evil.txt", "evil.txt"),
    ("..\\..\\windows\\evil.MD", "evil.md"),
    ("/abs/path/a.pdf", "a.pdf"),
    (".hidden.html", "hidden.html"),
    ("a b\x00c<d>|e.txt", "a bc_d_e.txt"),
    ("..", ""),
    ("...txt", "txt"),  # no suffix left: refused as an unsupported type
    ("\u00e9t\u00e9 2024.txt", "\u00e9t\u00e9 2024.txt"),
])
def test_safe_filename(name, expected):
    assert safe_filename(name) == expected


def test_safe_filename_shortens_long_names():
    out = safe_filename("x" * 500 + ".txt")
    assert out.endswith(".txt") and len(out) <= 104


ARTICLE = b"# A small test article\n\nThe harbour council met on Tuesday and approved the new quay.\n"


@pytest.fixture
def corpus(tmp_path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    return folder


def _upload(tmp_path: Path, name: str, data: bytes) -> Path:
    source = tmp_path / "incoming" / os.urandom(4).hex() / "file"
    source.parent.mkdir(parents=True)
    source.write_bytes(data)
    return source


@pytest.mark.parametrize("name", ["../../escape.txt", "..\\..\\escape.txt", "/tmp/escape.txt",
                                  "sub/../../escape.txt"])
def test_uploads_never_leave_the_corpus_folder(tmp_path, corpus, name):
    saved = save_upload(_upload(tmp_path, name, ARTICLE), corpus, name)
    assert saved.ok and saved.new, saved
    assert saved.path.parent == corpus.resolve()
    assert [p.name for p in corpus.iterdir()] == ["escape.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus", "incoming"]  # nothing beside the corpus


def test_upload_refuses_unknown_suffixes_and_unreadable_files(tmp_path, corpus):
    cases = {
        "tool.exe": (b"MZ\x90\x00", "unsupported file type (.exe)"),
        "noext": (ARTICLE, "unsupported file type"),
        "empty.txt": (b"", "empty file"),
        "binary.txt": (b"\x00\x01\x02\x03 data", "binary file, not text"),
        "broken.pdf": (b"%PDF-1.4 not really", "corrupt PDF"),
    }
    for name, (data, reason) in cases.items():
        saved = save_upload(_upload(tmp_path, name, data), corpus, name)
        assert not saved.ok and reason in saved.note, (name, saved)
        assert "\n" not in saved.note
    assert list(corpus.iterdir()) == []  # refused files never enter the corpus


def test_upload_name_collisions_get_a_number_and_never_overwrite(tmp_path, corpus):
    (corpus / "note.md").write_bytes(b"# Another article\n\nSomething else entirely happened in the town.\n")
    first = save_upload(_upload(tmp_path, "note.txt", ARTICLE), corpus, "note.txt")
    assert first.ok and first.new and first.path.name == "note-1.txt"  # "note" is taken (as note.md): one id each
    again = save_upload(_upload(tmp_path, "note-1.txt", ARTICLE), corpus, "note-1.txt")
    assert again.ok and not again.new and "already in the collection" in again.note
    changed = ARTICLE.replace(b"Tuesday", b"Friday")
    second = save_upload(_upload(tmp_path, "note-1.txt", changed), corpus, "note-1.txt")
    assert second.new and second.path.name == "note-1-1.txt"
    assert (corpus / "note-1.txt").read_bytes() == ARTICLE
    assert (corpus / "note.md").read_bytes().startswith(b"# Another")


def test_upload_does_not_write_through_an_existing_link(tmp_path, corpus):
    target = tmp_path / "outside.txt"
    target.write_bytes(b"keep me")
    (corpus / "link.txt").symlink_to(target)
    path, same = destination(corpus, "link.txt", ARTICLE)
    assert not same and path.name == "link-1.txt"
    saved = save_upload(_upload(tmp_path, "link.txt", ARTICLE), corpus, "link.txt")
    assert saved.path.name == "link-1.txt" and target.read_bytes() == b"keep me"


def test_run_refuses_a_malformed_auth_before_loading_anything():
    from ui.app import run

    args = Namespace(host="127.0.0.1", port=7860, index_dir=None, corpus=None, auth="no-password-here")
    assert run(args) == 2


# --- answers as the page shows them (a small store in memory, no index) ----------------------------------------------

PAGE = ("Cookie notice: we use cookies.\n\n"  # furniture, left out by cleaning
        "Harbour council approves barrier\n\n"
        "The council approved a tide barrier on Tuesday. It will cost 38 million euros. "
        "Work starts in spring.\n\nSubscribe to our newsletter <b>now</b>!")
KEPT = [(PAGE.index("Harbour"), PAGE.index("Subscribe") - 2)]
SECOND = "Fishermen welcome the barrier. They had asked for it for a decade."


class Store:
    """What ``render`` reads of the index store: articles by id, and each article's sentence ranges."""

    def __init__(self, *articles: Article):
        self.articles = list(articles)

    def article_index(self, article_id):
        return next((i for i, a in enumerate(self.articles) if a.id == article_id), None)

    def article(self, idx):
        return self.articles[idx]

    def sentence_ranges(self, idx):
        text = self.articles[idx].text
        starts = [m.start() for m in re.finditer(r"(?<![\w<])[A-Z]\w+ [a-z]", text)]  # good enough for these texts
        return 0, [(s, text.index(".", s) + 1) for s in starts if "." in text[s:]]


def _sentence(article: Article, sentence: str, n: int) -> AnswerSentence:
    start = article.text.index(sentence)
    return AnswerSentence(sentence, n, article.id, start, start + len(sentence), 0.9, date="2024-05-07",
                          date_source="sentence")


def _citation(article: Article, n: int, publisher=None) -> Citation:
    return Citation(n, article.id, article.title, "2024-05-07", "meta", publisher, article.path, "passage", 0, 10)


@pytest.fixture
def two_articles():
    first = Article("harbour", "Harbour council approves barrier", "2024-05-07", "Velmora Post", "corpus/harbour.txt",
                    PAGE, spans=KEPT)
    second = Article("fishers", "Fishermen welcome <i>barrier</i>", "2024-05-08", None, "corpus/fishers.md", SECOND)
    return first, second


def test_answer_from_two_articles_is_grouped_per_source_with_links_to_them(two_articles):
    first, second = two_articles
    lead = _sentence(first, "It will cost 38 million euros.", 1)
    answer = Answer("How much will it cost?", "", False, 0.8,
                    [lead, _sentence(second, "Fishermen welcome the barrier.", 2),
                     _sentence(first, "The council approved a tide barrier on Tuesday.", 1)],
                    [_citation(first, 1, "Velmora Post"), _citation(second, 2)])
    out = render.answer_html(answer, Store(first, second), key="m3")
    groups = re.findall(r'<div class="qa-group">(.*?)</div>', out)
    assert len(groups) == 2
    assert "Harbour council approves barrier" in groups[0] and "Velmora Post" in groups[0]
    assert groups[0].index("38 million") < groups[0].index("approved a tide")  # the lead sentence first
    assert "Fishermen welcome &#60;i&#62;barrier&#60;&#47;i&#62;" in groups[1]  # a title stays text
    # Each [n] links to its source's id, unique to this message.
    assert out.count('<a class="qa-ref" href="#qa-m3-src-2">&#91;2&#93;</a>') == 2  # group head and sentence
    assert '<details class="qa-source" id="qa-m3-src-1">' in out and 'id="qa-m3-src-2"' in out
    assert render.source_id("M 3/x", 1) == "qa-m3x-src-1"  # only safe characters in an id


def test_answer_from_one_article_is_one_paragraph(two_articles):
    first, second = two_articles
    answer = Answer("q", "", False, 0.8, [_sentence(first, "It will cost 38 million euros.", 1)],
                    [_citation(first, 1)])
    out = render.answer_html(answer, Store(first, second))
    assert "qa-group" not in out and out.count('<p class="qa-answer">') == 1


def test_read_the_article_marks_quotes_and_strikes_out_furniture(two_articles):
    first, _ = two_articles
    quoted = "It will cost 38 million euros."
    start = PAGE.index(quoted)
    out = render.article_html(first, [(start, start + len(quoted))])
    assert f'<mark class="qa-quote">{render.text(quoted)}</mark>' in out
    struck = re.findall(r'<del class="qa-furniture"[^>]*>(.*?)</del>', out)
    assert [html.unescape(s) for s in struck] == ["Cookie notice: we use cookies.",
                                                  "Subscribe to our newsletter <b>now</b>!"]
    assert "<b>" not in out and "&#60;b&#62;now" in out  # furniture is text too
    assert out.count("<br><br>") >= 3  # the blank lines between paragraphs
    assert "\n" not in out  # one HTML block: no line of the article can end it


def test_read_the_article_of_a_long_article_stops_at_the_limit(monkeypatch, two_articles):
    monkeypatch.setattr(render, "MAX_ARTICLE_CHARS", 40)
    out = render.article_html(two_articles[0], [])
    assert f"({len(PAGE) - 40:,} more characters in the file)" in out and "Subscribe" not in out


def test_skipped_lists_build_and_upload_reasons_as_text():
    out = render.skipped_html([("a<b>.txt", "empty file")], [("evil.pdf", "corrupt PDF")])
    assert "Skipped by the last index build" in out and "a&#60;b&#62;&#46;txt" in out and "corrupt PDF" in out
    assert render.skipped_html([], []) == ""
