"""The chat page (``qa ui``): a gradio Blocks app over one ``Assistant`` loaded once at start.

What a browser gets: a chat whose answers quote the articles with ``[n]`` links to numbered, collapsible sources
(each with the whole article under "Read the article"), follow-up questions, thumbs up or down with a note
(``qa/feedback.py``), an export of the conversation as Markdown (``ui/export.py``); example questions; settings in a
side panel; uploads, removals and re-indexing that change the running index as background jobs (``ui/jobs.py``)
whose progress the page polls. What a script gets (``gradio_client``): ``/ask`` (question -> the JSON object of
``qa ask --json``), ``/timeline`` (topic -> the JSON object of ``qa timeline --json``), ``/upload`` (files -> the
queued job, at once), ``/remove`` (files -> the queued job), ``/reindex`` (-> the queued job), ``/jobs`` (every job,
with per-file progress), ``/cancel`` (job id -> the job) and ``/collection``.

User errors (an empty question, a setting out of range, a bad date, a refused file) are logged as one line; only
unexpected failures are logged with their traceback.
"""
from __future__ import annotations

import hashlib
import logging
import os
import shutil
import signal
import sqlite3
import sys
import tempfile
import threading
import time
from dataclasses import asdict
from datetime import date
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # never call home (and never wait for it)

import gradio as gr  # noqa: E402 (at module level: gradio reads the handlers' gr.Request/gr.LikeData hints here)

from qa import feedback  # noqa: E402
from qa.assistant import Assistant  # noqa: E402
from qa.config import Settings  # noqa: E402
from qa.meta import date_label  # noqa: E402
from qa.readers import SUFFIXES  # noqa: E402
from qa.retrieve import MODES, DateRange  # noqa: E402
from qa.temporal import Timeline  # noqa: E402
from qa.types import Answer  # noqa: E402

from . import export, render  # noqa: E402
from .jobs import ACTIVE, SHOWN_FINISHED, JobError, UploadJobs  # noqa: E402

log = logging.getLogger("qa.ui")

# The first is the question the README shows; the others are from eval/sets/collection.jsonl (the last is one the
# collection cannot answer, to show an abstention).
EXAMPLES = [
    "What was agreed in San Francisco?",
    "Where did Biden and Xi hold their talks during the 2023 APEC summit?",
    "How long did Blinken's meeting with Chinese foreign minister Qin Gang last?",
    "Where did Xi Jinping and Donald Trump meet in person before their November 2025 phone call?",
    "Who was China's ambassador to the United States at the time of the San Francisco summit?",
]
COLLECTION_HEADERS = ["Title", "Date", "Publisher", "Chunks", "File"]
MAX_K = 20
MAX_UPLOAD = "25mb"
JOB_POLL_SECONDS = 1.0  # how often the page asks for the progress of running upload jobs

