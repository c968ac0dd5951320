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

import logging
import os
import signal
import sys
import threading
import time

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # never call home (and never wait for it)

import gradio as gr  # noqa: E402 (after the line above: gradio reads it when imported)

from qa.assistant import Assistant  # noqa: E402
from qa.config import Settings  # noqa: E402

from .chat_app import ChatApp  # noqa: E402
from .page_api import api_endpoints  # noqa: E402
from .page_ask import EXAMPLES, ask_tab, settings_sidebar, timeline_tab  # noqa: E402
from .page_collection import JOB_POLL_SECONDS, collection_panel  # noqa: E402
from .page_style import CSS, JS  # noqa: E402

log = logging.getLogger("qa.ui")

MAX_UPLOAD = "25mb"


def build_app(assistant: Assistant, *, examples: list[str] | None = None):
    """The gradio Blocks of the page (not launched)."""
    chat = ChatApp(assistant)
    examples = EXAMPLES if examples is None else examples

    with gr.Blocks(title="News QA", analytics_enabled=False) as demo:
        inputs = settings_sidebar(chat)
        gr.Markdown("## News QA\nAsk the collection a question. Every answer is quoted from the articles, with "
                    "numbered sources you can open to check the passage and read the whole article.",
                    elem_id="qa-intro")
        # Hidden, and shared by the builders below (created first, so that each builder can wire its own events).
        poll = gr.Timer(JOB_POLL_SECONDS, active=False)  # on while a job is queued or running
        shown = gr.State(-1)  # the jobs' generation whose collection the table shows
        turns = gr.State([])  # one entry per answer in the chat: question, earlier questions, answer JSON
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=320):
                with gr.Tabs():
                    ask_tab(chat, inputs, turns, examples)
                    timeline_tab(chat, inputs)
            with gr.Column(scale=1, min_width=320):
                panel = collection_panel(chat, demo, poll, shown)
        api_endpoints(chat, demo, panel)

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
    settings = Settings.from_env(corpus_dir=getattr(args, "corpus", None), index_dir=getattr(args, "index_dir", None),
                                 ray=getattr(args, "ray", None), ray_shards=getattr(args, "ray_shards", None))
    started = time.perf_counter()
    assistant = Assistant(settings, progress=True)
    print("qa ui: loading the embedding model", file=sys.stderr, flush=True)
    assistant.encoder.encode_query("warm up")  # loads the model once, now, not on the first question
    try:
        assistant.ask("warm up")  # and touches the index, so that the first question is as fast as the others
    except Exception:  # noqa: BLE001 - e.g. an empty collection; questions will say what is wrong
        log.debug("warm-up question failed", exc_info=True)
    n = len(assistant.index.store.live_articles())
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
