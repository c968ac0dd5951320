"""The collection panel of the page: uploads, the jobs they queue (with cancel), the table of articles, removal
and re-indexing, each built with the events it wires."""
from __future__ import annotations

import logging
from dataclasses import dataclass

import gradio as gr

from qa.readers import SUFFIXES

from .chat_app import ChatApp
from .jobs_model import ACTIVE, JobError

log = logging.getLogger("qa.ui")

COLLECTION_HEADERS = ["Title", "Date", "Publisher", "Chunks", "File"]
JOB_POLL_SECONDS = 1.0  # how often the page asks for the progress of running upload jobs


@dataclass
class CollectionPanel:
    """The panel's components that its events and the API endpoints share."""
    files: gr.File
    upload_report: gr.Textbox
    job_pick: gr.Dropdown
    cancel_btn: gr.Button
    table: gr.Dataframe
    skipped: gr.HTML
    remove_pick: gr.Dropdown
    remove_btn: gr.Button
    reindex_btn: gr.Button
    api_files: gr.File
    api_job: gr.JSON


def collection_panel(chat: ChatApp, demo: gr.Blocks, poll: gr.Timer, shown: gr.State) -> CollectionPanel:
    """The panel, with its job events: ``poll`` ticks while a job is queued or running, ``shown`` is the jobs'
    generation whose collection the table shows."""
    files = gr.File(label=f"Add articles ({', '.join(sorted(SUFFIXES))})", file_count="multiple",
                    type="filepath", elem_id="qa-upload")
    upload_report = gr.Textbox(label="Jobs", interactive=False, lines=3, max_lines=16, elem_id="qa-upload-report")
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
    panel = CollectionPanel(files, upload_report, job_pick, cancel_btn, table, skipped, remove_pick, remove_btn,
                            reindex_btn, api_files, api_job)
    _job_events(chat, demo, panel, poll, shown)
    return panel


def _jobs_view(chat: ChatApp):
    """The handler that refreshes what the panel shows of the jobs (the job events' outputs, in order)."""

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

    return page_jobs


def _job_events(chat: ChatApp, demo: gr.Blocks, panel: CollectionPanel, poll: gr.Timer, shown: gr.State) -> None:
    """Upload, remove, re-index and cancel queue or change a job; the timer and the page's load follow the jobs."""
    page_jobs = _jobs_view(chat)
    job_outputs = [panel.upload_report, panel.table, panel.job_pick, poll, shown, panel.remove_pick, panel.skipped]

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

    panel.files.upload(lambda paths, generation, picked: page_submit(lambda: chat.upload(paths), generation, picked),
                       [panel.files, shown, panel.job_pick], job_outputs, api_visibility="private").then(
        lambda: None, None, panel.files, api_visibility="private", queue=False)
    panel.remove_btn.click(lambda file, generation, picked: page_submit(lambda: chat.remove([file] if file else []),
                                                                       generation, picked),
                           [panel.remove_pick, shown, panel.job_pick], job_outputs, api_visibility="private")
    panel.reindex_btn.click(lambda generation, picked: page_submit(chat.reindex, generation, picked),
                            [shown, panel.job_pick], job_outputs, api_visibility="private")
    panel.cancel_btn.click(page_cancel, [panel.job_pick, shown], job_outputs, api_visibility="private")
    poll.tick(page_jobs, [shown, panel.job_pick], job_outputs, api_visibility="private", queue=False)
    # The collection itself comes with /collection at load; this shows the jobs a restart resumed.
    demo.load(lambda picked: page_jobs(chat.jobs.generation, picked, table_rows=False), [panel.job_pick],
              job_outputs, api_visibility="private")
