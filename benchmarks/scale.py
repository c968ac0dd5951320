"""How the index behaves as the collection grows: build, disk, memory and query latency at 10k to 1M chunks.

Synthetic but realistic collections: articles of 12 real sentences drawn from SQuAD v1.1 dev paragraphs and SciFact
abstracts (../shared/datasets), recombined, written as .jsonl files and indexed by the real pipeline (ingest, cleaning,
chunking, BM25, faiss, SQLite). Embeddings: RANDOM UNIT VECTORS stand in for the model's at every size (encoding a
million chunks on 2 cores would take hours and says nothing about the index); so build seconds exclude encoding by
construction, and dense latency is that of search over vectors without neighbourhood structure (a pessimistic case
for HNSW). Questions are real SQuAD questions, encoded by the real model when asked.

    python benchmarks/scale.py [--sizes 10000,100000,1000000] [--json] [--workdir .cache/scale] [--reuse]

Per size: build_s (excluding encoding), disk_mb, rss_mb (peak RSS of a fresh process that opens the index and answers
50 questions), p50 and p95 of BM25, dense, fused retrieval and the whole ask, and rank-bm25's get_scores on the same
chunks where building and querying it takes under --rank-bm25-limit seconds (10 minutes; rank_bm25_over_s otherwise).
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
from qa import dense
settings = Settings.from_env(corpus_dir=sys.argv[1], index_dir=sys.argv[2])
questions = json.loads(sys.argv[3])
bot = Assistant(settings, build_if_missing=False)
bot.ask("warm up")
t = {"bm25": [], "dense": [], "retrieve": [], "ask": []}
for q in questions:
    qv = bot.encoder.encode_query(q)
    s = time.perf_counter(); bot.index.bm25.matches(tokenize(q)); t["bm25"].append(time.perf_counter() - s)
    s = time.perf_counter(); dense.search(bot.index.dense, qv, 50, None, settings.dense); t["dense"].append(time.perf_counter() - s)
    s = time.perf_counter(); bot.retriever.search(q, 5, query_vector=qv); t["retrieve"].append(time.perf_counter() - s)
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


def build(corpus: Path, index_dir: Path, settings: Settings) -> dict:
    """A fresh build; what it measured is also kept beside the index, for --reuse."""
    shutil.rmtree(index_dir, ignore_errors=True)
    started = time.perf_counter()
    report = build_index(settings, encoder=RandomEncoder(), progress=False)
    built = {"size": report.chunks, "build_s": round(time.perf_counter() - started - report.encode_seconds, 1),
             "dense_index": report.dense_index["type"]}
    index_dir.with_name(index_dir.name + ".build.json").write_text(json.dumps(built))
    return built


def bench(size: int, pool: list[str], questions: list[str], workdir: Path, reuse: bool,
          rank_bm25_limit_s: float) -> dict:
    corpus, index_dir = workdir / f"corpus-{size}", workdir / f"index-{size}"
    if not corpus.exists():
        write_collection(corpus, size, pool)
    settings = Settings.from_env(corpus_dir=corpus, index_dir=index_dir)
    kept = index_dir.with_name(index_dir.name + ".build.json")
    built = json.loads(kept.read_text()) if reuse and kept.is_file() else build(corpus, index_dir, settings)
    probe = subprocess.run([sys.executable, "-c", PROBE, str(corpus), str(index_dir), json.dumps(questions)],
                           capture_output=True, text=True, cwd=ROOT, check=True)
    measured = json.loads(probe.stdout.strip().splitlines()[-1])
    row = {
        **built, "disk_mb": round(disk_mb(index_dir), 1), "rss_mb": round(measured["rss_mb"]),
        **{f"{name}_ms_p{p}": round(measured[stage][i], 2) for name, stage in STAGES.items()
           for i, p in enumerate((50, 95))},
    }
    reference = rank_bm25_p50(corpus, index_dir, questions, rank_bm25_limit_s)
    if reference is None:
        row["rank_bm25_over_s"] = rank_bm25_limit_s
    else:
        row["rank_bm25_ms_p50"] = round(reference, 1)
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
    args = parser.parse_args(argv)
    workdir = Path(args.workdir)
    pool = sentence_pool()
    questions = [q.question for q in load_squad().questions[::200]][:50]
    header = ["size", "build_s", "disk_mb", "rss_mb", "bm25_ms_p50", "bm25_ms_p95", "rank_bm25_ms_p50", "dense_ms_p50",
              "dense_ms_p95", "fusion_ms_p50", "fusion_ms_p95", "ask_ms_p50", "ask_ms_p95", "dense_index"]
    if not args.json:
        print(" | ".join(header))
    for size in (int(s) for s in args.sizes.split(",")):
        row = bench(size, pool, questions, workdir, args.reuse, args.rank_bm25_limit)
        if args.json:
            print(json.dumps(row), flush=True)
        else:
            if "rank_bm25_over_s" in row:
                row["rank_bm25_ms_p50"] = f"over {row['rank_bm25_over_s']:g} s"
            print(" | ".join(str(row.get(k, "-")) for k in header), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
