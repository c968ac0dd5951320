"""The browser face of the assistant: a gradio chat page over ``qa.assistant.Assistant`` (started by ``qa ui``)."""
