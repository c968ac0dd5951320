"""Benchmarks for indexing and asking (issue 2), printed as one table.

For the bundled collection (corpus/) and for SQuAD v1.1 dev's 2,067 paragraphs (one .jsonl file, read in place from
../shared/datasets and written to a temporary folder):

- a fresh index build in this process (model already loaded): seconds, chunks/s, and the share of the build spent
  in the encoder (BuildReport.encode_seconds / seconds; target >= 85%);
- a fresh build by the CLI (`qa index --rebuild`, a new process: model load included), wall seconds;
- an unchanged re-run of `qa index` (a new process): wall seconds (target <= 2 s) and the texts it embedded (0);
- warm `Assistant.ask` latency per stage (encode, retrieve, rerank, select, total) over ~100 questions, with the
  reranker (target total p50 <= 80 ms), with ``fast=True`` (p50 within 10% of the 13.5 ms before the reranker), and
  as shipped (no reranker, the span reader marking the answer's words);
- on the bundled collection, warm follow-ups as shipped: the second turns of eval/sets/conversation*.jsonl asked with
  their history (the earlier turns are answered again to know what they quoted);
- cold `qa ask` (a new process, index already built): wall seconds;
- peak resident memory of each subprocess (wait4 rusage) and of this process.

Usage: .venv/bin/python benchmarks/ask.py [--questions 100] [--no-squad] [--json]
"""
from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from eval.datasets import load_collection, load_squad  # noqa: E402
from eval.questions import sample  # noqa: E402
from eval.settings import EvalSettings  # noqa: E402

PYTHON = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv" / "bin" / "python").exists() else sys.executable


def _maxrss_mb(ru_maxrss: int) -> float:
    return ru_maxrss / 1024 if sys.platform != "darwin" else ru_maxrss / 2 ** 20  # Linux: KiB


# A small launcher between this (large) process and the measured command: a child's peak RSS as wait4 reports it
# starts from the memory image it was forked from, so the command is forked from the launcher's few MB instead.
# The launcher reports the command's wall time and peak RSS on the last line of its output.
LAUNCHER = """
import os, sys, time
t0 = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
sys.stdout.flush()
print(f"\\n@@bench {time.perf_counter() - t0:.4f} {usage.ru_maxrss}", flush=True)
sys.exit(os.waitstatus_to_exitcode(status))
"""


