"""What training the reranker and the span reader share: the tune half's pipeline, and one training loop over
length-sorted batches (examples of similar length share a batch, so little is padded; the batch order is shuffled),
AdamW with 5% warm-up then linear decay, and bfloat16 autocast where the hardware has it."""
from __future__ import annotations

import logging
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .cache import prepare_index
from .datasets import SQUAD_TUNE_ARTICLES, load_dataset
from .settings import EvalSettings

log = logging.getLogger("qa.train")


def lora(rank: int) -> dict:
    """Both models' LoRA settings: rank ``rank`` (alpha twice that) on every attention and feed-forward layer."""
    return {"r": rank, "lora_alpha": 2 * rank, "lora_dropout": 0.1,
            "target_modules": ["query", "key", "value", "dense"]}


def training_record(args, command: str, parts: tuple[str, str], device: str, started: float, **counts) -> dict:
    """What a model's configuration records of its training: data, split, settings, command and time."""
    return {"data": "SQuAD v1.1 dev, tune half (first 24 articles)", parts[0]: f"0-{args.train_articles - 1}",
            parts[1]: f"{args.train_articles}-{SQUAD_TUNE_ARTICLES - 1}", **counts, "negatives": args.negatives,
            "rank": args.rank, "epochs": args.epochs, "batch": args.batch, "lr": args.lr, "seed": args.seed,
            "device": device, "command": f"qa {command} " + " ".join(sys.argv[2:]),
            "train_seconds": round(time.perf_counter() - started, 1)}


def article_of(doc_id: str) -> int:
    return int(doc_id[1:3])  # "a07p012" -> 7


def clean(text: str) -> str:
    return " ".join(text.split())


@dataclass
class TuneRun:
    assistant: object  # qa.assistant.Assistant over the index of all of SQuAD's paragraphs, answering as --fast
    prepared: object  # eval.cache.Prepared: its settings and document-id prefix
    encoder: object
    train_q: list  # tune questions that train the model
    fit_q: list  # tune questions that fit what is chosen after it
    heldout: set[str]  # the indexed ids of the held-out half's paragraphs: a fit that retrieves must exclude them


def tune_pipeline(args) -> TuneRun:
    """The assistant over the index of all of SQuAD's paragraphs (built once into the eval cache), answering as
    ``--fast`` (the pipeline whose mistakes the models learn from), and the tune half's questions split by article:
    those that train the model and those that fit what is chosen after it (``--limit``: a sample of each)."""
    from qa.assistant import Assistant
    from qa.config import ReaderSettings, RerankerSettings, Settings
    from qa.embed import Encoder

    eval_settings = EvalSettings.from_env()  # the one read of the evaluation shell's environment
    ds = load_dataset("squad", args.data, "tune", eval_settings=eval_settings)
    settings = Settings.from_env(reranker=RerankerSettings(enabled=False), reader=ReaderSettings(enabled=False))
    encoder = Encoder.from_settings(settings)
    prepared = prepare_index(ds, settings, encoder, eval_settings=eval_settings)
    assistant = Assistant(prepared.settings, build_if_missing=False, progress=False, encoder=encoder)
    train_q = [q for q in ds.questions if article_of(q.gold[0]) < args.train_articles]
    fit_q = [q for q in ds.questions if article_of(q.gold[0]) >= args.train_articles]
    if args.limit:
        train_q, fit_q = (random.Random(args.seed).sample(qs, min(args.limit, len(qs))) for qs in (train_q, fit_q))
    heldout = {prepared.prefix + d.id for d in ds.documents if article_of(d.id) >= SQUAD_TUNE_ARTICLES}
    return TuneRun(assistant, prepared, encoder, train_q, fit_q, heldout)


def tune_sentences(store, prefix: str, articles: range) -> dict[str, list[str]]:
    """The sentences of every paragraph of the given SQuAD articles, by document id."""
    out = {}
    for a in store.live_articles().tolist():
        article = store.article(a)
        doc = article.id[len(prefix):]
        if article_of(doc) in articles:
            out[doc] = [clean(article.text[s:e]) for s, e in store.sentence_ranges(a)[1]]
    return out


def train(module, lengths: Sequence[int], batch_loss: Callable, *, batch_size: int, epochs: int, lr: float, seed: int,
          device: str, what: str, progress: bool):
    """Trains ``module`` (its trainable parameters) on the examples whose sizes are ``lengths``: ``batch_loss(indices)``
    gives one batch's loss. Returns the module on the CPU, in evaluation mode."""
    import torch
    from tqdm import tqdm
    from transformers import get_linear_schedule_with_warmup

    from qa.lora import half_precision

    optimizer = torch.optim.AdamW([p for p in module.parameters() if p.requires_grad], lr=lr, weight_decay=0.01)
    rng = random.Random(seed)
    by_length = sorted(range(len(lengths)), key=lengths.__getitem__)
    batches = [by_length[i:i + batch_size] for i in range(0, len(by_length), batch_size)]
    steps = epochs * len(batches)
    schedule = get_linear_schedule_with_warmup(optimizer, int(0.05 * steps), steps)
    module.train()
    with tqdm(total=steps, desc=f"Training the {what}", unit="batch", disable=None if progress else True,
              file=sys.stderr) as bar:
        for epoch in range(epochs):
            rng.shuffle(batches)
            total = 0.0
            for batch in batches:
                with half_precision(device):
                    loss = batch_loss(batch)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                schedule.step()
                total += loss.item()
                bar.update(1)
                bar.set_postfix(epoch=epoch + 1, loss=f"{loss.item():.3f}")
            log.info("epoch %d: mean loss %.4f", epoch + 1, total / len(batches))
    return module.to("cpu").eval()
