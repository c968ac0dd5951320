"""Encoding throughput of the embedding backends (sentence-transformers' backend=), as an index build encodes.

The texts are what a build embeds for SciFact (../shared/datasets): each abstract's chunks (title, then up to 5
sentences) and its sentences one by one, taken from the first --docs abstracts. Each backend goes through qa's own
Encoder (length-sorted batches of 64; openvino and onnx are exported from the local weights once and cached).
Printed per backend: the first load (export included when there was none; the first backend listed also pays for
importing torch and transformers), texts/s, speed-up over torch, how far its vectors are from torch's (largest
absolute difference, smallest cosine), and the p50 of encoding one question (50 SciFact claims), which is most of a
warm ask.

    python benchmarks/encode.py [--backends torch,openvino] [--docs 300] [--threads N]

Backends other than torch need their extra installed (pip install 'news-qa[openvino]').
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from eval.datasets import load_beir  # noqa: E402
from qa.chunk import article_chunks  # noqa: E402
from qa.config import Settings  # noqa: E402
from qa.embed import Encoder  # noqa: E402
from qa.types import Article  # noqa: E402


def build_texts(documents, n_docs: int) -> list[str]:
    settings = Settings()
    texts = []
    for doc in documents[:n_docs]:
        article = Article(doc.id, doc.title, None, "scifact", "", doc.text, spans=[(0, len(doc.text))])
        sentences, _, chunk_texts = article_chunks(article, settings.chunking)
        texts += chunk_texts + [doc.text[s:e] for s, e in sentences]
    return texts


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="torch,openvino")
    parser.add_argument("--docs", type=int, default=300)
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's own choice)")
    args = parser.parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    scifact = load_beir()
    texts = build_texts(scifact.documents, args.docs)
    questions = [q.question for q in scifact.questions[:50]]
    print(f"{len(texts)} texts from {args.docs} SciFact abstracts")
    print("backend | first load s | texts/s | speed-up | max abs diff | min cosine | query ms p50")
    reference = base_rate = None
    for backend in args.backends.split(","):
        encoder = Encoder(Settings().model, backend=backend)
        started = time.perf_counter()
        encoder.encode(texts[:8])  # loads (and, the first time, exports) the model
        load_s = time.perf_counter() - started
        started = time.perf_counter()
        vectors = encoder.encode(texts)
        rate = len(texts) / (time.perf_counter() - started)
        if reference is None:
            reference, base_rate = vectors, rate
        diff = float(np.abs(vectors - reference).max())
        cosine = float((vectors * reference).sum(axis=1).min())
        query_ms = []
        for q in questions:
            started = time.perf_counter()
            encoder.encode_query(q)
            query_ms.append((time.perf_counter() - started) * 1000)
        print(f"{backend} | {load_s:.1f} | {rate:.0f} | {rate / base_rate:.2f}x | {diff:.4f} | {cosine:.4f} | "
              f"{np.percentile(query_ms, 50):.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
