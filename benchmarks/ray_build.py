"""Building on Ray against building locally, and the cost of searching from Ray shard actors.

Build: the first --docs SciFact abstracts (../shared/datasets), as .jsonl files of 20, embedded by the real model,
built locally (`build_index`) and with `qa index --ray` on a local Ray instance with 1, 2, ... workers (--workers).
Printed per run: seconds, texts embedded per second, and the speed-up over the local build and per worker.
Serving: the bundled collection's questions (eval/sets/collection.jsonl) asked in one process and from --shards Ray
actors holding its segments (the collection indexed one file at a time, so it has a segment per article): p50 and
p95 of the whole ask, and the overhead.

    python benchmarks/ray_build.py [--docs 300] [--workers 1,2] [--shards 4]
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from eval.datasets import load_beir  # noqa: E402
from qa.assistant import Assistant  # noqa: E402
from qa.build import build_index  # noqa: E402
from qa.config import Settings  # noqa: E402
from qa.embed import Encoder  # noqa: E402


def scifact_corpus(folder: Path, n_docs: int) -> None:
    folder.mkdir(parents=True)
    docs = load_beir().documents[:n_docs]
    for n in range(0, len(docs), 20):
        with open(folder / f"part{n:05d}.jsonl", "w") as out:
            for d in docs[n:n + 20]:
                out.write(json.dumps({"id": d.id, "title": d.title, "text": d.text}) + "\n")


def builds(root: Path, n_docs: int, workers: list[int]) -> None:
    import ray

    corpus = root / "scifact"
    scifact_corpus(corpus, n_docs)
    print("build | workers | seconds | texts/s | speed-up | per worker")
    base = None
    for label, n in [("local", 1)] + [("ray", w) for w in workers]:
        settings = Settings.from_env(corpus_dir=corpus, index_dir=root / f"index-{label}-{n}")
        encoder = Encoder.from_settings(settings) if label == "local" else None
        if encoder:
            encoder.encode_query("load the model first")  # as the Ray actors' model loads are not timed either
        started = time.perf_counter()
        report = build_index(settings, encoder=encoder, progress=False, ray=None if encoder else "local",
                             ray_workers=None if encoder else n)
        seconds = time.perf_counter() - started
        base = base or seconds
        print(f"{label} | {n} | {seconds:.1f} | {report.embedded_texts / seconds:.1f} | {base / seconds:.2f}x | "
              f"{base / seconds / n:.2f}x", flush=True)
        if label == "ray":
            ray.shutdown()  # each run starts its own instance, sized by its workers' CPUs


def serving(root: Path, n_shards: int) -> None:
    corpus, index_dir = root / "bundled", root / "index-bundled"
    corpus.mkdir()
    settings = Settings.from_env(corpus_dir=corpus, index_dir=index_dir)
    encoder = Encoder.from_settings(settings)
    for path in sorted((ROOT / "corpus").glob("*.txt")):
        shutil.copy(path, corpus)
        build_index(settings, encoder=encoder, progress=False)
    questions = [json.loads(line)["question"] for line in (ROOT / "eval" / "sets" / "collection.jsonl").open()]
    print("\nsearch | ask p50 ms | ask p95 ms")
    for label, run_settings in (("one process", settings),
                                (f"{n_shards} Ray shard actors", dataclasses.replace(settings, ray="local",
                                                                                     ray_shards=n_shards))):
        bot = Assistant(run_settings, build_if_missing=False, encoder=encoder)
        for q in questions[:5]:
            bot.ask(q, fast=True)
        times = [bot.ask(q, fast=True).timings_ms["total"] for q in questions]
        print(f"{label} | {np.percentile(times, 50):.1f} | {np.percentile(times, 95):.1f}", flush=True)
        bot.index.close()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=300)
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--shards", type=int, default=4)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        builds(Path(tmp), args.docs, [int(w) for w in args.workers.split(",")])
        serving(Path(tmp), args.shards)
    return 0


if __name__ == "__main__":
    sys.exit(main())
