"""Every format becomes articles with checkable offsets; every bad file is skipped with a one-line reason."""
import json
import logging
import subprocess
import sys

from pypdf import PdfWriter

from qa.chunk import article_sentences
from qa.ingest import load_corpus
from tests.pdfs import write_pdf

BODY = "The summit ended on Friday. Both leaders agreed to meet again in spring."


def by_id(articles):
    return {a.id: a for a in articles}


def test_formats(tmp_path):
    (tmp_path / "plain.txt").write_text(f" date 2024-03-01\n\n{BODY}\n")
    (tmp_path / "notes.md").write_text(f"# Summit ends\n\n{BODY}\r\n")
    (tmp_path / "page.html").write_text(
        "<html><head><title>Site | Summit</title><meta property='article:published_time' content='2024-03-02T10:00'>"
        "<script>var x = 1;</script></head><body><nav>Home News</nav><h1>Summit ends</h1>"
        f"<p>{BODY}</p><footer>Cookie settings</footer></body></html>")
    (tmp_path / "feed.jsonl").write_text(
        json.dumps({"id": "a1", "title": "Summit ends", "date": "2024-03-03", "source": "Wire", "text": BODY}) + "\n"
        + "{not json}\n" + json.dumps({"title": "no text"}) + "\n")
    write_pdf(tmp_path / "report.pdf", [["The summit ended on Friday."], ["Both leaders agreed to meet again."]],
              title="Summit report")
    articles, skipped = load_corpus(tmp_path)
    assert skipped == []
    got = by_id(articles)
    assert set(got) == {"plain", "notes", "page", "feed#a1", "report"}
    assert got["plain"].date == "2024-03-01" and got["notes"].title == "Summit ends"
    assert got["page"].title == "Summit ends" and got["page"].date == "2024-03-02"
    assert "var x" not in got["page"].text and "Home News" not in got["page"].text
    assert (got["feed#a1"].title, got["feed#a1"].date, got["feed#a1"].publisher) == ("Summit ends", "2024-03-03", "Wire")
    assert got["report"].title == "Summit report"
    for article in articles:
        texts = [article.text[s:e] for s, e in article_sentences(article)]
        assert any("agreed to meet again" in t for t in texts), article.id
    # .txt and .md offsets index the file as open() reads it (\r\n becomes \n).
    for name in ("plain", "notes"):
        on_disk = open(tmp_path / f"{name}{'.txt' if name == 'plain' else '.md'}").read()
        for s, e in article_sentences(got[name]):
            assert on_disk[s:e] == got[name].text[s:e]
    # PDF sentences know their page.
    report = got["report"]
    pages = [report.page_at(s) for s, _ in article_sentences(report)]
    assert pages == [1, 2]


def test_bad_files_are_skipped_with_reasons_and_the_rest_indexed(tmp_path):
    (tmp_path / "good.txt").write_text(BODY)
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "blob.txt").write_bytes(bytes(range(256)) * 8)
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> garbage")
    writer = PdfWriter()
    writer.add_blank_page(200, 200)
    writer.encrypt("secret")
    with open(tmp_path / "locked.pdf", "wb") as f:
        writer.write(f)
    articles, skipped = load_corpus(tmp_path)
    assert [a.id for a in articles] == ["good"]
    reasons = {s.path.rsplit("/", 1)[-1]: s.reason for s in skipped}
    assert reasons["empty.txt"] == "empty file"
    assert "binary" in reasons["blob.txt"]
    assert reasons["broken.pdf"].startswith("corrupt PDF")
    assert reasons["locked.pdf"].startswith("encrypted PDF")
    assert all("\n" not in r for r in reasons.values())


def test_non_utf8_text_is_read_with_a_warning(tmp_path, caplog):
    (tmp_path / "latin.txt").write_bytes(
        "Le pr\u00e9sident a d\u00e9clar\u00e9 que les n\u00e9gociations \u00e9taient termin\u00e9es. "
        "Les d\u00e9l\u00e9gations ont quitt\u00e9 la r\u00e9union tr\u00e8s t\u00f4t.".encode("cp1252"))
    with caplog.at_level(logging.WARNING):
        articles, skipped = load_corpus(tmp_path)
    assert skipped == [] and "pr\u00e9sident" in articles[0].text
    assert any("not UTF-8" in r.message for r in caplog.records)


def test_missing_corpus_folder_is_one_line_error(tmp_path):
    run = subprocess.run([sys.executable, "-m", "qa", "index", "--corpus", str(tmp_path / "nope"),
                          "--index-dir", str(tmp_path / "index")], capture_output=True, text=True)
    assert run.returncode == 1
    assert run.stderr.strip().splitlines() == [f"qa index: error: {tmp_path / 'nope'}: corpus folder not found"]


def test_same_name_different_format_both_indexed(tmp_path):
    (tmp_path / "a.txt").write_text(BODY)
    (tmp_path / "a.md").write_text("# Other\n\nA different story about trade. It is short.")
    (tmp_path / "feed.jsonl").write_text(
        json.dumps({"id": 1, "text": BODY}) + "\n" + json.dumps({"id": 1, "text": "Duplicate id line."}) + "\n")
    articles, skipped = load_corpus(tmp_path)
    # Files are taken in name order: a.md keeps the plain id, a.txt keeps its extension.
    assert sorted(a.id for a in articles) == ["a", "a.txt", "feed#1"]


def test_date_line_below_the_first_line(tmp_path):
    (tmp_path / "later.txt").write_text(f"Site name\n date 2024-05-06\n\n{BODY}")
    [article], _ = load_corpus(tmp_path)
    assert article.date == "2024-05-06"
    assert all("date 2024" not in article.text[s:e] for s, e in article.spans)