# Colours: each highlight sets its own text colour, so its contrast is known in both modes (gradio puts the class
# "dark" on the page in dark mode, following the system's setting). WCAG 2 contrast ratios (AA for text: at least
# 4.5:1), computed from the relative luminance of each pair; "bubble" is the answer's bubble as the browser draws it
# (light #fafafa, dark #18181b), "panel" a block such as the Timeline's (light #ffffff, dark at most #27272a):
#   light: factoid span #1f2937 on #ffe58f 11.8; quoted sentence #1f2937 on #fef08a 12.6; date tag #065f46 on
#          #ecfdf5 7.3; [n] links and "Read the article" #1d4ed8 on bubble 6.4 (panel 6.7); struck-out furniture,
#          notes and meta #4b5563 on bubble 7.2 (panel 7.6); context sentences #374151 on bubble 9.9; "does not
#          say" #92400e on bubble 6.8
#   dark:  factoid span #fef3c7 on #854d0e 6.2; quoted sentence #fefce8 on #713f12 8.4; date tag #a7f3d0 on
#          #064e3b 7.6; [n] links #93c5fd on bubble 9.8 (panel 8.3); struck-out furniture, notes and meta #a1a1aa
#          on bubble 6.9 (panel 5.8); context sentences #d4d4d8 on bubble 12.0 (panel 10.1); "does not say"
#          #fcd34d on bubble 12.3 (panel 10.3)
CSS = """
.qa-answer { line-height: 1.55; margin: 2px 0 6px 0; }
.qa-answer mark, .qa-passage strong { background: #ffe58f; color: #1f2937; font-weight: 700; padding: 0 2px; }
a.qa-ref, a.qa-ref:visited, .qa-n { color: #1d4ed8; font-weight: 600; white-space: nowrap; text-decoration: none; }
a.qa-ref:hover, a.qa-ref:focus-visible { text-decoration: underline; }
.qa-meta, .qa-note { color: #4b5563; font-size: 0.85em; margin: 2px 0; }
.qa-note { font-style: italic; }
.qa-group { margin: 6px 0 10px 0; }
.qa-group-head { margin: 0; font-size: 0.9em; }
.qa-sources-head { margin: 8px 0 2px 0; }
details.qa-source { border: 1px solid #d1d5db; border-radius: 6px; padding: 4px 8px; margin: 4px 0;
  scroll-margin-top: 8px; }
details.qa-source summary, details.qa-article summary { cursor: pointer; }
details.qa-article { margin: 4px 0 6px 0; }
details.qa-article > summary { color: #1d4ed8; font-weight: 600; }
.qa-fulltext { max-height: 480px; overflow-y: auto; padding: 4px 8px; line-height: 1.55;
  border-left: 3px solid #d1d5db; }
.qa-passage { margin: 6px 0; padding-left: 10px; border-left: 3px solid #93c5fd; }
mark.qa-quote { background: #fef08a; color: #1f2937; }
del.qa-furniture { color: #4b5563; text-decoration: line-through; }
.qa-context { color: #374151; }
.qa-scores { font-family: ui-monospace, monospace; font-size: 0.8em; color: #374151; }
.qa-abstain { color: #92400e; }
.qa-when { font-family: ui-monospace, monospace; font-size: 0.8em; color: #065f46; background: #ecfdf5;
           border-radius: 4px; padding: 0 4px; white-space: nowrap; }
ol.qa-timeline li { margin: 4px 0; line-height: 1.5; }
ul.qa-skipped { margin: 0 0 4px 1.2em; font-size: 0.85em; }
#qa-feedback-status { font-size: 0.85em; }
/* The table's columns have fixed widths in pixels (column_widths), so on a narrow screen it scrolls sideways
   instead of squeezing names into columns of single characters; in a cell words wrap whole, and only a name longer
   than its column breaks (a header never). The text font, narrower than the table's monospace, fits more in. */
#qa-collection .table-wrap * { font-family: var(--font); }
#qa-collection th span { word-break: normal; overflow-wrap: normal; }

/* One selector per .dark rule: gradio scopes custom CSS and keeps the "dark" class in front only for a rule's first
   selector. */
.dark :is(.qa-answer mark, .qa-passage strong) { background: #854d0e; color: #fef3c7; }
.dark mark.qa-quote { background: #713f12; color: #fefce8; }
.dark :is(a.qa-ref, a.qa-ref:visited, .qa-n, details.qa-article > summary) { color: #93c5fd; }
.dark :is(.qa-meta, .qa-note, del.qa-furniture) { color: #a1a1aa; }
.dark :is(.qa-context, .qa-scores) { color: #d4d4d8; }
.dark .qa-abstain { color: #fcd34d; }
.dark .qa-when { color: #a7f3d0; background: #064e3b; }
.dark :is(details.qa-source, .qa-fulltext) { border-color: #52525b; }
.dark .qa-passage { border-left-color: #1d4ed8; }

/* A phone: the question box stays on the first screen under a shorter chat. */
@media (max-width: 640px) {
  #qa-chat { height: calc(100dvh - 330px) !important; min-height: 240px; }
  #qa-intro p { display: none; }
}
"""

# Runs once when the page has loaded (the `js` launch option).
JS = """
() => {
  // A [n] marker links to its source's id: open that source and bring it into view (a closed <details> would
  // otherwise be scrolled to but stay shut).
  document.addEventListener("click", (event) => {
    const ref = event.target.closest ? event.target.closest("a.qa-ref") : null;
    const source = ref && document.getElementById((ref.getAttribute("href") || "").slice(1));
    if (!source) return;
    event.preventDefault();
    event.stopPropagation();
    source.open = true;
    // Once the chat has laid out the opened block (it may scroll itself when its content grows), scroll the chat,
    // not the whole page, to put the source at its top.
    requestAnimationFrame(() => requestAnimationFrame(() => {
      let box = source.parentElement;
      while (box && !(/(auto|scroll)/.test(getComputedStyle(box).overflowY) && box.scrollHeight > box.clientHeight)) {
        box = box.parentElement;
      }
      // (40 px: below the chat's own label and buttons, drawn over its top)
      if (box) box.scrollTop += source.getBoundingClientRect().top - box.getBoundingClientRect().top - 40;
      else source.scrollIntoView({block: "start"});
    }));
  }, true);
}
"""


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


