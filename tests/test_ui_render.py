"""The chat page's own pieces, without a server: text escaping in messages, and where uploaded files may go."""
from __future__ import annotations

import html
import os
from argparse import Namespace
from pathlib import Path

import pytest

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
