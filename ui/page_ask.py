"""The asking side of the page: the settings sidebar, the Ask tab (the chat, its ratings and export) and the
Timeline tab, each built with the events it wires."""
from __future__ import annotations

import logging
from typing import NamedTuple

import gradio as gr  # at module level: gradio reads the handlers' gr.Request/gr.LikeData hints here

from qa import feedback

from .chat_app import MAX_K, ChatApp

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


class SettingsInputs(NamedTuple):
    """The sidebar's settings, in the order the chat handler takes them."""
    k: gr.Slider
    mode: gr.Radio
    start: gr.DateTime
    end: gr.DateTime
    fast: gr.Checkbox
    scores: gr.Checkbox


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


def settings_sidebar(chat: ChatApp) -> SettingsInputs:
    """The Settings side panel; its values go with every question (the dates with every timeline too)."""
    settings, assistant = chat.settings, chat.assistant
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
        # only where a learned stage is on (the span reader by default, the reranker with QA_RERANKER=on)
        fast = gr.Checkbox(value=False, label="Fast answers",
                           visible=assistant.reranker is not None or assistant.reader is not None,
                           info="skip the reranker and the span reader (answer words marked by rules)")
        scores = gr.Checkbox(value=False, label="Show scores",
                             info="BM25, dense and fused scores per source (for tuning)")
    one_line_refusals(k, mode, start, end)
    return SettingsInputs(k, mode, start, end, fast, scores)


def ask_tab(chat: ChatApp, inputs: SettingsInputs, turns: gr.State, examples: list[str]) -> None:
    """The Ask tab: the chat, the question box and its buttons, the note for a rating, the example questions.
    ``turns`` (the page's state, one entry per answer in the chat) keeps each answer's JSON for ratings and export."""
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
                                  elem_id="qa-question", scale=6, min_width=200, max_lines=3, autofocus=True)
            ask_btn = gr.Button("Ask", variant="primary", elem_id="qa-ask", scale=1, min_width=70)
            clear_btn = gr.Button("Clear", elem_id="qa-clear", scale=1, min_width=70)
            export_btn = gr.DownloadButton("Export", elem_id="qa-export", scale=1, min_width=70, interactive=False)
        with gr.Row(equal_height=True):
            note = gr.Textbox(show_label=False, elem_id="qa-feedback-note", scale=4, max_lines=2,
                              placeholder="Optional note to go with a thumbs up or down under "
                                          "an answer: what was right or wrong")
            rated = gr.Markdown(elem_id="qa-feedback-status")
        gr.Markdown("**Examples**")
        with gr.Row(elem_id="qa-examples"):
            example_btns = [gr.Button(q, size="sm", elem_classes=["qa-example"]) for q in examples]

    def page_export(kept, request: gr.Request):
        path = chat.export(kept, request.session_hash or "")
        return gr.DownloadButton(value=str(path) if path else None, interactive=path is not None)

    # The question box's event is also the (undocumented) /chat endpoint; the buttons' are the page's own. Then the
    # Export button is given the conversation so far: a download button hands out the file it holds when clicked.
    private = {"api_visibility": "private"}
    asked = [(question.submit, question, {"api_name": "chat", "api_visibility": "undocumented"}),
             (ask_btn.click, question, private)] + [(btn.click, btn, private) for btn in example_btns]
    for event, source, api in asked:
        event(chat.respond, [source, chatbot, turns, *inputs], [chatbot, question, turns], concurrency_limit=8,
              concurrency_id="ask", **api).then(page_export, turns, export_btn, **private)
        # Until the new answer is in the file, Export would hand out the conversation without it.
        event(lambda: gr.DownloadButton(interactive=False), None, export_btn, queue=False, **private)

    def page_clear():
        return [], "", [], gr.DownloadButton(value=None, interactive=False), ""

    for event in (clear_btn.click, chatbot.clear):
        event(page_clear, None, [chatbot, question, turns, export_btn, rated], api_visibility="private", queue=False)

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


def timeline_tab(chat: ChatApp, inputs: SettingsInputs) -> None:
    """The Timeline tab: a topic in, its dated events out, within the settings' date range."""
    with gr.Tab("Timeline", id="timeline", elem_id="qa-timeline-tab"):
        gr.Markdown("The dated events about a topic across the collection, oldest first, each "
                    "quoted with its date and source. The date range of the settings applies.")
        with gr.Row():
            topic = gr.Textbox(show_label=False, placeholder="A topic, e.g. China US relations",
                               elem_id="qa-topic", scale=6, max_lines=1)
            topic_btn = gr.Button("Show timeline", variant="primary", elem_id="qa-timeline-go",
                                  scale=1, min_width=120)
        timeline_view = gr.HTML(elem_id="qa-timeline")
    for event in (topic.submit, topic_btn.click):
        event(chat.timeline_page, [topic, inputs.start, inputs.end], timeline_view, api_visibility="private",
              concurrency_limit=8, concurrency_id="ask")
