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
from .datasets import SQUAD_TUNE_ARTICLES, load_dataset
from .cache import prepare_index
from .settings import EvalSettings

log = logging.getLogger("qa.train")

LORA = {"r": 16, "lora_alpha": 32, "lora_dropout": 0.1, "target_modules": ["query", "key", "value", "dense"]}
FULL_FEATURES = ["cross", "dense", "lexical", "retrieval", "typed", "position", "length"]
MAX_LENGTH = 128


@dataclass
class Example:
    question: str
    answers: list[str]
    positive: str
    negatives: list[str]


def _article_of(doc_id: str) -> int:
    return int(doc_id[1:3])  # "a07p012" -> 7


def _clean(text: str) -> str:
    return " ".join(text.split())


def _tune_sentences(store, prefix: str, articles: range) -> dict[str, list[str]]:
    """The sentences of every paragraph of the given SQuAD articles, by document id."""
    out = {}
    for a in store.live_articles().tolist():
        article = store.article(a)
        doc = article.id[len(prefix):]
        if _article_of(doc) in articles:
            out[doc] = [_clean(article.text[s:e]) for s, e in store.sentence_ranges(a)[1]]
    return out


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
        pruned = [(cands.sentences[i].article_id[len(prefix):], _clean(cands.sentences[i].text))
                  for i in np.argsort(-cands.fast, kind="stable")[:prune]]
        positive = next((t for _, t in pruned if t in positives), positives[0])
        # held-out text never trains; a sentence holding the answer is no negative
        hard = [t for doc, t in pruned
                if _article_of(doc) < SQUAD_TUNE_ARTICLES and not M.contains_answer(t, q.answers)]
        fill = [t for t in gold_sents if t not in positives and t not in hard]
        negs = list(dict.fromkeys(hard + fill))[:negatives]
        while len(negs) < negatives:
            t = rng.choice(pool)
            if not M.contains_answer(t, q.answers):
                negs.append(t)
        out.append(Example(q.question, q.answers, positive, negs))
    return out


def train_cross_encoder(examples: list[Example], *, epochs: int, batch_groups: int, lr: float, seed: int,
                        base_model: str, device: str, progress: bool):
    import torch
    from tqdm import tqdm
    from transformers import AutoTokenizer, get_linear_schedule_with_warmup

    from qa.embed import resolve_model
    from qa.rerank import build_module, half_precision, tokenize_pairs

    torch.manual_seed(seed)
    module = build_module(base_model, LORA).to(device)
    tokenizer = AutoTokenizer.from_pretrained(resolve_model(base_model))
    optimizer = torch.optim.AdamW([p for p in module.parameters() if p.requires_grad], lr=lr, weight_decay=0.01)
    rng = random.Random(seed)
    # Length-sorted batches: questions of similar length share a batch, so little is padded; batch order is shuffled.
    by_length = sorted(range(len(examples)), key=lambda i: len(examples[i].question) + max(
        len(t) for t in [examples[i].positive] + examples[i].negatives))
    batches = [by_length[i:i + batch_groups] for i in range(0, len(by_length), batch_groups)]
    steps = epochs * len(batches)
    schedule = get_linear_schedule_with_warmup(optimizer, int(0.05 * steps), steps)
    group = 1 + len(examples[0].negatives)
    module.train()
    with tqdm(total=steps, desc="Training the reranker", unit="batch", disable=None if progress else True,
              file=sys.stderr) as bar:
        for epoch in range(epochs):
            rng.shuffle(batches)
            total = 0.0
            for batch in batches:
                questions = [examples[i].question for i in batch for _ in range(group)]
                texts = [t for i in batch for t in [examples[i].positive] + examples[i].negatives]
                with half_precision(device):
                    logits = module(**tokenize_pairs(tokenizer, questions, texts, MAX_LENGTH).to(device)).float()
                loss = torch.nn.functional.cross_entropy(
                    logits.view(len(batch), group), torch.zeros(len(batch), dtype=torch.long, device=device))
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                schedule.step()
                total += loss.item()
                bar.update(1)
                bar.set_postfix(epoch=epoch + 1, loss=f"{loss.item():.3f}")
            log.info("epoch %d: mean loss %.4f", epoch + 1, total / len(batches))
    return module.to("cpu").eval()


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


