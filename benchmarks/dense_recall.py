"""HNSW against exact search on real embeddings: recall@10 and latency per search breadth (ef_search).

The chunk vectors are those of a dataset's cached eval index (built by `qa eval` the first time, with the real model);
the queries are the dataset's questions, encoded by the same model. An HNSW index with the configured M and
efConstruction (qa/config.py, QA_HNSW_M, QA_HNSW_EF_CONSTRUCTION) is built over the same vectors and searched at each
ef_search; recall@10 is the share of exact search's top 10 that it finds.

    python benchmarks/dense_recall.py [--dataset scifact|squad] [--ef 16,32,64,128,256]
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from eval.datasets import load_dataset  # noqa: E402
from eval.cache import prepare_index  # noqa: E402
from qa import dense  # noqa: E402
from qa.config import Settings  # noqa: E402
from qa.embed import Encoder  # noqa: E402
from qa.index import Index  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", choices=("scifact", "squad"), default="scifact")
    parser.add_argument("--ef", default="16,32,64,128,256")
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    encoder = Encoder.from_settings(settings)
    ds = load_dataset(args.dataset)
    prepared = prepare_index(ds, settings, encoder)
    index = Index.open(prepared.settings.index_dir, prepared.settings)
    vectors = index.chunk_vectors(np.flatnonzero(index.store.alive_chunk))
    queries = encoder.encode([q.question for q in ds.questions])
    exact, _ = dense.build(vectors, dataclasses.replace(settings.dense, exact_below=len(vectors) + 1))
    truth = [set(dense.search(exact, q, 10, None, settings.dense)[0]) for q in queries]
    started = time.perf_counter()
    approx, params = dense.build(vectors, dataclasses.replace(settings.dense, exact_below=1))
    print(f"{args.dataset}: {len(vectors)} chunk vectors, {len(queries)} questions; HNSW M={params['m']} "
          f"efConstruction={params['ef_construction']} built in {time.perf_counter() - started:.1f} s")
    print("ef_search | recall@10 | search ms p50 | exact ms p50")
    exact_ms = []
    for q in queries[:200]:
        started = time.perf_counter()
        dense.search(exact, q, 10, None, settings.dense)
        exact_ms.append((time.perf_counter() - started) * 1000)
    for ef in (int(e) for e in args.ef.split(",")):
        approx.hnsw.efSearch = ef
        at_ef = dataclasses.replace(settings.dense, ef_search=ef)
        recall, ms = [], []
        for q, want in zip(queries, truth):
            started = time.perf_counter()
            got, _ = dense.search(approx, q, 10, None, at_ef)
            ms.append((time.perf_counter() - started) * 1000)
            recall.append(len(want & set(got)) / 10)
        print(f"{ef} | {np.mean(recall):.4f} | {np.percentile(ms, 50):.3f} | {np.percentile(exact_ms, 50):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