def one_line_refusals(*components) -> None:
    """gradio checks a setting's value itself (a slider's range, a date field's "now - ..." syntax) before our handler
    runs, and prints the traceback of its refusal; this makes that refusal what ours are: one line in the log, the
    message to the user, no traceback. (On the instances: their preprocess is what gradio calls.)"""
    for component in components:
        def preprocess(payload, _check=component.preprocess, _label=component.label or "setting"):
            try:
                return _check(payload)
            except (gr.Error, ValueError) as exc:
                message = getattr(exc, "message", None) or str(exc)
                log.info("setting refused: %s: %s", _label, message)
                raise gr.Error(f"{_label}: {message}", print_exception=False) from None

        component.preprocess = preprocess


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
                for idx in range(len(store.article_dates)):
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


def _job_api(what: str, call):
    """An API call that queues or changes a job: a refusal is one line in the log and the caller's error."""
    try:
        return call()
    except JobError as exc:
        log.info("%s refused: %s", what, exc)
        raise gr.Error(str(exc), print_exception=False) from None


def build_app(assistant: Assistant, *, examples: list[str] | None = None):
    """The gradio Blocks of the page (not launched)."""
    chat = ChatApp(assistant)
    settings = assistant.settings
    examples = EXAMPLES if examples is None else examples

    with gr.Blocks(title="News QA", analytics_enabled=False) as demo:
        # Closed at first: on a phone the open panel covers the whole page, and the defaults answer well.
        with gr.Sidebar(label="Settings", open=False, position="left"):
            gr.Markdown("### Settings")
            k = gr.Slider(1, MAX_K, value=settings.retrieval.k, step=1, label="Number of sources",
                          info="retrieved passages the answer is chosen from")
            mode = gr.Radio([("Hybrid", "hybrid"), ("BM25", "bm25"), ("Dense", "dense")],
                            value=settings.retrieval.mode, label="Retrieval mode")
            start = gr.DateTime(include_time=False, type="string", label="From date",
                                info="only articles and events dated on or after (inclusive; empty: no limit)")
            end = gr.DateTime(include_time=False, type="string", label="To date",
                              info="only on or before; an inferred date counts when it may fall in the range, "
                                   "undated articles are left out (the answer says how many)")
            # only where the reranker is on (QA_RERANKER=on); otherwise every answer is already the fast one
            fast = gr.Checkbox(value=False, label="Fast answers", visible=assistant.reranker is not None,
                               info="skip the reranker: about 4x faster")
            scores = gr.Checkbox(value=False, label="Show scores",
                                 info="BM25, dense and fused scores per source (for tuning)")

        gr.Markdown("## News QA\nAsk the collection a question. Every answer is quoted from the articles, with "
                    "numbered sources you can open to check the passage and read the whole article.",
                    elem_id="qa-intro")
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=320):
                with gr.Tabs():
                    with gr.Tab("Ask", id="ask"):
                        chatbot = gr.Chatbot(label="Chat", elem_id="qa-chat", height=680, sanitize_html=True,
                                             render_markdown=True, allow_tags=False, latex_delimiters=[],
                                             feedback_options=("Like", "Dislike"), layout="bubble",
                                             autoscroll=True, buttons=["copy", "copy_all"],
                                             placeholder="Ask a question, or click an example below. Ask a "
                                                         "follow-up (\u201cHow long did it last?\u201d) and it is "
                                                         "read with the questions before it.")
                        with gr.Row():
                            question = gr.Textbox(show_label=False, placeholder="Ask a question about the articles",
                                                  elem_id="qa-question", scale=6, min_width=200, max_lines=3,
                                                  autofocus=True)
                            ask_btn = gr.Button("Ask", variant="primary", elem_id="qa-ask", scale=1, min_width=70)
                            clear_btn = gr.Button("Clear", elem_id="qa-clear", scale=1, min_width=70)
                            export_btn = gr.DownloadButton("Export", elem_id="qa-export", scale=1, min_width=70,
                                                           interactive=False)
                        with gr.Row(equal_height=True):
                            note = gr.Textbox(show_label=False, elem_id="qa-feedback-note", scale=4, max_lines=2,
                                              placeholder="Optional note to go with a thumbs up or down under "
                                                          "an answer: what was right or wrong")
                            rated = gr.Markdown(elem_id="qa-feedback-status")
                        gr.Markdown("**Examples**")
                        with gr.Row(elem_id="qa-examples"):
                            example_btns = [gr.Button(q, size="sm", elem_classes=["qa-example"]) for q in examples]
                    with gr.Tab("Timeline", id="timeline", elem_id="qa-timeline-tab"):
                        gr.Markdown("The dated events about a topic across the collection, oldest first, each "
                                    "quoted with its date and source. The date range of the settings applies.")
                        with gr.Row():
                            topic = gr.Textbox(show_label=False, placeholder="A topic, e.g. China US relations",
                                               elem_id="qa-topic", scale=6, max_lines=1)
                            topic_btn = gr.Button("Show timeline", variant="primary", elem_id="qa-timeline-go",
                                                  scale=1, min_width=120)
                        timeline_view = gr.HTML(elem_id="qa-timeline")
            with gr.Column(scale=1, min_width=320):
                files = gr.File(label=f"Add articles ({', '.join(sorted(SUFFIXES))})", file_count="multiple",
                                type="filepath", elem_id="qa-upload")
                upload_report = gr.Textbox(label="Jobs", interactive=False, lines=3, max_lines=16,
                                           elem_id="qa-upload-report")
                with gr.Row(equal_height=True):
                    job_pick = gr.Dropdown(choices=[], value=None, label="Job", elem_id="qa-job", scale=3,
                                           interactive=True, info="a queued or running job")
                    cancel_btn = gr.Button("Cancel job", elem_id="qa-cancel", scale=1, min_width=80)
                table = gr.Dataframe(headers=COLLECTION_HEADERS, datatype=["str", "str", "str", "number", "str"],
                                     label="Collection", interactive=False, wrap=True, elem_id="qa-collection",
                                     max_height=520, latex_delimiters=[], line_breaks=False,
                                     column_widths=["160px", "96px", "96px", "72px", "170px"])
                skipped = gr.HTML(elem_id="qa-skipped")
                with gr.Row(equal_height=True):
                    remove_pick = gr.Dropdown(choices=[], value=None, label="Article file", elem_id="qa-remove-file",
                                              scale=3, interactive=True, filterable=True,
                                              info="taken out of the collection into the corpus folder's .trash/")
                    remove_btn = gr.Button("Remove", variant="stop", elem_id="qa-remove", scale=1, min_width=80)
                reindex_btn = gr.Button("Re-index", elem_id="qa-reindex", size="sm")
                # The /upload API (files in, the queued job out), apart from the page's own upload event.
                api_files = gr.File(file_count="multiple", type="filepath", visible=False)
                api_job = gr.JSON(visible=False)
        poll = gr.Timer(JOB_POLL_SECONDS, active=False)  # on while a job is queued or running
        shown = gr.State(-1)  # the jobs' generation whose collection the table shows
        turns = gr.State([])  # one entry per answer in the chat: question, earlier questions, answer JSON

        def page_export(kept, request: gr.Request):
            path = chat.export(kept, request.session_hash or "")
            return gr.DownloadButton(value=str(path) if path else None, interactive=path is not None)

        inputs = [k, mode, start, end, fast, scores]
        # The question box's event is also the (undocumented) /chat endpoint; the buttons' are the page's own. Then
        # the Export button is given the conversation so far: a download button hands out the file it holds when
        # clicked.
        private = {"api_visibility": "private"}
        asked = [(question.submit, question, {"api_name": "chat", "api_visibility": "undocumented"}),
                 (ask_btn.click, question, private)] + [(btn.click, btn, private) for btn in example_btns]
        for event, source, api in asked:
            event(chat.respond, [source, chatbot, turns, *inputs], [chatbot, question, turns], concurrency_limit=8,
                  concurrency_id="ask", **api).then(page_export, turns, export_btn, **private)

        def page_clear():
            return [], "", [], gr.DownloadButton(value=None, interactive=False), ""

        clear_btn.click(page_clear, None, [chatbot, question, turns, export_btn, rated], api_visibility="private",
                        queue=False)
        chatbot.clear(page_clear, None, [chatbot, question, turns, export_btn, rated], api_visibility="private",
                      queue=False)

        def page_rate(kept, text, liked: gr.LikeData):
            if liked.liked not in (True, False):  # a rating taken back: the file keeps what was recorded
                return gr.skip(), ""
            try:
                return "", chat.rate(kept, liked.index, liked.liked, text)
            except feedback.FeedbackError as exc:
                log.warning("feedback refused: %s", exc)
                gr.Warning(str(exc))
                return gr.skip(), f"Not recorded: {exc}"

        chatbot.like(page_rate, [turns, note], [note, rated], api_visibility="private", queue=False)
        for event in (topic.submit, topic_btn.click):
            event(chat.timeline_page, [topic, start, end], timeline_view, api_visibility="private",
                  concurrency_limit=8, concurrency_id="ask")

        one_line_refusals(k, mode, start, end)
        job_outputs = [upload_report, table, job_pick, poll, shown, remove_pick, skipped]

        def page_jobs(generation, picked, table_rows=True):
            """The jobs report, the collection (with the Remove picker's files) once a job has changed it, the skip
            reasons, the job picker, and whether to go on polling."""
            current = chat.jobs.generation
            choices = chat.cancellable()
            ids = [job_id for _, job_id in choices]
            picked = picked if picked in ids else (ids[0] if ids else None)
            active = any(j["state"] in ACTIVE for j in chat.jobs.snapshot())
            rows = files_pick = gr.skip()
            if table_rows and current != generation:
                rows = chat.collection()
                files_pick = gr.update(choices=chat.files(rows), value=None)
            return (chat.jobs_text(), rows, gr.update(choices=choices, value=picked), gr.Timer(active=active),
                    current if table_rows else generation, files_pick, chat.skipped())

        def page_submit(submit, generation, picked):
            """Queues a job (``submit`` returns it); a refusal is a warning on the page."""
            try:
                picked = submit()["id"]
            except JobError as exc:
                log.warning("job refused: %s", exc)
                gr.Warning(str(exc))
            return page_jobs(generation, picked)

        def page_cancel(job_id, generation):
            if job_id:
                try:
                    chat.cancel(job_id)
                except JobError as exc:
                    log.info("cancel refused: %s", exc)
                    gr.Warning(str(exc))
            return page_jobs(generation, job_id)

        files.upload(lambda paths, generation, picked: page_submit(lambda: chat.upload(paths), generation, picked),
                     [files, shown, job_pick], job_outputs, api_visibility="private").then(
            lambda: None, None, files, api_visibility="private", queue=False)
        remove_btn.click(lambda file, generation, picked: page_submit(lambda: chat.remove([file] if file else []),
                                                                     generation, picked),
                         [remove_pick, shown, job_pick], job_outputs, api_visibility="private")
        reindex_btn.click(lambda generation, picked: page_submit(chat.reindex, generation, picked),
                          [shown, job_pick], job_outputs, api_visibility="private")
        cancel_btn.click(page_cancel, [job_pick, shown], job_outputs, api_visibility="private")
        poll.tick(page_jobs, [shown, job_pick], job_outputs, api_visibility="private", queue=False)
        # The collection itself comes with /collection at load; this shows the jobs a restart resumed.
        demo.load(lambda picked: page_jobs(chat.jobs.generation, picked, table_rows=False), [job_pick],
                  job_outputs, api_visibility="private")

        def upload(paths: list[str] | None) -> dict:
            """Queues article files (any format `qa index` reads) to be added to the collection, as one job; returns
            the job at once: id, kind, state, position in the queue, files (each with its state and note), report."""
            return _job_api("upload", lambda: chat.upload(paths))

        api_files.upload(upload, api_files, api_job, api_name="upload")

        def remove(files: list[str]) -> dict:
            """Queues a job that takes files out of the collection: each named as /collection lists it (relative to
            the corpus folder), moved into the corpus folder's .trash/, then out of the index. Returns the job at
            once; /jobs follows it."""
            return _job_api("remove", lambda: chat.remove(files))

        gr.api(remove, api_name="remove", concurrency_limit=None)

        def reindex(rebuild: bool = False) -> dict:
            """Queues a job that updates the index from the corpus folder (files added, changed or removed there by
            hand); rebuild=True builds it from scratch. Returns the job at once; /jobs follows it."""
            return _job_api("reindex", lambda: chat.reindex(rebuild))

        gr.api(reindex, api_name="reindex", concurrency_limit=None)

        def jobs() -> list[dict]:
            """Every job the server remembers (uploads, removals, reindexes: "kind"), the queued and running ones
            first: id, kind, state (queued, running, cancelling, done, cancelled, failed, interrupted), position in
            the queue, files, report."""
            return chat.jobs.snapshot()

        gr.api(jobs, api_name="jobs", concurrency_limit=None)

        def cancel(job_id: str) -> dict:
            """Cancels a job (queued: at once; running: before it commits, leaving the collection as it was);
            returns the job."""
            return _job_api("cancel", lambda: chat.cancel(job_id))

        gr.api(cancel, api_name="cancel", concurrency_limit=None)

        def collection() -> list[list]:
            """The articles in the index: title, date, publisher, chunk count, file."""
            return chat.collection()

        demo.load(collection, None, table, api_name="collection").then(
            lambda rows: gr.update(choices=chat.files(rows)), table, remove_pick, api_visibility="private",
            queue=False)

        def ask(question: str, history: list[str] | None = None) -> dict:
            """Answers a question from the whole collection with the default settings; ``history``, the questions
            asked before it (oldest first), lets it be a follow-up. Returns the JSON object that `qa ask --json`
            prints (question, answer, abstained, confidence, sentences, citations, timings_ms, notes, understood)."""
            try:
                return chat.ask(question, history=history).to_json()
            except ValueError as exc:  # the user's mistake: one line in the log, no traceback
                log.info("question refused: %s", exc)
                raise gr.Error(str(exc), print_exception=False) from None

        gr.api(ask, api_name="ask", concurrency_limit=8, concurrency_id="ask")

        def timeline(topic: str) -> dict:
            """The dated events about a topic across the whole collection, oldest first; returns the JSON object
            that `qa timeline --json` prints (topic, events with date, date_source, text, offsets and source number,
            citations, notes)."""
            try:
                return asdict(chat.timeline(topic))
            except ValueError as exc:
                log.info("timeline refused: %s", exc)
                raise gr.Error(str(exc), print_exception=False) from None

        gr.api(timeline, api_name="timeline", concurrency_limit=8, concurrency_id="ask")

    demo.chat_app = chat
    return demo


