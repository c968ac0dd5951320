"""How the index behaves as the collection grows: build, disk, memory and query latency at 10k to 1M chunks.

Synthetic but realistic collections: articles of 12 real sentences drawn from SQuAD v1.1 dev paragraphs and SciFact
abstracts (../shared/datasets), recombined, written as .jsonl files and indexed by the real pipeline (ingest, cleaning,
chunking, BM25, faiss, SQLite). Embeddings: RANDOM UNIT VECTORS stand in for the model's at every size (encoding a
million chunks on 2 cores would take hours and says nothing about the index); so build seconds exclude encoding by
construction, and dense latency is that of search over vectors without neighbourhood structure (a pessimistic case
for HNSW). Questions are real SQuAD questions, encoded by the real model when asked.

    python benchmarks/scale.py [--sizes 10000,100000,1000000] [--json] [--workdir .cache/scale] [--reuse]
                               [--additions 100] [--optimize-up-to 100000]

Per size: build_s (excluding encoding), build_rss_mb (the build process's peak), segments, disk_mb, rss_mb (peak RSS
of a fresh process that opens the index and answers 50 questions), p50 and p95 of BM25, dense, fused retrieval and the
whole ask, and rank-bm25's get_scores on the same chunks where building and querying it takes under --rank-bm25-limit
seconds (10 minutes; rank_bm25_over_s otherwise). Then the updates a growing collection makes, on a hard-linked copy
of the index (segments are never written again, so the copy costs nothing and the built index stays as it was):
--additions single-article files added one build each (add1_s p50 and max; the max includes the tiered merges they
set off), the whole ask p50 after them, one of those files removed (remove1_s), a file of 1,000 articles added
(add1000_s), and at sizes up to --optimize-up-to, every segment merged into one (optimize_s).
"""
from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from eval.datasets import load_beir, load_squad  # noqa: E402
from qa.config import Settings  # noqa: E402
from qa.build import build_index  # noqa: E402

SENTENCES_PER_ARTICLE = 12
ARTICLES_PER_FILE = 5000
STAGES = {"bm25": "bm25", "dense": "dense", "fusion": "retrieve", "ask": "ask"}  # reported name: probe's name


class RandomEncoder:
    """Stands in for the model at build time: unit vectors, deterministic per text."""

    dim = 384

    def encode(self, texts, progress=None):
        rng = np.random.default_rng(len(texts))
        v = rng.standard_normal((len(texts), self.dim), dtype=np.float32)
        if progress:
            progress(len(texts))
        return v / np.linalg.norm(v, axis=1, keepdims=True)


def sentence_pool() -> list[str]:
    docs = load_squad().documents + load_beir().documents
    pool = []
    for d in docs:
        pool += [s for s in re.split(r"(?<=[.!?])\s+(?=[A-Z])", d.text) if 5 <= len(s.split()) <= 60]
    return pool


def write_articles(path: Path, n: int, pool: list[str], seed: int) -> None:
    """A .jsonl file of n articles of 12 sentences, named after the file."""
    rng = random.Random(seed)
    with open(path, "w") as out:
        for a in range(n):
            body = " ".join(rng.choice(pool) for _ in range(SENTENCES_PER_ARTICLE))
            out.write(json.dumps({"id": f"{path.stem}-{a}", "title": f"{path.stem} {a}", "text": body}) + "\n")


def write_collection(folder: Path, n_chunks: int, pool: list[str], seed: int = 0) -> None:
    """About n_chunks chunks: an article of 12 sentences makes 4 chunks (5 sentences, 2 shared)."""
    rng = random.Random(seed)
    n_articles = n_chunks // 4
    partial = folder.with_name(folder.name + ".partial")  # renamed when complete, so an interrupted run starts over
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    for f in range(0, n_articles, ARTICLES_PER_FILE):
        with open(partial / f"part{f // ARTICLES_PER_FILE:04d}.jsonl", "w") as out:
            for a in range(f, min(n_articles, f + ARTICLES_PER_FILE)):
                body = " ".join(rng.choice(pool) for _ in range(SENTENCES_PER_ARTICLE))
                out.write(json.dumps({"id": str(a), "title": f"Article {a}", "text": body}) + "\n")
    partial.rename(folder)


def disk_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20


