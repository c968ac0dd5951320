"""Thumbs up or down on answers, kept in a local JSONL file (one record per line).

A record is ``{"time", "question", "rating", "note", "history", "answer"}``: ``time`` in UTC to the second, ``rating``
"up" or "down", ``note`` the user's words (or null), ``history`` the questions asked before it in the chat (or null),
``answer`` the answer as ``Answer.to_json()`` gives it. ``qa eval --dataset feedback`` turns the thumbs-up records
into evaluation questions.

The file lives beside the index folder (``feedback.jsonl``) unless ``QA_FEEDBACK`` names another. Appends never
corrupt earlier lines: each record is one ``write`` of a whole line to a file opened for appending, under an exclusive
lock, flushed to disk; a line left cut short by a crash is closed off before the next record, and ``read`` skips it
with a reason.
"""
from __future__ import annotations

import fcntl
import json
import logging
import os
from datetime import datetime, timezone
from pathlib import Path

from .config import Settings

log = logging.getLogger(__name__)

FILENAME = "feedback.jsonl"
RATINGS = ("up", "down")
MAX_NOTE = 2000  # characters


class FeedbackError(ValueError):
    """A record that cannot be written or a file that cannot be read; the message is one line naming it.
    A ValueError, so the command line reports it as one line."""


def feedback_path(settings: Settings) -> Path:
    """Where feedback is kept: ``settings.feedback_file`` (``$QA_FEEDBACK``) when set, else ``feedback.jsonl``
    beside the index folder."""
    return settings.feedback_file or Path(settings.index_dir).parent / FILENAME


def record(path: Path, *, question: str, answer: dict, rating: str, note: str | None = None,
           history: list[str] | None = None) -> dict:
    """Appends one rating of ``answer`` (an ``Answer.to_json()`` object) to the file at ``path``; returns the record.
    Raises FeedbackError for a bad rating, an empty question, a note over 2,000 characters or a failed write."""
    entry = _entry(question, answer, rating, note, history)
    try:
        line = json.dumps(entry, ensure_ascii=False, allow_nan=False) + "\n"
    except (TypeError, ValueError) as exc:
        raise FeedbackError(f"answer: cannot be stored as JSON ({exc})") from None
    _append(Path(path), line.encode("utf-8"))
    return entry


def _entry(question, answer, rating, note, history) -> dict:
    question = " ".join(str(question or "").split())
    if not question:
        raise FeedbackError("question: empty")
    rating = str(rating or "").strip().lower()
    if rating not in RATINGS:
        raise FeedbackError(f"rating: must be 'up' or 'down', not {rating!r}")
    if note is not None:
        if not isinstance(note, str):
            raise FeedbackError(f"note: must be text, not {type(note).__name__}")
        note = note.strip() or None
        if note and len(note) > MAX_NOTE:
            raise FeedbackError(f"note: {len(note):,} characters, at most {MAX_NOTE:,} allowed")
    if history is not None:
        if not isinstance(history, (list, tuple)) or not all(isinstance(h, str) for h in history):
            raise FeedbackError("history: must be a list of questions (text)")
        history = list(history)
    if not isinstance(answer, dict):
        raise FeedbackError(f"answer: must be a JSON object (Answer.to_json()), not {type(answer).__name__}")
    return {"time": datetime.now(timezone.utc).isoformat(timespec="seconds"), "question": question,
            "rating": rating, "note": note, "history": history, "answer": answer}


def _append(path: Path, data: bytes) -> None:
    """One whole line at the end of the file, durable when this returns."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)  # read: its last byte
    except OSError as exc:
        raise FeedbackError(f"{path}: cannot open the feedback file: {exc.strerror or exc}") from None
    try:
        # The lock keeps writers of other processes (and file systems where O_APPEND alone is not atomic) apart.
        fcntl.flock(fd, fcntl.LOCK_EX)
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            data = b"\n" + data  # a line cut short by a crash: close it off, so this record stays a line of its own
        written = os.write(fd, data)  # one call: the line is never interleaved with another
        if written != len(data):
            os.write(fd, b"\n")  # disk full, say: end the partial line so that later records stay readable
            raise FeedbackError(f"{path}: only {written} of {len(data)} bytes written")
        os.fsync(fd)
    except OSError as exc:
        raise FeedbackError(f"{path}: cannot write the feedback file: {exc.strerror or exc}") from None
    finally:
        os.close(fd)  # also releases the lock


def read(path: Path) -> tuple[list[dict], list[str]]:
    """The records of the file, and one reason per line that is not a record (``"line 7: ..."``), which is skipped.
    Raises FeedbackError when the file itself cannot be read."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise FeedbackError(f"{path}: no feedback file (nothing has been rated yet?)") from None
    except OSError as exc:
        raise FeedbackError(f"{path}: cannot read the feedback file: {exc.strerror or exc}") from None
    records, problems = [], []
    lines = raw.split(b"\n")
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        reason = None
        try:
            obj = json.loads(line.decode("utf-8"))
            reason = _problem(obj)
        except UnicodeDecodeError:
            reason = "not UTF-8 text"
        except ValueError as exc:
            cut = n == len(lines) and not raw.endswith(b"\n")
            reason = "cut short (an interrupted write)" if cut else f"not JSON ({exc.msg})"
        if reason:
            problems.append(f"line {n}: {reason}")
        else:
            records.append(obj)
    if problems:
        log.warning("%s: %d unreadable line%s skipped", path, len(problems), "s" if len(problems) != 1 else "")
    return records, problems


def _problem(obj) -> str | None:
    """Why a parsed line is not a record; None when it is one."""
    if not isinstance(obj, dict):
        return "not a JSON object"
    if obj.get("rating") not in RATINGS:
        return f"rating must be 'up' or 'down', not {obj.get('rating')!r}"
    if not isinstance(obj.get("question"), str) or not obj["question"].strip():
        return "no question"
    if not isinstance(obj.get("answer"), dict):
        return "no answer object"
    return None
