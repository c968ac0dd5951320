"""Real embeddings at scale: the model encodes a synthetic collection's chunk and sentence texts on the best device
(a GPU when torch sees one: half precision, length-sorted batches of --batch), then HNSW is measured against exact
search on those real vectors.

The collection is made as in benchmarks/scale.py (articles of 12 real sentences from SQuAD dev and SciFact,
recombined) and chunked by the real pipeline; the questions are SQuAD's, encoded by the same model.

    python benchmarks/gpu.py [--chunks 1000000] [--sentences] [--device auto] [--batch 1024] [--questions 1000]

Prints the device's name, texts/s for chunks (and sentences with --sentences), and recall@10 of HNSW (the index's
settings) against exact inner-product search, with both searches' p50. One short script, so that a scarce GPU is
used for minutes: on a CPU, try it with --chunks 2000.
"""
from __future__ import annotations

import argparse
import dataclasses
import random
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from eval.datasets import load_squad  # noqa: E402
from qa import dense  # noqa: E402
from qa.chunk import article_chunks  # noqa: E402
from qa.config import Settings  # noqa: E402
from qa.embed import Encoder  # noqa: E402
from qa.types import Article  # noqa: E402
from scale import SENTENCES_PER_ARTICLE, sentence_pool  # noqa: E402


def collection_texts(n_chunks: int, seed: int = 0) -> tuple[list[str], list[str]]:
    """The chunk texts and sentence texts of about n_chunks chunks, as a build would embed them."""
    rng, pool, settings = random.Random(seed), sentence_pool(), Settings()
    chunks, sentences = [], []
    while len(chunks) < n_chunks:
        body = " ".join(rng.choice(pool) for _ in range(SENTENCES_PER_ARTICLE))
        article = Article(str(len(chunks)), f"Article {len(chunks)}", None, None, "", body, spans=[(0, len(body))])
        ranges, _, texts = article_chunks(article, settings.chunking)
        chunks += texts
        sentences += [body[s:e] for s, e in ranges]
    return chunks[:n_chunks], sentences


def rate(encoder: Encoder, texts: list[str]) -> tuple[np.ndarray, float]:
    encoder.encode(texts[:encoder.batch])  # loads the model and warms the device
    started = time.perf_counter()
    vectors = encoder.encode(texts)
    return vectors, len(texts) / (time.perf_counter() - started)


def recall(vectors: np.ndarray, queries: np.ndarray, settings: Settings) -> tuple[float, float, float]:
    """recall@10 of HNSW against exact search, and each one's p50 in ms."""
    exact, _ = dense.build(vectors, dataclasses.replace(settings.dense, exact_below=len(vectors) + 1))
    approx, _ = dense.build(vectors, dataclasses.replace(settings.dense, exact_below=1))
    found, exact_ms, approx_ms = [], [], []
    for q in queries:
        started = time.perf_counter()
        want = set(dense.search(exact, q, 10, None, settings.dense)[0])
        exact_ms.append(time.perf_counter() - started)
        started = time.perf_counter()
        got = set(dense.search(approx, q, 10, None, settings.dense)[0])
        approx_ms.append(time.perf_counter() - started)
        found.append(len(want & got) / 10)
    return float(np.mean(found)), float(np.median(approx_ms)) * 1000, float(np.median(exact_ms)) * 1000


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chunks", type=int, default=1_000_000)
    parser.add_argument("--sentences", action="store_true", help="also encode the chunks' sentences (about 3x more)")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda[:N] (as QA_DEVICE)")
    parser.add_argument("--batch", type=int, default=1024, help="texts per batch on a GPU")
    parser.add_argument("--questions", type=int, default=1000)
    args = parser.parse_args(argv)
    settings = dataclasses.replace(Settings.from_env(), device=args.device, gpu_batch_size=args.batch)
    encoder = Encoder.from_settings(settings)
    import torch

    name = torch.cuda.get_device_name(encoder.device) if encoder.device != "cpu" else "CPU"
    chunks, sentences = collection_texts(args.chunks)
    print(f"device: {encoder.device} ({name}), {encoder.dtype}, batches of {encoder.batch}")
    vectors, chunk_rate = rate(encoder, chunks)
    print(f"chunks: {len(chunks)} texts, {chunk_rate:,.0f} texts/s", flush=True)
    if args.sentences:
        _, sentence_rate = rate(encoder, sentences)
        print(f"sentences: {len(sentences)} texts, {sentence_rate:,.0f} texts/s", flush=True)
    questions = [q.question for q in load_squad().questions[:args.questions]]
    found, approx_ms, exact_ms = recall(vectors, encoder.encode(questions), settings)
    print(f"HNSW (M={settings.dense.hnsw_m}, efConstruction={settings.dense.ef_construction}, efSearch="
          f"{settings.dense.ef_search}) recall@10 against exact search over {len(vectors)} real vectors: "
          f"{found:.4f} ({len(questions)} SQuAD questions; p50 {approx_ms:.2f} ms, exact {exact_ms:.2f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
