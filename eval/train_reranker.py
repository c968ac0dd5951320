"""``qa train-reranker``: trains the cross-encoder reranker and fits its combiners, on SQuAD v1.1 dev's tune half only.

1. The tune half's questions (first 24 articles) are split by article: the first ``--train-articles`` train the
   cross-encoder, the rest fit the combiners and choose the thresholds (so the combiner sees the cross-encoder's
   scores on questions it was not trained on). The held-out half is never read for training.
2. Each question goes through our own pipeline (hybrid retrieval of the top chunks over all of SQuAD's paragraphs,
   candidate features, pruning by the fast score), so the negatives are the sentences the pipeline itself confuses
   with the answer; sentences of held-out articles are dropped from the candidates.
3. The cross-encoder (MiniLM + LoRA + head) learns a listwise softmax over 1 positive and ``--negatives`` negatives per
   question, in length-sorted batches padded only to their longest pair.
4. Logistic regressions combine its score with the candidate features ("full") or use it alone ("cross-encoder");
   the abstention threshold is chosen on the same questions asked with their gold paragraph withheld.
"""
from __future__ import annotations

import json
import logging
import random
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from . import metrics as M
from .datasets import SQUAD_TUNE_ARTICLES
from .training import article_of, clean, lora, train, training_record, tune_pipeline, tune_sentences

log = logging.getLogger("qa.train")

FULL_FEATURES = ["cross", "dense", "lexical", "retrieval", "typed", "position", "length"]
MAX_LENGTH = 128


@dataclass
class Example:
    question: str
    answers: list[str]
    positive: str
    negatives: list[str]


def make_examples(pipeline, questions, vectors, paragraphs, prefix, k, prune, negatives, rng) -> list[Example]:
    """One positive (an answer-bearing sentence of the gold paragraph, the pipeline's own pick among them when it has
    one) and ``negatives`` hard negatives (the pruned candidates that hold no answer), topped up with other sentences
    of the gold paragraph and then random tune sentences."""
    pool = [s for sents in paragraphs.values() for s in sents]
    out = []
    for q, qv in zip(questions, vectors):
        _, cands = pipeline.candidates(q.question, qv, k=k, rerank=False)
        gold_sents = paragraphs[q.gold[0]]
        positives = [s for s in gold_sents if M.contains_answer(s, q.answers)]
        if not positives:
            continue  # the answer crosses a sentence boundary
        pruned = [(cands.sentences[i].article_id[len(prefix):], clean(cands.sentences[i].text))
                  for i in np.argsort(-cands.fast, kind="stable")[:prune]]
        positive = next((t for _, t in pruned if t in positives), positives[0])
        # held-out text never trains; a sentence holding the answer is no negative
        hard = [t for doc, t in pruned
                if article_of(doc) < SQUAD_TUNE_ARTICLES and not M.contains_answer(t, q.answers)]
        fill = [t for t in gold_sents if t not in positives and t not in hard]
        negs = list(dict.fromkeys(hard + fill))[:negatives]
        while len(negs) < negatives:
            t = rng.choice(pool)
            if not M.contains_answer(t, q.answers):
                negs.append(t)
        out.append(Example(q.question, q.answers, positive, negs))
    return out


def train_cross_encoder(examples: list[Example], *, lora_settings: dict, epochs: int, batch_groups: int, lr: float,
                        seed: int, base_model: str, device: str, progress: bool):
    """A listwise softmax over each question's positive and negatives, ``batch_groups`` questions a batch."""
    import torch
    from transformers import AutoTokenizer

    from qa.embed import resolve_model
    from qa.lora import build_module, tokenize_pairs

    torch.manual_seed(seed)
    module = build_module(base_model, lora_settings).to(device)
    tokenizer = AutoTokenizer.from_pretrained(resolve_model(base_model))
    group = 1 + len(examples[0].negatives)

    def batch_loss(batch: list[int]):
        questions = [examples[i].question for i in batch for _ in range(group)]
        texts = [t for i in batch for t in [examples[i].positive] + examples[i].negatives]
        logits = module(**tokenize_pairs(tokenizer, questions, texts, MAX_LENGTH).to(device)).float()
        return torch.nn.functional.cross_entropy(logits.view(len(batch), group),
                                                 torch.zeros(len(batch), dtype=torch.long, device=device))

    lengths = [len(e.question) + max(len(t) for t in [e.positive] + e.negatives) for e in examples]
    return train(module, lengths, batch_loss, batch_size=batch_groups, epochs=epochs, lr=lr, seed=seed,
                 device=device, what="reranker", progress=progress)