def launch_options() -> dict:
    return {"css": CSS, "js": JS, "max_file_size": MAX_UPLOAD, "show_error": True, "ssr_mode": False,
            "footer_links": ["api"]}


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def _stop_on_signals() -> None:
    """Ctrl-C and SIGTERM both close the server cleanly (SIGINT may arrive ignored, e.g. from a background job)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, _interrupt)


def run(args) -> int:
    """``qa ui``: open (or first build) the index, load the model, serve the page until interrupted."""
    host = getattr(args, "host", None) or "127.0.0.1"
    port = int(getattr(args, "port", None) or 7860)
    auth = None
    if getattr(args, "auth", None):
        user, sep, password = args.auth.partition(":")
        if not sep or not user or not password:
            print("qa ui: error: --auth must be user:password", file=sys.stderr)
            return 2
        auth = (user, password)
    settings = Settings.from_env(corpus_dir=getattr(args, "corpus", None), index_dir=getattr(args, "index_dir", None))
    started = time.perf_counter()
    assistant = Assistant(settings, progress=True)
    print("qa ui: loading the embedding model", file=sys.stderr, flush=True)
    assistant.encoder.encode_query("warm up")  # loads the model once, now, not on the first question
    try:
        assistant.ask("warm up")  # and touches the index, so that the first question is as fast as the others
    except Exception:  # noqa: BLE001 - e.g. an empty collection; questions will say what is wrong
        log.debug("warm-up question failed", exc_info=True)
    n = len(assistant.index.store.article_dates)
    print(f"qa ui: ready in {time.perf_counter() - started:.1f} s: {n} articles from {settings.corpus_dir} "
          f"(uploads go there), index {settings.index_dir}", file=sys.stderr, flush=True)
    if host not in ("127.0.0.1", "localhost", "::1") and auth is None:
        print(f"qa ui: warning: listening on {host} without --auth: anyone who can reach it can ask and upload",
              file=sys.stderr, flush=True)

    demo = build_app(assistant)
    demo.queue(default_concurrency_limit=8)
    _stop_on_signals()
    try:
        demo.launch(server_name=host, server_port=port, auth=auth, inbrowser=False, share=False,
                    **launch_options())
    except OSError as exc:
        print(f"qa ui: error: cannot serve on {host}:{port}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    finally:
        demo.chat_app.close()
        demo.close()
    return 0
