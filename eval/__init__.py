"""Evaluation of the question-answering assistant: metrics and hand-written question sets."""
