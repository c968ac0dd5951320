"""The endpoints a script calls (``gradio_client``): /upload, /remove, /reindex, /jobs, /cancel, /collection, /ask
and /timeline. Their docstrings are what the page's API view shows."""
from __future__ import annotations

import logging
from dataclasses import asdict

import gradio as gr

from .chat_app import ChatApp
from .jobs_model import JobError
from .page_collection import CollectionPanel

log = logging.getLogger("qa.ui")


def api_endpoints(chat: ChatApp, demo: gr.Blocks, panel: CollectionPanel) -> None:
    """Every endpoint, in the order the API view lists them."""
    job_endpoints(chat, panel)
    collection_endpoint(chat, demo, panel)
    question_endpoints(chat)


def _job_api(what: str, call):
    """An API call that queues or changes a job: a refusal is one line in the log and the caller's error."""
    try:
        return call()
    except JobError as exc:
        log.info("%s refused: %s", what, exc)
        raise gr.Error(str(exc), print_exception=False) from None


def job_endpoints(chat: ChatApp, panel: CollectionPanel) -> None:
    """/upload (through the panel's hidden file input), /remove, /reindex, /jobs and /cancel."""

    def upload(paths: list[str] | None) -> dict:
        """Queues article files (any format `qa index` reads) to be added to the collection, as one job; returns
        the job at once: id, kind, state, position in the queue, files (each with its state and note), report."""
        return _job_api("upload", lambda: chat.upload(paths))

    panel.api_files.upload(upload, panel.api_files, panel.api_job, api_name="upload")

    def remove(files: list[str]) -> dict:
        """Queues a job that takes files out of the collection: each named as /collection lists it (relative to
        the corpus folder), moved into the corpus folder's .trash/, then out of the index. Returns the job at
        once; /jobs follows it."""
        return _job_api("remove", lambda: chat.remove(files))

    def reindex(rebuild: bool = False) -> dict:
        """Queues a job that updates the index from the corpus folder (files added, changed or removed there by
        hand); rebuild=True builds it from scratch. Returns the job at once; /jobs follows it."""
        return _job_api("reindex", lambda: chat.reindex(rebuild))

    def jobs() -> list[dict]:
        """Every job the server remembers (uploads, removals, reindexes: "kind"), the queued and running ones
        first: id, kind, state (queued, running, cancelling, done, cancelled, failed, interrupted), position in
        the queue, files, report."""
        return chat.jobs.snapshot()

    def cancel(job_id: str) -> dict:
        """Cancels a job (queued: at once; running: before it commits, leaving the collection as it was);
        returns the job."""
        return _job_api("cancel", lambda: chat.cancel(job_id))

    for fn in (remove, reindex, jobs, cancel):  # each answers at once: no need to wait for a turn
        gr.api(fn, api_name=fn.__name__, concurrency_limit=None)


def collection_endpoint(chat: ChatApp, demo: gr.Blocks, panel: CollectionPanel) -> None:
    """/collection, which also fills the page's table (and the Remove picker) when the page loads."""

    def collection() -> list[list]:
        """The articles in the index: title, date, publisher, chunk count, file."""
        return chat.collection()

    demo.load(collection, None, panel.table, api_name="collection").then(
        lambda rows: gr.update(choices=chat.files(rows)), panel.table, panel.remove_pick, api_visibility="private",
        queue=False)


def question_endpoints(chat: ChatApp) -> None:
    """/ask and /timeline, which share the page's questions' concurrency limit ("ask")."""

    def ask(question: str, history: list[str] | None = None) -> dict:
        """Answers a question from the whole collection with the default settings; ``history``, the questions
        asked before it (oldest first), lets it be a follow-up. Returns the JSON object that `qa ask --json`
        prints (question, answer, abstained, confidence, sentences, citations, timings_ms, notes, understood)."""
        try:
            return chat.ask(question, history=history).to_json()
        except ValueError as exc:  # the user's mistake: one line in the log, no traceback
            log.info("question refused: %s", exc)
            raise gr.Error(str(exc), print_exception=False) from None

    def timeline(topic: str) -> dict:
        """The dated events about a topic across the whole collection, oldest first; returns the JSON object
        that `qa timeline --json` prints (topic, events with date, date_source, text, offsets and source number,
        citations, notes)."""
        try:
            return asdict(chat.timeline(topic))
        except ValueError as exc:
            log.info("timeline refused: %s", exc)
            raise gr.Error(str(exc), print_exception=False) from None

    for fn in (ask, timeline):
        gr.api(fn, api_name=fn.__name__, concurrency_limit=8, concurrency_id="ask")
