"""The chat page (``qa ui``): a gradio Blocks app over one ``Assistant`` loaded once at start.

What a browser gets: a chat whose answers quote the articles with ``[n]`` markers and numbered, collapsible sources;
example questions; settings in a side panel; uploads that go into the running index as background jobs (``ui/jobs.py``)
whose progress the page polls. What a script gets (``gradio_client``): ``/ask`` (question -> the JSON object of
``qa ask --json``), ``/timeline`` (topic -> the JSON object of ``qa timeline --json``), ``/upload`` (files -> the queued job, at once), ``/jobs`` (every job, with per-file progress),
``/cancel`` (job id -> the job) and ``/collection``.

User errors (an empty question, a setting out of range, a bad date, a refused file) are logged as one line; only
unexpected failures are logged with their traceback.
"""
from __future__ import annotations

import logging
import os
import signal
import sqlite3
import sys
import threading
import time
from dataclasses import asdict
from datetime import date
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # never call home (and never wait for it)

from qa.assistant import Assistant  # noqa: E402
from qa.config import Settings  # noqa: E402
from qa.meta import date_label  # noqa: E402
from qa.retrieve import MODES, DateRange  # noqa: E402
from qa.temporal import Timeline  # noqa: E402
from qa.types import Answer  # noqa: E402

from . import render  # noqa: E402
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

CSS = """
.qa-answer { line-height: 1.55; }
.qa-answer mark, .qa-passage strong { background: #ffe58f; color: inherit; font-weight: 700; padding: 0 2px; }
.qa-ref, .qa-n { color: #1d4ed8; font-weight: 600; white-space: nowrap; }
.qa-meta { color: #6b7280; font-size: 0.85em; margin-top: 4px; }
.qa-sources-head { margin: 8px 0 2px 0; }
details.qa-source { border: 1px solid #d1d5db; border-radius: 6px; padding: 4px 8px; margin: 4px 0; }
details.qa-source summary { cursor: pointer; }
.qa-passage { margin: 6px 0; padding-left: 10px; border-left: 3px solid #93c5fd; }
.qa-passage mark.qa-quote { background: #fef08a; color: inherit; }
.qa-context { color: #4b5563; }
.qa-scores { font-family: ui-monospace, monospace; font-size: 0.8em; color: #374151; }
.qa-abstain { color: #92400e; }
.qa-when { font-family: ui-monospace, monospace; font-size: 0.8em; color: #065f46; background: #ecfdf5;
           border-radius: 4px; padding: 0 4px; white-space: nowrap; }
.qa-note { color: #6b7280; font-size: 0.85em; font-style: italic; margin: 2px 0; }
ol.qa-timeline li { margin: 4px 0; line-height: 1.5; }
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
    import gradio as gr

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

    def _render(self, answer, show_scores: bool) -> str:
        for attempt in (0, 1):
            try:
                return render.answer_html(answer, self.assistant.index.store, show_scores=show_scores)
            except sqlite3.ProgrammingError:  # the index was swapped by an upload while we read it: read the new one
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def respond(self, question, history, k, mode, start, end, fast, show_scores):
        """Chat handler: appends the question and the answer; a follow-up is read against the questions before it."""
        history = list(history or [])
        question = (question or "").strip()
        if not question:
            log.info("question refused: the question is empty")
            return history, ""
        asked = [render.question_text(m["content"]) for m in history if m.get("role") == "user"]
        try:
            answer = self.ask(question, k, mode, start, end, fast, history=asked)
            reply = self._render(answer, bool(show_scores))
        except ValueError as exc:  # the user's mistake: one line in the log, no traceback
            log.info("question refused: %s", exc)
            reply = render.error_html(str(exc))
        except Exception as exc:  # shown in the chat, not lost in a toast; the details go to the server log
            log.exception("answering %r failed", question)
            reply = render.error_html(f"internal error ({type(exc).__name__}); see the server log")
        history.append({"role": "user", "content": render.question_html(question)})
        history.append({"role": "assistant", "content": reply})
        return history, ""

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

    def jobs_text(self) -> str:
        """The upload report of the page: the active jobs, then the last few finished ones, each with its files."""
        jobs = self.jobs.snapshot()  # active ones first
        active = [j for j in jobs if j["state"] in ACTIVE]
        blocks = []
        for job in active + jobs[len(active):len(active) + SHOWN_FINISHED]:
            n = len(job["files"])
            where = f", position {job['position']} in the queue" if job["position"] else ""
            head = f"Job {job['id']}: {job['state']}{where} ({n} file{'s' if n != 1 else ''})"
            blocks.append("\n".join([head, job["report"]]))
        return "\n\n".join(blocks)

    def cancellable(self) -> list[tuple[str, str]]:
        """(label, id) of the jobs that can still be cancelled, for the page's job picker."""
        out = []
        for job in self.jobs.snapshot():
            if job["state"] in ("queued", "running"):
                names = ", ".join(f["name"] for f in job["files"])
                out.append((f"{job['id']} ({job['state']}): {names}"[:120], job["id"]))
        return out