def fit_combiners(pipeline, questions, vectors, prefix: str, k: int) -> dict:
    from qa.combine import Combiner, feature_matrix

    x, y, fitted, withheld = [], [], [], []
    for q, qv in zip(questions, vectors):
        hits, cands = pipeline.candidates(q.question, qv, k=k)
        scored = ~np.isnan(cands.features["cross"])
        x.append(feature_matrix(cands, FULL_FEATURES)[scored])
        y.append(np.array([M.contains_answer(s.text, q.answers) for s in cands.sentences])[scored])
        fitted.append((hits, cands))
        hits_w, cands_w = pipeline.candidates(q.question, qv, k=k, exclude={prefix + q.gold[0]})
        if not any(M.contains_answer(s.text, q.answers) for s in cands_w.sentences):
            withheld.append(cands_w)
    x, y = np.concatenate(x), np.concatenate(y).astype(int)
    combiners, report = {}, {}
    for name, columns in (("full", FULL_FEATURES), ("cross-encoder", ["cross"])):
        fit = _fit_logistic(x[:, [FULL_FEATURES.index(c) for c in columns]], y)
        combiner = Combiner(features=columns, **fit)
        answerable = [_best(combiner.probability(c)) for (_, c), q in zip(fitted, questions)
                      if any(M.contains_answer(s.text, q.answers) for s in c.sentences)]
        unanswerable = [_best(combiner.probability(c)) for c in withheld]
        combiner = replace(combiner, abstain_below=choose_threshold(answerable, unanswerable))
        share, rows = choose_keep_share(pipeline.selector, fitted, combiner, [q.answers for q in questions])
        combiners[name] = replace(combiner, keep_share=share).to_dict()
        report[name] = {"threshold": combiner.abstain_below, "keep_share": share, "share_grid": rows,
                        "answerable": len(answerable), "withheld": len(unanswerable)}
    return combiners, report


def run(args) -> int:
    """Entry point of ``qa train-reranker``."""
    import torch

    from qa.assistant import Assistant
    from qa.config import RerankerSettings, Settings
    from qa.embed import Encoder
    from qa.rerank import CONFIG, DEFAULT_DIR, Reranker, save_config

    started = time.perf_counter()
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    eval_settings = EvalSettings.from_env()  # the one read of the evaluation shell's environment
    ds = load_dataset("squad", args.data, "tune", eval_settings=eval_settings)
    settings = Settings.from_env(reranker=RerankerSettings(enabled=False))
    encoder = Encoder.from_settings(settings)
    prepared = prepare_index(ds, settings, encoder, eval_settings=eval_settings)
    assistant = Assistant(prepared.settings, build_if_missing=False, progress=False, encoder=encoder)
    pipeline, prefix, k = assistant.pipeline, prepared.prefix, prepared.settings.retrieval.k
    train_q = [q for q in ds.questions if _article_of(q.gold[0]) < args.train_articles]
    fit_q = [q for q in ds.questions if _article_of(q.gold[0]) >= args.train_articles]
    if args.limit:
        train_q, fit_q = (random.Random(args.seed).sample(qs, min(args.limit, len(qs))) for qs in (train_q, fit_q))
    out = Path(args.out) if args.out else DEFAULT_DIR
    if args.fit_only:  # keep the trained cross-encoder; fit its combiners again
        config = json.loads((out / CONFIG).read_text())
    else:
        config = _train(args, pipeline, encoder, train_q, prefix, k, settings, device, out)
    pipeline.reranker = Reranker(out, candidates=settings.reranker.candidates)
    combiners, report = fit_combiners(pipeline, fit_q, encoder.encode([q.question for q in fit_q]), prefix, k)
    config["combiners"] = combiners
    config["training"]["combiner_fit"] = report
    config["training"]["combiner_command"] = "qa train-reranker " + " ".join(sys.argv[2:])
    save_config(config, out)
    print(json.dumps({"out": str(out), "fit_questions": len(fit_q), **report,
                      "seconds": round(time.perf_counter() - started, 1)}, indent=1))
    assistant.index.close()
    return 0


def _train(args, pipeline, encoder, questions, prefix, k, settings, device, out: Path) -> dict:
    """Trains the cross-encoder on ``questions`` and saves it with its configuration (combiners still empty)."""
    from qa.rerank import save_config, save_weights

    started = time.perf_counter()
    paragraphs = _tune_sentences(pipeline.finder.index.store, prefix, range(SQUAD_TUNE_ARTICLES))
    examples = make_examples(pipeline, questions, encoder.encode([q.question for q in questions]), paragraphs,
                             prefix, k, settings.reranker.candidates, args.negatives, random.Random(args.seed))
    log.info("training on %d questions of SQuAD tune articles 0-%d (%d pairs a epoch) on %s", len(examples),
             args.train_articles - 1, len(examples) * (1 + args.negatives), device)
    module = train_cross_encoder(examples, epochs=args.epochs, batch_groups=args.batch, lr=args.lr, seed=args.seed,
                                 base_model=settings.model, device=device, progress=True)
    config = {"base_model": settings.model, "lora": LORA, "max_length": MAX_LENGTH, "combiners": {},
              "training": {"data": "SQuAD v1.1 dev, tune half (first 24 articles)",
                           "cross_encoder_articles": f"0-{args.train_articles - 1}",
                           "combiner_articles": f"{args.train_articles}-{SQUAD_TUNE_ARTICLES - 1}",
                           "questions": len(examples), "negatives": args.negatives, "epochs": args.epochs,
                           "batch_questions": args.batch, "lr": args.lr, "seed": args.seed, "device": device,
                           "command": "qa train-reranker " + " ".join(sys.argv[2:]),
                           "train_seconds": round(time.perf_counter() - started, 1)}}
    save_weights(module, out)
    save_config(config, out)
    return config