def _fit_logistic(x: np.ndarray, y: np.ndarray) -> dict:
    from sklearn.linear_model import LogisticRegression

    mean, scale = x.mean(0), x.std(0)
    scale[scale == 0] = 1.0
    model = LogisticRegression(C=1.0, max_iter=1000).fit((x - mean) / scale, y)
    return {"mean": mean.tolist(), "scale": scale.tolist(), "weights": model.coef_[0].tolist(),
            "bias": float(model.intercept_[0])}


def _best(probabilities: np.ndarray) -> float:
    return float(probabilities.max()) if len(probabilities) else 0.0


def choose_threshold(answerable: list[float], unanswerable: list[float], wrong_share: float = 0.05) -> float:
    """The abstention threshold that refuses the most unanswerable questions while refusing at most ``wrong_share``
    of the answerable ones (a refused answerable question costs a user more than an extra refusal gains)."""
    a, u = np.sort(np.asarray(answerable)), np.asarray(unanswerable)
    threshold = float(a[int(np.floor(wrong_share * len(a)))]) if len(a) else 0.0
    log.info("abstention threshold %.3f: refuses %.1f%% of withheld, %.1f%% of answerable tune questions", threshold,
             100 * (u < threshold).mean() if len(u) else 0.0, 100 * (a < threshold).mean() if len(a) else 0.0)
    return threshold


def choose_keep_share(selector, fitted: list, combiner, answers: list[list[str]]) -> tuple[float, list]:
    """The largest share of the best probability a further sentence needs, whose hit@3 is within half a point of the
    best on the grid: fewer unrelated sentences for the same chance of quoting the answer."""
    rows = []
    for share in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9):
        trial = replace(combiner, keep_share=share)
        hit3 = noise = 0.0
        for (hits, cands), golds in zip(fitted, answers):
            answer = selector.select(cands, hits, trial)
            shown = [] if answer.abstained else [s.text for s in answer.sentences]
            hit3 += any(M.contains_answer(t, golds) for t in shown[:3])
            noise += sum(not M.contains_answer(t, golds) for t in shown)
        rows.append((share, hit3 / len(fitted), noise / len(fitted)))
    best = max(r[1] for r in rows)
    return max(r[0] for r in rows if r[1] >= best - 0.005), rows


def fit_combiners(pipeline, questions, vectors, prefix: str, k: int, heldout: set[str]) -> dict:
    """Fits on the fit questions' candidates from the tune half's paragraphs only (``heldout`` is excluded from
    retrieval, so no held-out text is read), asked normally and with the gold paragraph withheld."""
    from qa.combine import Combiner, feature_matrix

    x, y, fitted, asked, withheld = [], [], [], [], []
    for q, qv in zip(questions, vectors):
        hits, cands = pipeline.candidates(q.question, qv, k=k, exclude=heldout)
        if "cross" not in cands.features:
            continue  # a list question: the cross-encoder does not read it, and the selector keeps the fast score
        scored = ~np.isnan(cands.features["cross"])
        x.append(feature_matrix(cands, FULL_FEATURES)[scored])
        y.append(np.array([M.contains_answer(s.text, q.answers) for s in cands.sentences])[scored])
        fitted.append((hits, cands))
        asked.append(q)
        hits_w, cands_w = pipeline.candidates(q.question, qv, k=k, exclude=heldout | {prefix + q.gold[0]})
        if not any(M.contains_answer(s.text, q.answers) for s in cands_w.sentences):
            withheld.append(cands_w)
    x, y = np.concatenate(x), np.concatenate(y).astype(int)
    combiners, report = {}, {}
    for name, columns in (("full", FULL_FEATURES), ("cross-encoder", ["cross"])):
        fit = _fit_logistic(x[:, [FULL_FEATURES.index(c) for c in columns]], y)
        combiner = Combiner(features=columns, **fit)
        answerable = [_best(combiner.probability(c)) for (_, c), q in zip(fitted, asked)
                      if any(M.contains_answer(s.text, q.answers) for s in c.sentences)]
        unanswerable = [_best(combiner.probability(c)) for c in withheld]
        combiner = replace(combiner, abstain_below=choose_threshold(answerable, unanswerable))
        share, rows = choose_keep_share(pipeline.selector, fitted, combiner, [q.answers for q in asked])
        combiners[name] = replace(combiner, keep_share=share).to_dict()
        report[name] = {"threshold": combiner.abstain_below, "keep_share": share, "share_grid": rows,
                        "answerable": len(answerable), "withheld": len(unanswerable)}
    return combiners, report