def run_cli(args: list[str], env: dict) -> dict:
    """Run `python -m qa ...` and return its wall seconds, output and peak RSS (MB)."""
    proc = subprocess.run([sys.executable, "-c", LAUNCHER, PYTHON, "-m", "qa", *args], cwd=ROOT, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    text, _, tail = proc.stdout.rpartition("@@bench ")
    if proc.returncode != 0 or not tail:
        raise RuntimeError(f"qa {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-2000:]}")
    wall, maxrss = tail.split()[:2]
    return {"seconds": float(wall), "output": text, "rss_mb": _maxrss_mb(int(maxrss))}


def bench_corpus(name: str, corpus_dir: Path, questions: list[str], workdir: Path, encoder,
                 follow_ups: list[tuple[str, list[str]]] = ()) -> dict:
    from qa.assistant import Assistant
    from qa.config import RerankerSettings, Settings
    from qa.build import build_index

    index_dir = workdir / f"{name}-index"
    # the reranker on, so that both paths are timed (it is off by default)
    settings = replace(Settings.from_env(), corpus_dir=corpus_dir, index_dir=index_dir,
                       reranker=RerankerSettings(enabled=True))
    env = {**os.environ, "QA_CORPUS": str(corpus_dir), "QA_INDEX_DIR": str(index_dir)}
    r: dict = {"corpus": name}

    report = build_index(settings, rebuild=True, encoder=encoder, progress=False)
    r.update(articles=report.articles, chunks=report.chunks, sentences=report.sentences,
             embedded=report.embedded_texts, build_s=report.seconds, chunks_per_s=report.chunks / report.seconds,
             texts_per_s=report.embedded_texts / report.seconds,
             encode_share=report.encode_seconds / report.seconds)

    cli = run_cli(["index", "--rebuild"], env)
    r.update(cli_build_s=cli["seconds"], cli_build_rss_mb=cli["rss_mb"])

    again = run_cli(["index"], env)
    up_to_date = "is up to date" in again["output"]
    embedded = re.search(r"embedded (\d+) texts", again["output"])
    r.update(reindex_s=again["seconds"], reindex_up_to_date=up_to_date,
             reindex_embedded=int(embedded.group(1)) if embedded else 0, reindex_rss_mb=again["rss_mb"])

    assistant = Assistant(settings, build_if_missing=False, progress=False, encoder=encoder)
    default = Assistant(replace(settings, reranker=RerankerSettings()), build_if_missing=False, progress=False,
                        encoder=encoder)  # as shipped: no reranker, the span reader on
    for q in questions[:3]:  # warm-up
        assistant.ask(q)
        assistant.ask(q, fast=True)
        default.ask(q)
    for prefix, asker, fast in (("", assistant, False), ("fast_", assistant, True), ("default_", default, False)):
        stages: dict[str, list[float]] = {"encode": [], "retrieve": [], "rerank": [], "select": [], "total": []}
        for q in questions:
            t = asker.ask(q, fast=fast).timings_ms
            for k in stages:
                stages[k].append(t[k])
        for k, values in stages.items():
            r[f"{prefix}{k}_p50_ms"] = float(np.percentile(values, 50))
            r[f"{prefix}{k}_p95_ms"] = float(np.percentile(values, 95))
    r["asked"] = len(questions)
    if follow_ups:  # (question, history): the whole ask, the replay of the history included
        totals = [default.ask(q, history=history).timings_ms["total"] for q, history in follow_ups]
        r.update(follow_up_p50_ms=float(np.percentile(totals, 50)), follow_up_p95_ms=float(np.percentile(totals, 95)),
                 follow_ups=len(follow_ups))
    assistant.index.close()
    default.index.close()

    cold = run_cli(["ask", questions[0]], env)
    r.update(cold_ask_s=cold["seconds"], cold_ask_rss_mb=cold["rss_mb"])
    return r


ROWS = [  # (label, key, format, target)
    ("articles / chunks / sentences", None, None, ""),
    ("build, in process (s)", "build_s", "{:.1f}", ""),
    ("build chunks/s", "chunks_per_s", "{:.0f}", ""),
    ("embedded texts (chunks + sentences)", "embedded", "{}", ""),
    ("embedded texts/s", "texts_per_s", "{:.0f}", ""),
    ("encoder share of build", "encode_share", "{:.0%}", ">= 85%"),
    ("build, `qa index --rebuild` (s)", "cli_build_s", "{:.1f}", ""),
    ("unchanged `qa index` (s)", "reindex_s", "{:.2f}", "<= 2 s"),
    ("unchanged `qa index` embedded", "reindex_embedded", "{}", "0"),
    ("warm ask encode p50 / p95 (ms)", ("encode_p50_ms", "encode_p95_ms"), "{:.1f}", ""),
    ("warm ask retrieve p50 / p95 (ms)", ("retrieve_p50_ms", "retrieve_p95_ms"), "{:.1f}", ""),
    ("warm ask rerank p50 / p95 (ms)", ("rerank_p50_ms", "rerank_p95_ms"), "{:.1f}", ""),
    ("warm ask select p50 / p95 (ms)", ("select_p50_ms", "select_p95_ms"), "{:.1f}", ""),
    ("warm ask total p50 / p95 (ms)", ("total_p50_ms", "total_p95_ms"), "{:.1f}", "p50 <= 80 ms"),
    ("warm ask as shipped (reader) select p50 / p95 (ms)", ("default_select_p50_ms", "default_select_p95_ms"),
     "{:.1f}", ""),
    ("warm ask as shipped (reader) total p50 / p95 (ms)", ("default_total_p50_ms", "default_total_p95_ms"), "{:.1f}",
     ""),
    ("warm ask --fast total p50 / p95 (ms)", ("fast_total_p50_ms", "fast_total_p95_ms"), "{:.1f}", "p50 <= 15 ms"),
    ("questions asked", "asked", "{}", ""),
    ("warm follow-up as shipped total p50 / p95 (ms)", ("follow_up_p50_ms", "follow_up_p95_ms"), "{:.1f}", ""),
    ("follow-ups asked", "follow_ups", "{}", ""),
    ("cold `qa ask` wall (s)", "cold_ask_s", "{:.1f}", ""),
    ("peak RSS `qa index --rebuild` (MB)", "cli_build_rss_mb", "{:.0f}", ""),
    ("peak RSS unchanged `qa index` (MB)", "reindex_rss_mb", "{:.0f}", ""),
    ("peak RSS cold `qa ask` (MB)", "cold_ask_rss_mb", "{:.0f}", ""),
]


def format_table(results: list[dict], own_rss_mb: float) -> str:
    head = ["measure"] + [r["corpus"] for r in results] + ["target"]
    rows = []
    for label, key, fmt, target in ROWS:
        cells = []
        for r in results:
            if key is None:
                cells.append(f"{r['articles']} / {r['chunks']} / {r['sentences']}")
            elif isinstance(key, tuple):
                cells.append(" / ".join(fmt.format(r[k]) for k in key) if key[0] in r else "-")
            else:
                cells.append(fmt.format(r[key]) if key in r else "-")
        rows.append([label] + cells + [target])
    rows.append(["peak RSS of this process (MB)"] + [f"{own_rss_mb:.0f}"] + [""] * (len(results) - 1) + [""])
    widths = [max(len(row[i]) for row in [head] + rows) for i in range(len(head))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |" for row in [head] + rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=100, help="questions asked per corpus (default 100)")
    parser.add_argument("--squad", default=str(EvalSettings.from_env().data_path("squad")), help="SQuAD v1.1 dev file")
    parser.add_argument("--no-squad", action="store_true", help="benchmark the bundled collection only")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print the measurements as JSON too")
    args = parser.parse_args(argv)

    import torch

    from qa.config import Settings
    from qa.embed import Encoder

    settings = Settings.from_env()
    encoder = Encoder.from_settings(settings)
    encoder.encode(["warm up the model"])  # loaded once: the in-process builds time building, not loading

    results = []
    with tempfile.TemporaryDirectory(prefix="qa-bench-") as tmp:
        work = Path(tmp)
        coll = [q.question for q in load_collection().questions]
        coll = (coll * (args.questions // len(coll) + 1))[:args.questions]
        print(f"benchmarking the collection ({len(coll)} asks)...", file=sys.stderr)
        follow_ups = [(q.question, q.history) for path in sorted((ROOT / "eval" / "sets").glob("conversation*.jsonl"))
                      for q in load_collection(path).questions]
        results.append(bench_corpus("collection", ROOT / "corpus", coll, work, encoder, follow_ups))
        if not args.no_squad:
            ds = load_squad(Path(args.squad))
            corpus = work / "squad-corpus"
            corpus.mkdir()
            with open(corpus / "squad.jsonl", "w", encoding="utf-8") as f:
                for d in ds.documents:
                    f.write(json.dumps({"id": d.id, "title": d.title, "text": d.text}, ensure_ascii=False) + "\n")
            qs = [q.question for q in sample(ds.questions, args.questions, args.seed)]
            print(f"benchmarking SQuAD dev paragraphs ({len(ds.documents)} articles, {len(qs)} asks)...",
                  file=sys.stderr)
            results.append(bench_corpus("squad-dev paragraphs", corpus, qs, work, encoder))
    own = _maxrss_mb(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    print(f"CPU threads: torch {torch.get_num_threads()}, os {os.cpu_count()}; model {settings.model}")
    print(format_table(results, own))
    if args.json:
        print(json.dumps({"results": results, "own_rss_mb": own}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