PROBE = r"""
import json, sys, time
import numpy as np
from qa.assistant import Assistant
from qa.config import Settings
from qa.text import tokenize
settings = Settings.from_env(corpus_dir=sys.argv[1], index_dir=sys.argv[2])
questions = json.loads(sys.argv[3])
bot = Assistant(settings, build_if_missing=False)
bot.ask("warm up")
t = {"bm25": [], "dense": [], "retrieve": [], "ask": []}
for q in questions:
    qv = bot.encoder.encode_query(q)
    s = time.perf_counter(); bot.index.bm25.matches(tokenize(q)); t["bm25"].append(time.perf_counter() - s)
    s = time.perf_counter(); bot.index.dense_search(qv, 50); t["dense"].append(time.perf_counter() - s)
    s = time.perf_counter(); bot.pipeline.retriever.search(q, 5, query_vector=qv); t["retrieve"].append(time.perf_counter() - s)
    t["ask"].append(bot.ask(q).timings_ms["total"] / 1000)
out = {k: [float(np.percentile(v, 50)) * 1000, float(np.percentile(v, 95)) * 1000] for k, v in t.items()}
# VmHWM, not getrusage's ru_maxrss: that one carries over the parent's peak across fork and exec.
status = dict(line.split(":", 1) for line in open("/proc/self/status"))
out["rss_mb"] = int(status["VmHWM"].split()[0]) / 1024
print(json.dumps(out))
"""


# rank-bm25 on the same chunks, in its own process so that its memory (Python token lists) and time are its own.
RANK_BM25 = r"""
import json, sys, time
import numpy as np
from rank_bm25 import BM25Okapi
from qa.config import Settings
from qa.index import Index
from qa.text import tokenize
settings = Settings.from_env(corpus_dir=sys.argv[1], index_dir=sys.argv[2])
index = Index.open(settings.index_dir, settings)
reference = BM25Okapi([tokenize(index.store.chunk(i).text) for i in range(len(index.store.chunk_article))])
times = []
for q in json.loads(sys.argv[3])[:10]:
    started = time.perf_counter()
    reference.get_scores(tokenize(q))
    times.append(time.perf_counter() - started)
print(float(np.percentile(times, 50)) * 1000)
"""


def rank_bm25_p50(corpus: Path, index_dir: Path, questions: list[str], limit_s: float) -> float | None:
    """rank-bm25's get_scores p50 in ms; None when building and querying it takes longer than limit_s."""
    try:
        run = subprocess.run([sys.executable, "-c", RANK_BM25, str(corpus), str(index_dir), json.dumps(questions)],
                             capture_output=True, text=True, cwd=ROOT, check=True, timeout=limit_s)
    except subprocess.TimeoutExpired:
        return None
    return float(run.stdout.strip().splitlines()[-1])


# A fresh build in its own process, so that its peak memory is its own.
BUILD = r"""
import json, sys, time
sys.path.insert(0, "benchmarks")
from scale import RandomEncoder
from qa.build import build_index
from qa.config import Settings
settings = Settings.from_env(corpus_dir=sys.argv[1], index_dir=sys.argv[2])
started = time.perf_counter()
report = build_index(settings, encoder=RandomEncoder(), progress=False)
status = dict(line.split(":", 1) for line in open("/proc/self/status"))
print(json.dumps({"size": report.chunks, "build_s": round(time.perf_counter() - started - report.encode_seconds, 1),
                  "build_rss_mb": round(int(status["VmHWM"].split()[0]) / 1024), "segments": report.segments,
                  "dense_index": report.dense_index["type"]}))
"""


def build(corpus: Path, index_dir: Path) -> dict:
    """A fresh build; what it measured is also kept beside the index, for --reuse."""
    shutil.rmtree(index_dir, ignore_errors=True)
    run = subprocess.run([sys.executable, "-c", BUILD, str(corpus), str(index_dir)], capture_output=True, text=True,
                         cwd=ROOT, check=True)
    built = json.loads(run.stdout.strip().splitlines()[-1])
    index_dir.with_name(index_dir.name + ".build.json").write_text(json.dumps(built))
    return built


def probe(corpus: Path, index_dir: Path, questions: list[str]) -> dict:
    run = subprocess.run([sys.executable, "-c", PROBE, str(corpus), str(index_dir), json.dumps(questions)],
                         capture_output=True, text=True, cwd=ROOT, check=True)
    return json.loads(run.stdout.strip().splitlines()[-1])


