"""``qa train-reader``: trains the span reader (``qa.reader``) and fits its margin, on SQuAD v1.1 dev's tune half only.

1. The tune half's questions (first 24 articles) are split by article, as for the reranker: the first
   ``--train-articles`` train the reader, the rest fit the margin. The held-out half is never read.
2. Each training question gives one positive (the gold paragraph's sentence that holds the answer, with the answer's
   characters) and sentences that hold no answer, labelled "no answer": ``--negatives`` that our own pipeline ranks
   highest without holding it, so the reader learns to decline the sentences the selector gets wrong, and
   ``--paragraph-negatives`` of the gold paragraph's other sentences (in its order), so it learns to tell the answer's
   sentence from its neighbours, which share its topic and names.
3. The margin over "no answer" is the one that marks the most right spans net of wrong ones on the fit questions,
   read from the sentence the pipeline actually quotes first (among the spans of the asked-for type, as
   ``SpanReader.span`` reads).
"""
from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import metrics as M
from .datasets import SQUAD_TUNE_ARTICLES
from .training import article_of, clean, lora, train, training_record, tune_pipeline, tune_sentences

log = logging.getLogger("qa.train")

MAX_LENGTH = 128
MAX_ANSWER_TOKENS = 30


@dataclass
class Example:
    question: str
    text: str
    span: tuple[int, int] | None  # the answer's characters in ``text``; None: no answer here


def locate(text: str, answers: list[str]) -> tuple[int, int] | None:
    """The first answer found in ``text`` as whole words (exact case first, then any case)."""
    for flags in (0, re.IGNORECASE):
        for answer in answers:
            m = re.search(rf"(?<!\w){re.escape(answer.strip())}(?!\w)", text, flags)
            if m:
                return m.start(), m.end()
    return None


def no_answer_texts(ranked: list[str], paragraph: list[str], answers: list[str], negatives: int,
                    paragraph_negatives: int) -> list[str]:
    """One question's "no answer" sentences: the first ``negatives`` of those the pipeline ranks highest (``ranked``,
    best first) that hold no answer, then the first ``paragraph_negatives`` of the gold paragraph's other sentences."""
    hard = list(dict.fromkeys(t for t in ranked if not M.contains_answer(t, answers)))[:negatives]
    neighbours = [t for t in paragraph if t not in hard and not M.contains_answer(t, answers)]
    return hard + neighbours[:paragraph_negatives]


def make_examples(pipeline, questions, vectors, paragraphs, prefix, k, negatives,
                  paragraph_negatives) -> list[Example]:
    out = []
    for q, qv in zip(questions, vectors):
        located = [(t, locate(t, q.answers)) for t in paragraphs[q.gold[0]]]
        positive = next(((t, span) for t, span in located if span), None)
        if positive is None:
            continue  # the answer crosses a sentence boundary
        _, cands = pipeline.candidates(q.question, qv, k=k, rerank=False)
        ranked = [clean(cands.sentences[i].text) for i in np.argsort(-cands.fast, kind="stable")
                  if article_of(cands.sentences[i].article_id[len(prefix):]) < SQUAD_TUNE_ARTICLES]
        out.append(Example(q.question, *positive))
        out.extend(Example(q.question, t, None) for t in
                   no_answer_texts(ranked, [t for t, span in located if not span], q.answers, negatives,
                                   paragraph_negatives))
    return out


def token_labels(encoding, row: int, span: tuple[int, int] | None) -> tuple[int, int]:
    """The first and last token of the answer in one encoded pair; (0, 0), the first token, for no answer or an
    answer cut off by truncation."""
    if span is None:
        return 0, 0
    s, e = span
    offsets, ids = encoding["offset_mapping"][row].tolist(), encoding.sequence_ids(row)
    tokens = [t for t, (a, b) in enumerate(offsets) if ids[t] == 1 and a < e and s < b]
    return (tokens[0], tokens[-1]) if tokens else (0, 0)


def train_reader(examples: list[Example], *, lora_settings: dict, epochs: int, batch_size: int, lr: float, seed: int,
                 base_model: str, device: str, progress: bool):
    """Cross-entropy of the answer's first and last token over the pair's tokens (the first token for no answer)."""
    import torch
    from transformers import AutoTokenizer

    from qa.embed import resolve_model
    from qa.lora import build_module, tokenize_pairs

    torch.manual_seed(seed)
    module = build_module(base_model, lora_settings, "tokens").to(device)
    tokenizer = AutoTokenizer.from_pretrained(resolve_model(base_model))

    def batch_loss(batch: list[int]):
        enc = tokenize_pairs(tokenizer, [examples[i].question for i in batch], [examples[i].text for i in batch],
                             MAX_LENGTH, return_offsets_mapping=True)
        labels = torch.tensor([token_labels(enc, r, examples[i].span) for r, i in enumerate(batch)], device=device)
        enc.pop("offset_mapping")
        logits = module(**enc.to(device)).float()
        logits = logits.masked_fill(~enc["attention_mask"].bool().unsqueeze(-1), -1e4)
        return (torch.nn.functional.cross_entropy(logits[:, :, 0], labels[:, 0])
                + torch.nn.functional.cross_entropy(logits[:, :, 1], labels[:, 1])) / 2

    return train(module, [len(e.question) + len(e.text) for e in examples], batch_loss, batch_size=batch_size,
                 epochs=epochs, lr=lr, seed=seed, device=device, what="span reader", progress=progress)


