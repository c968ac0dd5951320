"""Reading survives every bad file: odd encodings, symlinks, oversized files, endless sentences, random bytes."""
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from qa.chunk import article_sentences
from qa.config import LimitSettings, Settings
from qa.ingest import SUFFIXES, IngestError, SourceFile, load_corpus, read_articles, scan_corpus
from qa.text import split_sentences

BODY = "The summit ended on Friday. Both leaders agreed to meet again in spring."


def by_name(skipped):
    return {s.path.rsplit("/", 1)[-1]: s.reason for s in skipped}


def test_byte_order_marks_and_latin1_decode_to_the_right_characters(tmp_path):
    text = "Die Stra\u00dfe in M\u00fcnchen ist gesperrt. \u00d6ffnungszeiten \u00e4ndern sich \u2013 bis Montag."
    (tmp_path / "utf16.txt").write_bytes(text.encode("utf-16"))  # with its BOM, as Notepad writes it
    (tmp_path / "utf16be.txt").write_bytes(b"\xfe\xff" + text.encode("utf-16-be"))
    (tmp_path / "utf32.md").write_bytes(text.encode("utf-32"))
    (tmp_path / "utf8bom.txt").write_bytes(text.encode("utf-8-sig"))
    latin = "Caf\u00e9 in Z\u00fcrich\n\nThe caf\u00e9 reopened on Monday. Its owner expects more guests."
    (tmp_path / "latin.txt").write_bytes(latin.encode("latin-1"))
    articles, skipped = load_corpus(tmp_path)
    assert skipped == []
    got = {a.id: a for a in articles}
    assert {i: a.text for i, a in got.items()} == {"utf16": text, "utf16be": text, "utf32": text, "utf8bom": text,
                                                  "latin": latin}
    assert got["latin"].title == "Caf\u00e9 in Z\u00fcrich"


def test_bad_byte_order_mark_is_a_skip_with_a_reason(tmp_path):
    (tmp_path / "half.txt").write_bytes(b"\xfe\xff\x00A\x00")  # UTF-16-BE BOM, then an odd byte out
    (tmp_path / "good.txt").write_text(BODY)
    articles, skipped = load_corpus(tmp_path)
    assert [a.id for a in articles] == ["good"]
    assert by_name(skipped) == {"half.txt": "starts with a UTF-16 byte-order mark but is not valid UTF-16"}


def test_symlinks_inside_are_followed_the_others_named(tmp_path):
    corpus, outside = tmp_path / "corpus", tmp_path / "outside"
    (corpus / "sub").mkdir(parents=True)
    outside.mkdir()
    (corpus / "sub" / "real.txt").write_text(BODY)
    (outside / "secret.txt").write_text("Outside text. It must not be indexed.")
    (corpus / "inside.txt").symlink_to(corpus / "sub" / "real.txt")
    (corpus / "escape.txt").symlink_to(outside / "secret.txt")
    (corpus / "escape_dir").symlink_to(outside, target_is_directory=True)
    (corpus / "relative.txt").symlink_to("../outside/secret.txt")
    (corpus / "sub" / "up").symlink_to("..", target_is_directory=True)  # a loop back to the corpus folder
    (corpus / "self.txt").symlink_to("self.txt")  # a link to itself
    (corpus / "dangling.txt").symlink_to("gone.txt")
    (corpus / "notes.doc").symlink_to(outside / "secret.txt")  # not an article file: ignored, as any .doc is
    articles, skipped = load_corpus(corpus)
    assert sorted(a.id for a in articles) == ["inside", "sub/real"]
    assert by_name(skipped) == {
        "escape.txt": "symlink leads outside the corpus",
        "escape_dir": "symlink leads outside the corpus",
        "relative.txt": "symlink leads outside the corpus",
        "up": "symlink loop",
        "self.txt": "symlink loop",
        "dangling.txt": "broken symlink (its target does not exist)",
    }
    # The link is named, not what it points to.
    assert str(corpus.resolve() / "escape.txt") in {s.path for s in skipped}


def test_symlinked_folder_outside_hidden_files_is_indexed_once(tmp_path):
    corpus = tmp_path / "corpus"
    (corpus / ".drafts").mkdir(parents=True)
    (corpus / ".drafts" / "draft.txt").write_text(BODY)
    (corpus / "drafts").symlink_to(corpus / ".drafts", target_is_directory=True)
    (corpus / "again").symlink_to(corpus / ".drafts", target_is_directory=True)
    articles, skipped = load_corpus(corpus)
    assert [a.id for a in articles] == ["again/draft"]  # names are read in order; the second link is named
    assert by_name(skipped) == {"drafts": f"symlink to a folder already read ({(corpus / '.drafts').resolve()})"}


def test_file_over_the_size_limit_is_skipped(tmp_path, monkeypatch):
    (tmp_path / "small.txt").write_text(BODY)
    (tmp_path / "big.txt").write_text(BODY + " More words." * 500)
    limit = 2000
    scan = scan_corpus(tmp_path, max_bytes=limit)
    assert [f.rel_id for f in scan.files] == ["small"]
    [skip] = scan.skipped
    assert skip.path.endswith("big.txt") and skip.reason.startswith("larger than the size limit")
    assert "QA_MAX_FILE_MB" in skip.reason and "\n" not in skip.reason
    with pytest.raises(IngestError, match="larger than the size limit"):
        read_articles(SourceFile(tmp_path / "big.txt", "big", ""), max_bytes=limit)
    # The limit is a setting, with an environment override.
    assert Settings().limits.max_file_bytes == 20 * 2**20
    monkeypatch.setenv("QA_MAX_FILE_MB", "0.5")
    monkeypatch.setenv("QA_MAX_SENTENCE_CHARS", "300")
    assert Settings.from_env().limits == LimitSettings(max_file_mb=0.5, max_sentence_chars=300)
    monkeypatch.setenv("QA_MAX_FILE_MB", "lots")
    with pytest.raises(ValueError, match="QA_MAX_FILE_MB: expected a positive number"):
        Settings.from_env()