def updates(corpus: Path, index_dir: Path, workdir: Path, pool: list[str], questions: list[str], additions: int,
            optimize: bool) -> dict:
    """Adds, removes and merges on hard-linked copies of the corpus and the index; returns the timings."""
    work_corpus, work_index = workdir / "update-corpus", workdir / "update-index"
    for source, target in ((corpus, work_corpus), (index_dir, work_index)):
        shutil.rmtree(target, ignore_errors=True)
        subprocess.run(["cp", "-al", str(source), str(target)], check=True)
    settings = Settings.from_env(corpus_dir=work_corpus, index_dir=work_index)

    def timed(**kwargs) -> float:
        started = time.perf_counter()
        build_index(settings, encoder=RandomEncoder(), progress=False, **kwargs)
        return time.perf_counter() - started

    singles = []
    for n in range(additions):
        write_articles(work_corpus / f"added-{n:04d}.jsonl", 1, pool, seed=n + 1)
        singles.append(timed())
    row = {"add1_s_p50": round(float(np.median(singles)), 2), "add1_s_max": round(max(singles), 2),
           "ask_after_ms_p50": round(probe(work_corpus, work_index, questions)["ask"][0], 2)}
    (work_corpus / "added-0000.jsonl").unlink()
    row["remove1_s"] = round(timed(), 2)
    write_articles(work_corpus / "added-1000.jsonl", 1000, pool, seed=0)
    row["add1000_s"] = round(timed(), 2)
    row["segments_after"] = len(json.loads((work_index / "builds" / (work_index / "CURRENT").read_text()
                                            / "manifest.json").read_text())["segments"])
    if optimize:
        row["optimize_s"] = round(timed(optimize=True), 1)
    shutil.rmtree(work_corpus)
    shutil.rmtree(work_index)
    return row


def bench(size: int, pool: list[str], questions: list[str], workdir: Path, args) -> dict:
    corpus, index_dir = workdir / f"corpus-{size}", workdir / f"index-{size}"
    if not corpus.exists():
        write_collection(corpus, size, pool)
    kept = index_dir.with_name(index_dir.name + ".build.json")
    built = json.loads(kept.read_text()) if args.reuse and kept.is_file() else build(corpus, index_dir)
    measured = probe(corpus, index_dir, questions)
    row = {
        **built, "disk_mb": round(disk_mb(index_dir), 1), "rss_mb": round(measured["rss_mb"]),
        **{f"{name}_ms_p{p}": round(measured[stage][i], 2) for name, stage in STAGES.items()
           for i, p in enumerate((50, 95))},
    }
    reference = rank_bm25_p50(corpus, index_dir, questions, args.rank_bm25_limit)
    if reference is None:
        row["rank_bm25_over_s"] = args.rank_bm25_limit
    else:
        row["rank_bm25_ms_p50"] = round(reference, 1)
    if args.additions:
        row.update(updates(corpus, index_dir, workdir, pool, questions, args.additions, size <= args.optimize_up_to))
    return row


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--json", action="store_true", help="one JSON object per size per line")
    parser.add_argument("--workdir", default=str(ROOT / ".cache" / "scale"))
    parser.add_argument("--rank-bm25-limit", type=float, default=600,
                        help="seconds rank-bm25 may take to build and answer 10 questions before it is given up")
    parser.add_argument("--reuse", action="store_true",
                        help="measure the indexes an earlier run left in --workdir (their build_s is that run's)")
    parser.add_argument("--additions", type=int, default=100, help="single-article additions to time (0: none)")
    parser.add_argument("--optimize-up-to", type=int, default=100_000,
                        help="largest size at which every segment is merged into one (optimize_s)")
    args = parser.parse_args(argv)
    workdir = Path(args.workdir)
    pool = sentence_pool()
    questions = [q.question for q in load_squad().questions[::200]][:50]
    header = ["size", "build_s", "build_rss_mb", "segments", "disk_mb", "rss_mb", "bm25_ms_p50", "bm25_ms_p95",
              "rank_bm25_ms_p50", "dense_ms_p50", "dense_ms_p95", "fusion_ms_p50", "fusion_ms_p95", "ask_ms_p50",
              "ask_ms_p95", "dense_index", "add1_s_p50", "add1_s_max", "ask_after_ms_p50", "remove1_s", "add1000_s",
              "segments_after", "optimize_s"]
    if not args.json:
        print(" | ".join(header))
    for size in (int(s) for s in args.sizes.split(",")):
        row = bench(size, pool, questions, workdir, args)
        if args.json:
            print(json.dumps(row), flush=True)
        else:
            if "rank_bm25_over_s" in row:
                row["rank_bm25_ms_p50"] = f"over {row['rank_bm25_over_s']:g} s"
            print(" | ".join(str(row.get(k, "-")) for k in header), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
