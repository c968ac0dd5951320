"""What every reader shares: the file it reads (``SourceFile``), the one-line error it raises, text decoding, and
``make_article``, which turns a reader's text and the metadata the file states into a cleaned, dated ``Article``."""
from __future__ import annotations

import codecs
import logging
from dataclasses import dataclass
from pathlib import Path

from dateutil.parser import isoparse

from ..clean import clean, short_title
from ..meta import read_meta
from ..text import split_sentences
from ..types import Article

log = logging.getLogger("qa.ingest")


class IngestError(Exception):
    """A file that cannot become an article; the message is the one-line reason."""


@dataclass
class SourceFile:
    """One file of the corpus, with the fingerprint that tells whether it changed since the last build."""

    path: Path
    rel_id: str  # path relative to the corpus folder, without extension
    fingerprint: str


def display_path(path: Path) -> str:
    """The path relative to the current directory when under it, else absolute."""
    path = path.resolve()
    try:
        return path.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def make_article(rel_id, path, text, *, title=None, date=None, publisher=None, pages=None) -> Article:
    """``title``, ``date`` and ``publisher`` are what the file's metadata states (HTML meta tags, JSON fields)."""
    cleaned = clean(text, title_hint=title)
    if not cleaned.title and cleaned.spans:
        s, e = cleaned.spans[0]
        first = split_sentences(text, s, e)
        cleaned.title = short_title(text[slice(*first[0])] if first else text[s:e])
    stated, source = (date, "meta") if date else (cleaned.date, cleaned.date_source)
    meta = read_meta(text, cleaned.spans, date=stated, date_source=source, publisher=publisher)
    return Article(
        id=rel_id, title=cleaned.title or path.stem, date=meta.date, publisher=meta.publisher,
        path=display_path(path), text=text, spans=cleaned.spans, pages=pages or [],
        date_source=meta.date_source, date_note=meta.date_note,
    )


# Longest first: the UTF-32-LE mark begins with the UTF-16-LE one (a UTF-16 text starting with U+0000 has both).
_BOMS = [(codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")]
# What text that is not UTF-8 plausibly is; left to itself, detection calls short Western text cp775 or cp1250.
_PLAUSIBLE = ["cp1252", "latin_1", "iso8859_15", "cp1250", "iso8859_2", "cp1251", "koi8_r", "iso8859_5", "cp1253",
              "iso8859_7", "cp1254", "cp1255", "cp1256", "cp1257", "cp874", "cp932", "euc_jp", "gb18030", "big5",
              "cp949", "euc_kr"]
_WESTERN = {"cp1252", "latin_1", "iso8859_15"}


def decode(raw: bytes, path: Path) -> str:
    """Text of a file: by its byte-order mark, else UTF-8, else the most plausible detected encoding (Western
    European preferred when it reads as well as any other)."""
    marked = [codec for bom, codec in _BOMS if raw.startswith(bom)]
    for codec in marked:
        try:
            return raw.decode(codec)
        except UnicodeDecodeError:
            continue
    if marked:
        name = marked[-1].removesuffix("-sig").upper()
        raise IngestError(f"starts with a {name} byte-order mark but is not valid {name}")
    if b"\x00" in raw[:4096]:
        raise IngestError("binary file, not text")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    encoding = _detect(raw)
    if encoding is None:
        raise IngestError("not UTF-8 and no text encoding could be detected")
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError:  # detection reads samples of a long file; a later part may not fit
        raise IngestError(f"not UTF-8, and not valid {encoding} throughout") from None
    log.warning("%s: not UTF-8, read as %s", display_path(path), encoding)
    return text


def _detect(raw: bytes) -> str | None:
    from charset_normalizer import from_bytes

    matches = [m for m in from_bytes(raw, cp_isolation=_PLAUSIBLE) if m.percent_chaos <= 20]
    if not matches:
        return None
    least_chaos = min(m.chaos for m in matches)
    best = max((m for m in matches if m.chaos <= least_chaos + 0.02), key=lambda m: m.coherence)
    # Western European wins a near tie: it is the likeliest 8-bit text in a news collection, and a short text gives
    # the language models behind ``coherence`` too little to go on.
    western = next((m for m in matches if _WESTERN & set(m.could_be_from_charset)), None)
    if western and western.chaos <= best.chaos + 0.02 and western.coherence >= best.coherence - 0.05:
        try:
            raw.decode("cp1252")
            return "cp1252"
        except UnicodeDecodeError:  # bytes cp1252 leaves undefined (0x81, 0x8d, ...)
            return "latin_1"
    return best.encoding


def reason(exc: Exception) -> str:
    if isinstance(exc, KeyError):
        return f"missing field {exc}"
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def iso_day(value) -> str | None:
    """'2024-03-03' or an ISO timestamp from a file's metadata, as an ISO day; None when it is neither."""
    try:
        return isoparse(value.strip()).date().isoformat() if isinstance(value, str) and value.strip() else None
    except (ValueError, OverflowError):
        return None