def test_a_file_gone_or_unreadable_at_read_time_is_an_ingest_error(tmp_path):
    with pytest.raises(IngestError, match="cannot read: No such file or directory"):
        read_articles(SourceFile(tmp_path / "vanished.txt", "vanished", ""))


def test_endless_sentence_is_split_with_exact_offsets(tmp_path):
    words = " ".join(f"item{n}" for n in range(800))  # about 5,700 characters and not one full stop
    text = f"Short opening line. The list reads {words} and ends here. Closing sentence."
    pieces = split_sentences(text, max_chars=1000)
    assert all(e - s <= 1000 for s, e in pieces)
    assert text[slice(*pieces[0])] == "Short opening line." and text[slice(*pieces[-1])] == "Closing sentence."
    long_start, long_end = pieces[1][0], pieces[-2][1]
    assert " ".join(text[s:e] for s, e in pieces[1:-1]) == text[long_start:long_end]  # nothing lost, no word cut
    # One 5,000-character "word": cut exactly at the limit.
    blob = "x" * 5000
    assert split_sentences(blob, max_chars=1000) == [(i, i + 1000) for i in range(0, 5000, 1000)]
    # Through a file: the offsets index the text as open() reads it.
    path = tmp_path / "long.txt"
    path.write_text(text + "\n")
    [article] = read_articles(SourceFile(path, "long", ""))
    sentences = article_sentences(article)
    on_disk = open(path).read()
    assert len(sentences) > 5 and all(e - s <= 1000 for s, e in sentences)
    assert all(on_disk[s:e] == article.text[s:e] for s, e in sentences)
    assert split_sentences(text) == [pieces[0], (long_start, long_end), pieces[-1]]  # no limit: one sentence


# --- property: whatever the bytes, a file is indexed or skipped with a one-line reason, never an exception --------

ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-32", "cp1252", "latin-1", "cp1251", "koi8-r",
             "shift_jis", "gb18030", "iso-8859-7"]
SUFFIX_LIST = sorted(SUFFIXES)
text_files = st.tuples(st.sampled_from(SUFFIX_LIST), st.sampled_from(ENCODINGS), st.text(max_size=400)).map(
    lambda t: (t[0], t[2].encode(t[1], errors="ignore")))
byte_files = st.tuples(st.sampled_from(SUFFIX_LIST), st.binary(max_size=1500))
PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(files=st.lists(st.one_of(text_files, byte_files), min_size=1, max_size=5))
def test_every_file_is_indexed_or_skipped_with_a_reason(files):
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp)
        for n, (suffix, data) in enumerate(files):
            (corpus / f"f{n}{suffix}").write_bytes(data)
        scan = scan_corpus(corpus)
        for source in scan.files:
            try:
                articles = read_articles(source)
            except IngestError as exc:
                reason = str(exc)
                assert reason and "\n" not in reason
            else:
                assert articles and all(a.spans for a in articles)
        articles, skipped = load_corpus(corpus)
        read = {Path(a.path).name for a in articles}
        named = {Path(s.path).name for s in skipped}
        assert read | named == {f"f{n}{suffix}" for n, (suffix, _) in enumerate(files)}
        assert not read & named
        assert all(s.reason and "\n" not in s.reason for s in skipped)


@PROPERTY
@given(text=st.text(min_size=1, max_size=400), encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-32"]))
def test_unicode_with_or_without_a_mark_reads_back_exactly(text, encoding):
    assume(not (encoding == "utf-8" and text.startswith("\ufeff")))  # those bytes are a BOM file
    assume(not (encoding == "utf-16" and text.startswith("\x00")))  # FF FE 00 00: also the UTF-32 mark, ambiguous
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "a.txt"
        path.write_bytes(text.encode(encoding))
        try:
            [article] = read_articles(SourceFile(path, "a", ""))
        except IngestError as exc:
            # Only text with nothing to index, or NUL bytes without a BOM to say it is text, may fail.
            assert str(exc) in ("empty file", "no article text found", "binary file, not text"), str(exc)
            return
        assert article.text == text.replace("\r\n", "\n").replace("\r", "\n")


@PROPERTY
@given(data=st.binary(min_size=1, max_size=3000), suffix=st.sampled_from(SUFFIX_LIST))
def test_random_bytes_raise_nothing_but_ingest_error(data, suffix):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"x{suffix}"
        path.write_bytes(data)
        try:
            read_articles(SourceFile(path, "x", ""))
        except IngestError as exc:
            assert str(exc) and "\n" not in str(exc)


def test_random_pdf_like_bytes_are_skipped(tmp_path):
    # What a fuzzer rarely reaches by chance: a PDF header followed by nonsense, and a PDF cut in half.
    from tests.pdfs import write_pdf

    write_pdf(tmp_path / "whole.pdf", [["The summit ended on Friday."]])
    data = (tmp_path / "whole.pdf").read_bytes()
    (tmp_path / "half.pdf").write_bytes(data[: len(data) // 2])
    (tmp_path / "noise.pdf").write_bytes(b"%PDF-1.7\n" + os.urandom(2000))
    articles, skipped = load_corpus(tmp_path)
    assert [a.id for a in articles] == ["whole"]
    assert set(by_name(skipped)) == {"half.pdf", "noise.pdf"}
