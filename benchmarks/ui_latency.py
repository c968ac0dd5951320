"""Latency of one question through the chat server's HTTP API, against the library call itself.

    .venv/bin/python benchmarks/ui_latency.py [--questions 50] [--clients 8] [--url http://127.0.0.1:7860]

Without --url it starts `qa ui` on a copy of corpus/ (index built in a temporary folder) and stops it afterwards.
Measures, over the same questions (the first N of eval/sets/collection.jsonl), each asked in turn through every
single-client path (so that other load on the machine hits them alike):

- the library: ``Assistant.ask`` in this process, on the same index (and, from the answers, ``timings_ms.total``
  as measured inside the server);
- ``/ask`` over HTTP with gradio's REST protocol (POST /gradio_api/call/ask, then read the event stream), by httpx;
- ``/ask`` through ``gradio_client`` (``Client.predict``), one client;
- both again with C concurrent clients (each its own connection), each asking all N questions: errors, throughput.

Target: HTTP p50 within 50 ms of the library call's own latency. The verdict uses, per request, the HTTP time minus
the library time inside the server for that request (``timings_ms.total``), so other load on the machine cancels out;
the in-process library p50 is printed beside it (on a busy machine it can be slower than inside the server: torch's
two intra-op threads in the main thread suffer most from oversubscribed cores).
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TARGET_MS = 50.0
FALLBACK = ["What was agreed in San Francisco?", "Where did Biden and Xi hold their talks during the 2023 APEC summit?"]


def questions(n: int) -> list[str]:
    path = ROOT / "eval" / "sets" / "collection.jsonl"
    found = [json.loads(line)["question"] for line in path.read_text().splitlines() if line.strip()] \
        if path.exists() else FALLBACK
    return [found[i % len(found)] for i in range(n)]


def pct(values: list[float], p: float) -> float:
    """Linear-interpolated percentile."""
    xs = sorted(values)
    if not xs:
        return float("nan")
    pos = (len(xs) - 1) * p / 100
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


class RestClient:
    """gradio's documented REST protocol for a named endpoint, over one keep-alive connection."""

    def __init__(self, url: str):
        import httpx

        self.base = url.rstrip("/") + "/gradio_api"
        self.http = httpx.Client(timeout=120)

    def ask(self, question: str) -> dict:
        r = self.http.post(f"{self.base}/call/ask", json={"data": [question]})
        r.raise_for_status()
        event_id = r.json()["event_id"]
        event = None
        with self.http.stream("GET", f"{self.base}/call/ask/{event_id}") as stream:
            for line in stream.iter_lines():
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:") and event == "complete":
                    return json.loads(line[5:])[0]
                elif line.startswith("data:") and event == "error":
                    raise RuntimeError(f"server error: {line[5:].strip()}")
        raise RuntimeError("the event stream ended without a result")

    def close(self) -> None:
        self.http.close()


class GradioClient:
    def __init__(self, url: str):
        from gradio_client import Client

        self.client = Client(url, verbose=False)

    def ask(self, question: str) -> dict:
        return self.client.predict(question, api_name="/ask")

    def close(self) -> None:
        self.client.close() if hasattr(self.client, "close") else None


def interleaved(callers: dict, qs: list[str], warmup: int = 3) -> dict[str, dict]:
    """Each question through every path in turn, so that load from elsewhere on the machine hits all paths alike."""
    for q in qs[:warmup]:
        for call in callers.values():
            call(q)
    out = {name: {"n": len(qs), "errors": 0, "times": [], "inner": [], "wall": 0.0} for name in callers}
    for q in qs:
        for name, call in callers.items():
            r = out[name]
            t = time.perf_counter()
            try:
                answer = call(q)
            except Exception:  # noqa: BLE001 - counted, reported
                r["errors"] += 1
                continue
            elapsed = time.perf_counter() - t
            r["wall"] += elapsed
            r["times"].append(elapsed * 1000)
            total = answer["timings_ms"]["total"] if isinstance(answer, dict) else answer.timings_ms["total"]
            r["inner"].append(total)
    return out


def concurrent(make, qs: list[str], clients: int) -> dict:
    times: list[float] = []
    errors = [0]
    lock = threading.Lock()
    ready = threading.Barrier(clients + 1)
    made = []

    def worker(offset: int) -> None:
        client = make()
        made.append(client)
        client.ask(qs[offset % len(qs)])  # connect and warm up before the clock starts
        ready.wait()
        for i in range(len(qs)):
            q = qs[(i + offset) % len(qs)]
            t = time.perf_counter()
            try:
                client.ask(q)
            except Exception:  # noqa: BLE001 - counted, reported
                with lock:
                    errors[0] += 1
                continue
            with lock:
                times.append((time.perf_counter() - t) * 1000)

    threads = [threading.Thread(target=worker, args=(k * 7,)) for k in range(clients)]
    for th in threads:
        th.start()
    ready.wait()
    started = time.perf_counter()
    for th in threads:
        th.join()
    wall = time.perf_counter() - started
    for c in made:
        c.close()
    return {"n": clients * len(qs), "errors": errors[0], "times": times, "inner": [], "wall": wall}