def choose_margin(rows: list[tuple[float, bool]]) -> tuple[float, dict]:
    """The margin over "no answer" that marks the most right spans net of wrong ones; ``rows`` holds each candidate
    span's margin and whether it matched a gold answer exactly."""
    if not rows:
        return 0.0, {}
    margins = np.array([m for m, _ in rows])
    right = np.array([r for _, r in rows])
    order = np.argsort(-margins)
    net = np.cumsum(np.where(right[order], 1, -1))
    cut = int(np.argmax(net))
    margin = float(margins[order[cut]])
    marked = margins >= margin
    return margin, {"spans_read": len(rows), "marked": int(marked.sum()),
                    "em_of_marked": round(float(right[marked].mean()), 4) if marked.any() else 0.0}


def fit_margin(pipeline, reader, questions, vectors, k: int, heldout: set[str]) -> tuple[float, dict]:
    """Reads the sentence the fast pipeline quotes first for each fit question, as the assistant will, from the tune
    half's paragraphs only (``heldout`` is excluded from retrieval, so no held-out text is read)."""
    rows, rule_em, rule_marked = [], 0, 0
    for q, qv in zip(questions, vectors):
        hits, cands = pipeline.candidates(q.question, qv, k=k, rerank=False, exclude=heldout)
        answer = pipeline.selector.select(cands, hits)
        if answer.abstained or not answer.sentences:
            continue
        lead = answer.sentences[0]
        if lead.span_text:  # what the rules marked, for the report
            rule_marked += 1
            rule_em += M.exact_match(lead.span_text, q.answers)
        text = next(s.text for s in cands.sentences if (s.article_id, s.start) == (lead.article_id, lead.start))
        read = reader.best(cands.kind, q.question, text)
        if read is not None:
            rows.append((read.margin, bool(M.exact_match(text[read.start:read.end], q.answers))))
    margin, report = choose_margin(rows)
    report.update(questions=len(questions), rules_marked=rule_marked,
                  rules_em_of_marked=round(rule_em / max(rule_marked, 1), 4))
    return margin, report


def run(args) -> int:
    """Entry point of ``qa train-reader``."""
    import json

    import torch

    from qa.lora import save_config, save_weights
    from qa.reader import CONFIG, DEFAULT_DIR, SpanReader

    started = time.perf_counter()
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    tune = tune_pipeline(args)
    assistant, prepared, encoder, train_q, fit_q = tune.assistant, tune.prepared, tune.encoder, tune.train_q, tune.fit_q
    pipeline, prefix, k = assistant.pipeline, prepared.prefix, prepared.settings.retrieval.k
    out = Path(args.out) if args.out else DEFAULT_DIR
    if args.fit_only:
        config = json.loads((out / CONFIG).read_text())
    else:
        paragraphs = tune_sentences(pipeline.finder.index.store, prefix, range(SQUAD_TUNE_ARTICLES))
        examples = make_examples(pipeline, train_q, encoder.encode([q.question for q in train_q]), paragraphs,
                                 prefix, k, args.negatives, args.paragraph_negatives)
        log.info("training on %d pairs from %d questions of SQuAD tune articles 0-%d on %s", len(examples),
                 sum(e.span is not None for e in examples), args.train_articles - 1, device)
        trained = time.perf_counter()
        module = train_reader(examples, lora_settings=lora(args.rank), epochs=args.epochs, batch_size=args.batch,
                              lr=args.lr, seed=args.seed, base_model=assistant.settings.model, device=device,
                              progress=True)
        config = {"base_model": assistant.settings.model, "lora": lora(args.rank), "max_length": MAX_LENGTH,
                  "max_answer_tokens": MAX_ANSWER_TOKENS, "margin": 0.0,
                  "training": training_record(args, "train-reader", ("reader_articles", "margin_articles"), device,
                                              trained, pairs=len(examples),
                                              paragraph_negatives=args.paragraph_negatives)}
        save_weights(module, out)
        save_config(config, out, CONFIG)
    margin, report = fit_margin(pipeline, SpanReader(out), fit_q, encoder.encode([q.question for q in fit_q]), k,
                                tune.heldout)
    config["margin"] = margin
    config["training"]["margin_fit"] = report
    save_config(config, out, CONFIG)
    print(json.dumps({"out": str(out), "margin": margin, **report,
                      "seconds": round(time.perf_counter() - started, 1)}, indent=1))
    assistant.index.close()
    return 0