def build_app(assistant: Assistant, *, examples: list[str] | None = None):
    """The gradio Blocks of the page (not launched)."""
    import gradio as gr

    chat = ChatApp(assistant)
    settings = assistant.settings
    examples = EXAMPLES if examples is None else examples

    with gr.Blocks(title="News QA", analytics_enabled=False) as demo:
        with gr.Sidebar(label="Settings", open=True, position="left"):
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
                    "numbered sources you can open to check the passage.")
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=480):
                with gr.Tabs():
                    with gr.Tab("Ask", id="ask"):
                        chatbot = gr.Chatbot(label="Chat", elem_id="qa-chat", height=680, sanitize_html=True,
                                             render_markdown=True, allow_tags=False, latex_delimiters=[],
                                             feedback_options=None, layout="bubble", autoscroll=True,
                                             buttons=["copy", "copy_all"],
                                             placeholder="Ask a question, or click an example below.")
                        with gr.Row():
                            question = gr.Textbox(show_label=False, placeholder="Ask a question about the articles",
                                                  elem_id="qa-question", scale=6, max_lines=3, autofocus=True)
                            ask_btn = gr.Button("Ask", variant="primary", elem_id="qa-ask", scale=1, min_width=80)
                            clear_btn = gr.Button("Clear", elem_id="qa-clear", scale=1, min_width=80)
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
            with gr.Column(scale=2, min_width=320):
                files = gr.File(label="Add articles (.txt, .md, .pdf, .html)", file_count="multiple",
                                type="filepath", elem_id="qa-upload")
                upload_report = gr.Textbox(label="Upload jobs", interactive=False, lines=3, max_lines=16,
                                           elem_id="qa-upload-report")
                with gr.Row(equal_height=True):
                    job_pick = gr.Dropdown(choices=[], value=None, label="Job", elem_id="qa-job", scale=3,
                                           interactive=True, info="a queued or running upload job")
                    cancel_btn = gr.Button("Cancel job", elem_id="qa-cancel", scale=1, min_width=80)
                table = gr.Dataframe(headers=COLLECTION_HEADERS, datatype=["str", "str", "str", "number", "str"],
                                     label="Collection", interactive=False, wrap=True, elem_id="qa-collection",
                                     max_height=520, latex_delimiters=[], line_breaks=False,
                                     column_widths=["38%", "18%", "14%", "10%", "20%"])
                # The /upload API (files in, the queued job out), apart from the page's own upload event.
                api_files = gr.File(file_count="multiple", type="filepath", visible=False)
                api_job = gr.JSON(visible=False)
        poll = gr.Timer(JOB_POLL_SECONDS, active=False)  # on while a job is queued or running
        shown = gr.State(-1)  # the jobs' generation whose collection the table shows

        inputs = [k, mode, start, end, fast, scores]
        question.submit(chat.respond, [question, chatbot, *inputs], [chatbot, question], api_name="chat",
                        api_visibility="undocumented", concurrency_limit=8, concurrency_id="ask")
        ask_btn.click(chat.respond, [question, chatbot, *inputs], [chatbot, question], api_visibility="private",
                      concurrency_limit=8, concurrency_id="ask")
        for btn in example_btns:
            btn.click(chat.respond, [btn, chatbot, *inputs], [chatbot, question], api_visibility="private",
                      concurrency_limit=8, concurrency_id="ask")
        clear_btn.click(lambda: ([], ""), None, [chatbot, question], api_visibility="private", queue=False)
        for event in (topic.submit, topic_btn.click):
            event(chat.timeline_page, [topic, start, end], timeline_view, api_visibility="private",
                  concurrency_limit=8, concurrency_id="ask")

        one_line_refusals(k, mode, start, end)
        job_outputs = [upload_report, table, job_pick, poll, shown]

        def page_jobs(generation, picked, table_rows=True):
            """The upload report, the collection once a job has changed it, the job picker, and whether to go on
            polling."""
            current = chat.jobs.generation
            choices = chat.cancellable()
            ids = [job_id for _, job_id in choices]
            picked = picked if picked in ids else (ids[0] if ids else None)
            active = any(j["state"] in ACTIVE for j in chat.jobs.snapshot())
            rows = chat.collection() if table_rows and current != generation else gr.skip()
            return (chat.jobs_text(), rows, gr.update(choices=choices, value=picked), gr.Timer(active=active),
                    current if table_rows else generation)

        def page_upload(paths: list[str] | None, generation, picked):
            try:
                picked = chat.upload(paths)["id"]
            except JobError as exc:
                log.warning("upload refused: %s", exc)
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

        files.upload(page_upload, [files, shown, job_pick], job_outputs, api_visibility="private").then(
            lambda: None, None, files, api_visibility="private", queue=False)
        cancel_btn.click(page_cancel, [job_pick, shown], job_outputs, api_visibility="private")
        poll.tick(page_jobs, [shown, job_pick], job_outputs, api_visibility="private", queue=False)
        # The collection itself comes with /collection at load; this shows the jobs a restart resumed.
        demo.load(lambda picked: page_jobs(chat.jobs.generation, picked, table_rows=False), [job_pick],
                  job_outputs, api_visibility="private")

        def upload(paths: list[str] | None) -> dict:
            """Queues files (.txt .md .pdf .html .htm .jsonl) to be added to the collection, as one job; returns
            the job at once: id, state, position in the queue, files (each with its state and note), report."""
            try:
                return chat.upload(paths)
            except JobError as exc:
                log.warning("upload refused: %s", exc)
                raise gr.Error(str(exc), print_exception=False) from None

        api_files.upload(upload, api_files, api_job, api_name="upload")

        def jobs() -> list[dict]:
            """Every upload job the server remembers, the queued and running ones first: id, state (queued,
            running, cancelling, done, cancelled, failed, interrupted), position in the queue, files, report."""
            return chat.jobs.snapshot()

        gr.api(jobs, api_name="jobs", concurrency_limit=None)

        def cancel(job_id: str) -> dict:
            """Cancels an upload job (queued: at once; running: before it commits, leaving the collection as it
            was); returns the job."""
            try:
                return chat.cancel(job_id)
            except JobError as exc:
                log.info("cancel refused: %s", exc)
                raise gr.Error(str(exc), print_exception=False) from None

        gr.api(cancel, api_name="cancel", concurrency_limit=None)

        def collection() -> list[list]:
            """The articles in the index: title, date, chunk count, file."""
            return chat.collection()

        demo.load(collection, None, table, api_name="collection")

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
    return {"css": CSS, "max_file_size": MAX_UPLOAD, "show_error": True, "ssr_mode": False, "footer_links": ["api"]}


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
    try:
        import gradio  # noqa: F401
    except ImportError:
        print("qa ui: error: gradio is not installed; install the ui extra: pip install -e '.[ui]'", file=sys.stderr)
        return 1
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
        demo.chat_app.jobs.close(timeout=10)  # a running upload job is put back, to run again at the next start
        demo.close()
    return 0