def library(index_dir: Path, corpus: Path):
    """The library call on the server's index, in this process."""
    from qa.assistant import Assistant
    from qa.config import Settings

    assistant = Assistant(Settings.from_env(corpus_dir=corpus, index_dir=index_dir), build_if_missing=False)
    return assistant.ask


def row(name: str, r: dict) -> str:
    t = r["times"]
    throughput = (r["n"] - r["errors"]) / r["wall"] if r["wall"] > 0 else float("nan")
    return (f"| {name:<46} | {r['n']:>4} | {r['errors']:>6} | {pct(t, 50):>7.1f} | {pct(t, 95):>7.1f} | "
            f"{statistics.fmean(t) if t else float('nan'):>7.1f} | {throughput:>6.1f} |")


def run(url: str, index_dir: Path | None, corpus: Path | None, n: int, clients: int) -> int:
    qs = questions(n)
    rest, client = RestClient(url), GradioClient(url)
    callers = {}
    if index_dir is not None:
        callers["library: Assistant.ask (in-process)"] = library(index_dir, corpus)
    callers["HTTP /ask, REST (httpx), 1 client"] = rest.ask
    callers["HTTP /ask, gradio_client, 1 client"] = client.ask
    results = list(interleaved(callers, qs).items())
    rest.close()
    client.close()
    results.append((f"HTTP /ask, REST (httpx), {clients} concurrent clients",
                    concurrent(lambda: RestClient(url), qs, clients)))
    results.append((f"HTTP /ask, gradio_client, {clients} concurrent clients",
                    concurrent(lambda: GradioClient(url), qs, clients)))
    http = [(name, r) for name, r in results if name.startswith("HTTP") and "1 client" in name]
    server_inner = http[0][1]["inner"]
    inner = {"n": len(server_inner), "errors": 0, "times": server_inner, "inner": [], "wall": float("inf")}

    print(f"{len(qs)} questions from eval/sets/collection.jsonl; latency in ms; throughput in questions/s "
          f"(single-client rows: questions asked in turn through each path)")
    print("| path                                           |    n | errors |     p50 |     p95 |    mean |    q/s |")
    print("|------------------------------------------------|-----:|-------:|--------:|--------:|--------:|-------:|")
    for name, r in results:
        print(row(name, r))
    print(row("library inside the server (timings_ms.total)", inner).replace("    0.0 |", "      - |"))
    print()
    base = pct(results[0][1]["times"], 50) if index_dir is not None else None
    for name, r in http:
        # The library call's own latency for this very request, as timed inside the server (timings_ms.total):
        # what HTTP adds is measured per request, so load from elsewhere on the machine cancels out.
        per_request = [t - i for t, i in zip(r["times"], r["inner"])]
        over = pct(per_request, 50)
        verdict = "within" if over <= TARGET_MS else "OVER"
        line = f"{name}: adds p50 {over:.1f} ms to the library call ({verdict} the {TARGET_MS:.0f} ms target)"
        if base is not None:
            line += f"; p50 {pct(r['times'], 50) - base:+.1f} ms vs the in-process library p50"
        print(line)
    errors = sum(r["errors"] for _, r in results)
    print(f"errors: {errors}")
    return 0 if errors == 0 else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="latency of /ask over HTTP vs the library call")
    parser.add_argument("--questions", type=int, default=50)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--url", help="a running `qa ui` (default: start one on a copy of corpus/)")
    parser.add_argument("--index-dir", help="with --url: the server's index, to time the library on it too")
    args = parser.parse_args(argv)
    if args.url:
        index_dir = Path(args.index_dir) if args.index_dir else None
        return run(args.url.rstrip("/"), index_dir, ROOT / "corpus", args.questions, args.clients)
    from tools.ui_server import serve

    with tempfile.TemporaryDirectory(prefix="qa-bench-") as tmp:
        corpus = Path(tmp) / "corpus"
        shutil.copytree(ROOT / "corpus", corpus)
        with serve(corpus, Path(tmp) / "index") as server:
            return run(server.url, server.index_dir, corpus, args.questions, args.clients)


if __name__ == "__main__":
    sys.exit(main())
