"""The page's behaviour, independent of its layout (``ui/app.py`` builds the page over it): asking, rendering,
rating, exporting, uploading, listing the collection."""
from __future__ import annotations

import hashlib
import logging
import os
import shutil
import sqlite3
import tempfile
from datetime import date
from pathlib import Path

from qa import feedback
from qa.assistant import Assistant
from qa.meta import date_label
from qa.retrieve import MODES, DateRange
from qa.temporal import Timeline
from qa.types import Answer

from . import export, render
from .jobs import UploadJobs
from .jobs_model import ACTIVE, SHOWN_FINISHED

log = logging.getLogger("qa.ui")

MAX_K = 20


def parse_date(value, label: str) -> str | None:
    """An ISO date from a date field ('' or None: no bound); ValueError with a readable message otherwise."""
    if value is None:
        return None
    value = str(value).strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value[:10]).isoformat()
    except ValueError:
        raise ValueError(f"{label} {value!r} is not a date (YYYY-MM-DD)") from None


class ChatApp:
    """The page's behaviour, independent of its layout: asking, rendering, uploading, listing the collection."""

    def __init__(self, assistant: Assistant):
        self.assistant = assistant
        self.settings = assistant.settings
        self.jobs = UploadJobs(assistant, describe=self._chunks_of)  # recovers what a stopped server left first
        self.feedback_file = feedback.feedback_path(self.settings)
        self.exports = Path(tempfile.mkdtemp(prefix="qa-export-"))  # one Markdown file per browser session

    def close(self) -> None:
        self.jobs.close(timeout=10)  # a running job is put back, to run again at the next start
        shutil.rmtree(self.exports, ignore_errors=True)

    # -- asking -------------------------------------------------------------------------------------------------------

    def _options(self, k, mode, start, end, fast=False) -> dict:
        k = int(k) if k not in (None, "") else 0
        if k < 0 or k > MAX_K:
            raise ValueError(f"number of sources must be between 1 and {MAX_K}")
        mode = (mode or "").strip().lower() or None
        if mode is not None and mode not in MODES:
            raise ValueError(f"retrieval mode must be one of {', '.join(MODES)}, not {mode!r}")
        start, end = parse_date(start, "from date"), parse_date(end, "to date")
        if start and end and start > end:
            raise ValueError(f"the date range is empty: {start} is after {end}")
        dates = DateRange(start, end) if (start or end) else None
        return {"k": k or None, "mode": mode, "dates": dates, "fast": bool(fast)}

    def ask(self, question: str, k=None, mode=None, start=None, end=None, fast=False, history=None) -> Answer:
        history = [q for q in (history or []) if isinstance(q, str)]
        return self.assistant.ask(question or "", **self._options(k, mode, start, end, fast), history=history)

    def timeline(self, topic: str, start=None, end=None) -> Timeline:
        dates = self._options(None, None, start, end)["dates"]
        return self.assistant.timeline(topic or "", dates=dates)

    def timeline_page(self, topic, start, end) -> str:
        """Timeline tab handler: the events as HTML, or the one-line reason it cannot be shown."""
        try:
            found = self.timeline(topic, start, end)
            return render.timeline_html(found, self.assistant.index.store)
        except ValueError as exc:
            log.info("timeline refused: %s", exc)
            return render.error_html(str(exc))

    def _render(self, answer, show_scores: bool, key: str) -> str:
        for attempt in (0, 1):
            try:
                return render.answer_html(answer, self.assistant.index.store, show_scores=show_scores, key=key)
            except sqlite3.ProgrammingError:  # the index was swapped by an upload while we read it: read the new one
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def respond(self, question, history, turns, k, mode, start, end, fast, show_scores):
        """Chat handler: appends the question and the answer; a follow-up is read against the questions before it.
        ``turns`` (the page's state, one per answer in the chat) keeps each answer's JSON for ratings and export."""
        history, turns = list(history or []), list(turns or [])
        question = (question or "").strip()
        if not question:
            log.info("question refused: the question is empty")
            return history, "", turns
        asked = [render.question_text(m["content"]) for m in history if m.get("role") == "user"]
        turn = {"question": question, "history": asked, "answer": None, "error": None}
        try:
            answer = self.ask(question, k, mode, start, end, fast, history=asked)
            reply = self._render(answer, bool(show_scores), key=f"m{len(history) // 2 + 1}")
            turn["answer"] = answer.to_json()
        except ValueError as exc:  # the user's mistake: one line in the log, no traceback
            log.info("question refused: %s", exc)
            reply, turn["error"] = render.error_html(str(exc)), str(exc)
        except Exception as exc:  # shown in the chat, not lost in a toast; the details go to the server log
            log.exception("answering %r failed", question)
            turn["error"] = f"internal error ({type(exc).__name__}); see the server log"
            reply = render.error_html(turn["error"])
        history.append({"role": "user", "content": render.question_html(question)})
        history.append({"role": "assistant", "content": reply})
        return history, "", turns + [turn]

    # -- ratings and export -------------------------------------------------------------------------------------------

    def rate(self, turns, message_index, liked, note) -> str:
        """Records a thumbs up (``liked`` True) or down (False) on the answer at ``message_index`` of the chat (each
        question and its answer are two messages) in the feedback file; returns what the page says. Raises
        FeedbackError (one line) when it cannot be recorded."""
        turns, n, note = list(turns or []), message_index, (note or "").strip() or None
        turn = turns[n // 2] if isinstance(n, int) and 0 <= n // 2 < len(turns) else None
        if turn is None or turn["answer"] is None:
            raise feedback.FeedbackError("there is no answer there to rate")
        rating = "up" if liked is True else "down"
        feedback.record(self.feedback_file, question=turn["question"], answer=turn["answer"], rating=rating,
                        note=note, history=turn["history"] or None)
        log.info("feedback %s on %r recorded in %s", rating, turn["question"], self.feedback_file)
        return (f"Thumbs {rating} recorded for \u201c{turn['question']}\u201d" + (" with your note" if note else "")
                + f" (in {self.feedback_file.name}).")

    def export(self, turns, session: str) -> Path | None:
        """Writes the conversation as Markdown for one browser session (``session``: its id; each export replaces
        the last); None when there is nothing to export."""
        if not turns:
            return None
        folder = self.exports / hashlib.sha256(session.encode()).hexdigest()[:16]  # the id is the browser's to pick
        folder.mkdir(exist_ok=True)
        path = folder / export.FILENAME
        path.write_text(export.conversation_markdown(list(turns)), encoding="utf-8")
        return path

    # -- the collection -----------------------------------------------------------------------------------------------

    def collection(self) -> list[list]:
        """One row per article: title, date, chunk count, file (relative to the corpus folder)."""
        for attempt in (0, 1):
            try:
                store = self.assistant.index.store
                counts: dict[int, int] = {}
                for a in store.chunk_article.tolist():
                    counts[a] = counts.get(a, 0) + 1
                rows = []
                for idx in store.live_articles().tolist():
                    article = store.article(idx)
                    rows.append([article.title, date_label(article.date, article.date_source),
                                 article.publisher or "", counts.get(idx, 0),
                                 render.file_label(article.id, article.path)])
                return rows
            except sqlite3.ProgrammingError:
                if attempt:
                    raise
        raise AssertionError("unreachable")

    @staticmethod
    def files(rows) -> list[str]:
        """The distinct files of the collection's rows (a .jsonl file holds several articles), for the Remove
        picker."""
        values = rows.values.tolist() if hasattr(rows, "values") else list(rows or [])  # a table comes as a DataFrame
        return sorted({str(row[-1]) for row in values if row and row[-1]})

    def skipped(self) -> str:
        """The skip reasons of the last index build (from its manifest) and of the last upload job, as HTML."""
        corpus = self.settings.corpus_dir.resolve()
        manifest = getattr(self.assistant.index, "manifest", None) or {}
        build = []
        for entry in list(manifest.get("skipped") or []) + list(manifest.get("unread") or []):
            path = Path(str(entry.get("path", "")))
            try:  # as the page names files: relative to the corpus folder, never the server's own path
                name = (path.parent.resolve() / path.name).relative_to(corpus).as_posix()
            except ValueError:
                name = path.name
            build.append((name, str(entry.get("reason", ""))))
        last = next((j for j in self.jobs.snapshot() if j["kind"] == "upload" and j["state"] not in ACTIVE), None)
        upload = [(f["name"], f["note"]) for f in (last or {}).get("files", []) if f["state"] == "refused"]
        return render.skipped_html(build, upload)

    def _chunks_of(self, path: Path) -> list[tuple[str, int]]:
        """(title, chunks) of the articles read from a corpus file."""
        store = self.assistant.index.store
        rel = path.relative_to(self.settings.corpus_dir.resolve()).with_suffix("").as_posix()
        out = []
        for idx in store.articles_of_file(rel):
            out.append((store.article(idx).title, int((store.chunk_article == idx).sum())))
        return out

    # -- uploads ------------------------------------------------------------------------------------------------------

    def upload(self, files) -> dict:
        """Queues the uploaded files as one background job; returns the job (id, state, queue position, files) at
        once. Raises JobError (one line) when they cannot even be staged."""
        paths = [Path(f if isinstance(f, (str, os.PathLike)) else getattr(f, "name", f)) for f in (files or [])]
        job = self.jobs.submit([(p, p.name) for p in paths])
        return self.jobs.as_json(job)

    def cancel(self, job_id: str) -> dict:
        return self.jobs.as_json(self.jobs.cancel(job_id))

    def remove(self, files) -> dict:
        """Queues a job that takes these files (as the collection lists them) out of the corpus folder, into
        ``.trash/``, and then out of the index; returns the job at once. JobError when no file is named."""
        return self.jobs.as_json(self.jobs.submit_removal(files))

    def reindex(self, rebuild: bool = False) -> dict:
        """Queues a job that updates the index from the corpus folder (``rebuild``: from scratch)."""
        return self.jobs.as_json(self.jobs.submit_reindex(rebuild=bool(rebuild)))

    def jobs_text(self) -> str:
        """The upload report of the page: the active jobs, then the last few finished ones, each with its files."""
        jobs = self.jobs.snapshot()  # active ones first
        active = [j for j in jobs if j["state"] in ACTIVE]
        blocks = []
        for job in active + jobs[len(active):len(active) + SHOWN_FINISHED]:
            n = len(job["files"])
            where = f", position {job['position']} in the queue" if job["position"] else ""
            what = {"upload": "", "removal": "removal of ", "reindex": "reindex"}[job["kind"]]
            if job["kind"] != "reindex":
                what += f"{n} file{'s' if n != 1 else ''}"
            head = f"Job {job['id']}: {job['state']}{where} ({what})"
            blocks.append("\n".join([head, job["report"]]))
        return "\n\n".join(blocks)

    def cancellable(self) -> list[tuple[str, str]]:
        """(label, id) of the jobs that can still be cancelled, for the page's job picker."""
        out = []
        for job in self.jobs.snapshot():
            if job["state"] in ("queued", "running"):
                names = ", ".join(f["name"] for f in job["files"]) or job["kind"]
                out.append((f"{job['id']} ({job['state']}): {names}"[:120], job["id"]))
        return out
