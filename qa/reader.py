"""The span reader: which words of the answer sentence are the answer, or none.

It is the bundled all-MiniLM-L6-v2 with a LoRA adapter and a token head (``qa.lora``) that scores, for each word
piece of the sentence, how likely the answer starts and ends there, and scores "no answer here" on the first token
(as SQuAD 2.0 readers do). A span is marked only when its score beats "no answer" by the margin fitted on questions
it was not trained on (where a marked span became more often right than wrong), and, for a question that asks for a
type (a date, a count, a name, a place), the span is chosen among the spans of that type: a "who" question never
gets a day. Stored in ``qa/models/reader/`` with its model card; trained by ``qa train-reader``
(``eval/train_reader.py``).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .lora import ModelFileError, load_module, read_config, tokenize_pairs
from .question import QuestionKind, typed_candidates

log = logging.getLogger(__name__)

DEFAULT_DIR = Path(__file__).resolve().parent / "models" / "reader"
CONFIG = "reader.json"


TYPED = ("date", "number", "name", "place")  # answer types whose spans the rules can list


class ReaderError(Exception):
    pass


@dataclass
class ReadSpan:
    start: int  # character offsets into the text read
    end: int
    margin: float  # the span's score minus the "no answer" score


def best_span(starts: np.ndarray, ends: np.ndarray, context: np.ndarray, max_tokens: int) -> tuple[int, int, float]:
    """The (start token, end token, score) maximising start + end score over the ``context`` tokens, the end no
    earlier than the start and at most ``max_tokens`` after it."""
    idx = np.flatnonzero(context)
    s, e = starts[idx], ends[idx]
    pair = s[:, None] + e[None, :]
    gap = idx[None, :] - idx[:, None]
    pair[(gap < 0) | (gap >= max_tokens)] = -np.inf
    i, j = np.unravel_index(int(np.argmax(pair)), pair.shape)
    return int(idx[i]), int(idx[j]), float(pair[i, j])


class SpanReader:
    def __init__(self, folder: Path | str | None = None):
        self.folder = Path(folder or DEFAULT_DIR)
        try:
            self.config = read_config(self.folder, CONFIG)
            self.margin = float(self.config["margin"])
            self.max_tokens = int(self.config["max_answer_tokens"])
            self.model, self.tokenizer = load_module(self.folder, self.config, "tokens")
        except ModelFileError as exc:
            raise ReaderError(f"span reader {exc}") from None
        except (ValueError, KeyError, TypeError) as exc:
            raise ReaderError(f"span reader configuration {self.folder / CONFIG} is unreadable: {exc}") from None

    def best(self, kind: QuestionKind, question: str, text: str) -> ReadSpan | None:
        """The reader's best span of ``text`` for ``question`` with its margin over "no answer", not yet held to the
        fitted margin. A question that asks for a type (a date, a count, a name, a place) chooses among the spans of
        that type only (``qa.question.typed_candidates``), so a "who" question never gets a day; None when the
        sentence has no span of the type."""
        import torch

        choices = None
        if kind.answer_type in TYPED:
            choices = [span for span, _ in typed_candidates(kind.answer_type, question, text)]
            if not choices:
                return None
        with torch.inference_mode():
            batch = tokenize_pairs(self.tokenizer, [question], [text], self.config["max_length"],
                                   return_offsets_mapping=True)
            offsets = batch.pop("offset_mapping")[0].numpy()
            context = np.array([sid == 1 for sid in batch.sequence_ids(0)])
            logits = self.model(**batch)[0].float().numpy()
        starts, ends = logits[:, 0], logits[:, 1]
        null = float(starts[0] + ends[0])
        if choices is None:
            i, j, score = best_span(starts, ends, context, self.max_tokens)
            return ReadSpan(int(offsets[i][0]), int(offsets[j][1]), score - null)
        scored = []
        for s, e in choices:
            tokens = np.flatnonzero(context & (offsets[:, 0] < e) & (offsets[:, 1] > s))
            if len(tokens):  # (a span cut off with a long sentence's end has no tokens)
                scored.append((float(starts[tokens[0]] + ends[tokens[-1]]), s, e))
        if not scored:
            return None
        score, s, e = max(scored)
        return ReadSpan(s, e, score - null)

    def span(self, kind: QuestionKind, question: str, text: str) -> tuple[int, int] | None:
        """The answer's character offsets in ``text``, or None when the reader is not sure enough."""
        return self.sure(self.best(kind, question, text))

    def sure(self, read: ReadSpan | None) -> tuple[int, int] | None:
        """The offsets of ``read`` when its margin reaches the fitted one, else None."""
        return (read.start, read.end) if read is not None and read.margin >= self.margin else None
