"""The reader table: every format it names is read into articles with checkable offsets; a new format (.docx here)
is one module plus one table line, and a broken file of it is a one-line skip."""
from docx import Document

from qa.ingest import load_corpus
from qa.readers import READERS, SUFFIXES
from ui.uploads import save_upload


def _docx(path, title=None):
    document = Document()
    if title:
        document.add_heading(title, level=1)
    document.add_paragraph("The Velmora harbour council approved a tide barrier costing 38 million euros on Tuesday.")
    document.add_paragraph("Construction is due to start in the spring and take three years.")
    document.save(path)


def test_every_suffix_has_a_reader():
    assert SUFFIXES == set(READERS) and {".txt", ".md", ".pdf", ".html", ".htm", ".jsonl", ".docx"} <= SUFFIXES


def test_docx_is_read_with_its_headline_and_offsets(tmp_path):
    _docx(tmp_path / "barrier.docx", title="Velmora approves tide barrier")
    (tmp_path / "broken.docx").write_bytes(b"PK\x03\x04 not really a zip")
    articles, skipped = load_corpus(tmp_path)
    [article] = articles
    assert article.title == "Velmora approves tide barrier"
    start = article.text.index("The Velmora harbour council")
    assert any(s <= start < e for s, e in article.spans)  # content, with offsets into the extracted text
    assert [(s.path.split("/")[-1], s.reason) for s in skipped] == [("broken.docx", "corrupt .docx (BadZipFile)")]


def test_the_upload_widget_accepts_what_the_readers_read(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    source = tmp_path / "barrier.docx"
    _docx(source)
    saved = save_upload(source, corpus)
    assert saved.ok and (corpus / "barrier.docx").is_file()