def run(args) -> int:
    """Entry point of ``qa train-reranker``."""
    import torch

    from qa.lora import save_config
    from qa.rerank import CONFIG, DEFAULT_DIR, Reranker

    started = time.perf_counter()
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    tune = tune_pipeline(args)
    assistant, prepared, encoder, train_q, fit_q = tune.assistant, tune.prepared, tune.encoder, tune.train_q, tune.fit_q
    settings = assistant.settings
    pipeline, prefix, k = assistant.pipeline, prepared.prefix, prepared.settings.retrieval.k
    out = Path(args.out) if args.out else DEFAULT_DIR
    if args.fit_only:  # keep the trained cross-encoder; fit its combiners again
        config = json.loads((out / CONFIG).read_text())
    else:
        config = _train(args, pipeline, encoder, train_q, prefix, k, settings, device, out)
    pipeline.reranker = Reranker(out, candidates=settings.reranker.candidates)
    combiners, report = fit_combiners(pipeline, fit_q, encoder.encode([q.question for q in fit_q]), prefix, k,
                                      tune.heldout)
    config["combiners"] = combiners
    config["training"]["combiner_fit"] = report
    config["training"]["combiner_command"] = "qa train-reranker " + " ".join(sys.argv[2:])
    save_config(config, out, CONFIG)
    print(json.dumps({"out": str(out), "fit_questions": len(fit_q), **report,
                      "seconds": round(time.perf_counter() - started, 1)}, indent=1))
    assistant.index.close()
    return 0


def _train(args, pipeline, encoder, questions, prefix, k, settings, device, out: Path) -> dict:
    """Trains the cross-encoder on ``questions`` and saves it with its configuration (combiners still empty)."""
    from qa.lora import save_config, save_weights
    from qa.rerank import CONFIG

    started = time.perf_counter()
    paragraphs = tune_sentences(pipeline.finder.index.store, prefix, range(SQUAD_TUNE_ARTICLES))
    examples = make_examples(pipeline, questions, encoder.encode([q.question for q in questions]), paragraphs,
                             prefix, k, settings.reranker.candidates, args.negatives, random.Random(args.seed))
    log.info("training on %d questions of SQuAD tune articles 0-%d (%d pairs a epoch) on %s", len(examples),
             args.train_articles - 1, len(examples) * (1 + args.negatives), device)
    module = train_cross_encoder(examples, lora_settings=lora(args.rank), epochs=args.epochs, batch_groups=args.batch,
                                 lr=args.lr, seed=args.seed, base_model=settings.model, device=device, progress=True)
    config = {"base_model": settings.model, "lora": lora(args.rank), "max_length": MAX_LENGTH, "combiners": {},
              "training": training_record(args, "train-reranker", ("cross_encoder_articles", "combiner_articles"),
                                          device, started, questions=len(examples))}
    save_weights(module, out)
    save_config(config, out, CONFIG)
    return config
