"""Fault injection: kill -9 builds and upload jobs at random moments, damage index files, and count what was lost.

    .venv/bin/python benchmarks/faults.py [--kills 10] [--seed 0] [--parts abc] [--articles 8]

Everything runs on temporary copies (corpus/ plus a few generated articles); nothing in the repository is touched.

(a) ``qa index --rebuild`` (a child process) is killed with SIGKILL at a random moment of its run; after each kill
    the previous index must still open and answer a question, and a plain ``qa index`` must then complete.
(b) ``qa ui`` (started as ``tools/ui_server.py`` starts it) gets an upload and is killed with SIGKILL a random delay after
    the upload request was sent (while it is received, checked, embedded, or after its commit); the server is
    started again on the same folders and, once its jobs are over, the uploaded file must be in the corpus whole and
    indexed, or not there at all; every corpus file must be indexed, and no build folder but the live one and no
    staging folder may remain. The restarted server takes the next upload.
(c) each file of the live build (and ``CURRENT``) is truncated in turn, on a fresh copy of the index; a plain
    ``qa index`` (the command's code, run in this process with the model already loaded) must repair it.

"data lost" counts articles in the index and files in the corpus that were there before a case and are gone after
it (an index that cannot be opened has lost all its articles). Prints one table; exits 1 if anything was lost or a
check failed.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import logging
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qa.assistant import Assistant  # noqa: E402
from qa.config import Settings  # noqa: E402
from qa.embed import Encoder  # noqa: E402
from qa.build import build_index  # noqa: E402
from qa.index import DAMAGED_SUFFIX, Index, IndexError_, current_build  # noqa: E402

QUESTION = "What was agreed in San Francisco?"
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONUNBUFFERED": "1"}
TOWNS = ["Velmora", "Quenton", "Harlow", "Ostrava", "Pellis", "Dunmore", "Corvin", "Marrow", "Tamsin", "Orlen",
         "Brisk", "Halvard"]


@dataclass
class Case:
    name: str
    outcome: str
    lost: int
    ok: bool  # every check held (a case can lose nothing and still fail a check, e.g. a build folder left)


# --- folders and what they hold ----------------------------------------------------------------------------------------


def generated_article(n: int, sentences: int) -> str:
    town = TOWNS[n % len(TOWNS)]
    lines = [f"# {town} council report number {n}", ""]
    for s in range(sentences):
        lines.append(f"In item {s} of report {n}, the {town} council voted {s % 9 + 3} to {s % 4} on a plan for "
                     f"{(n * 31 + s * 17) % 500} new homes near the {town} river crossing.")
    return "\n".join(lines) + "\n"


def make_corpus(folder: Path, articles: int, sentences: int) -> Path:
    shutil.copytree(ROOT / "corpus", folder)
    for n in range(articles):
        (folder / f"generated_{n:02d}.md").write_text(generated_article(n, sentences), encoding="utf-8")
    return folder


def corpus_files(corpus: Path) -> dict[str, bytes]:
    """The article files of the corpus (hidden folders, such as the upload staging folder, excluded)."""
    out = {}
    for path in corpus.rglob("*"):
        rel = path.relative_to(corpus)
        if path.is_file() and not any(part.startswith(".") for part in rel.parts):
            out[rel.as_posix()] = path.read_bytes()
    return out


def settings_for(corpus: Path, index_dir: Path) -> Settings:
    return Settings.from_env(corpus_dir=corpus, index_dir=index_dir)


def index_articles(settings: Settings) -> set[str] | None:
    """Ids of the articles in the live index; None when it cannot be opened."""
    try:
        index = Index.open(settings.index_dir, settings)
    except (IndexError_, OSError):
        return None
    try:
        return index.article_ids()
    finally:
        index.close()


def indexed_files(settings: Settings) -> set[str]:
    """The corpus files (relative ids) the live index was built from."""
    try:
        index = Index.open(settings.index_dir, settings)
    except (IndexError_, OSError):
        return set()
    try:
        return set(index.manifest["files"])
    finally:
        index.close()


def stray_builds(index_dir: Path) -> list[str]:
    """Build folders other than the live one and damaged ones kept aside: what an interrupted build left."""
    live = current_build(index_dir)
    builds = index_dir / "builds"
    if not builds.is_dir():
        return []
    return sorted(p.name for p in builds.iterdir()
                  if (live is None or p.name != live.name) and not p.name.endswith(DAMAGED_SUFFIX))


def answers(settings: Settings, encoder: Encoder) -> bool:
    """The live index opens and answers the README's question with at least one citation."""
    try:
        assistant = Assistant(settings, build_if_missing=False, progress=False, encoder=encoder)
    except (IndexError_, OSError):
        return False
    try:
        return bool(assistant.ask(QUESTION).citations)
    finally:
        assistant.index.close()


def qa(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "qa", *args], cwd=ROOT, env=ENV, capture_output=True, text=True,
                          timeout=timeout)


def qa_index_here(encoder: Encoder, *args: str) -> tuple[int, str]:
    """``qa index ARGS`` run by the command's own code in this process, with the model already loaded (a child
    process would spend most of its time loading it); returns the exit status and what it wrote to stderr."""
    from qa import cli

    original = Encoder.from_settings
    Encoder.from_settings = classmethod(lambda cls, settings: encoder)
    err = io.StringIO()
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            code = cli.main(["index", *args])
    finally:
        Encoder.from_settings = original
    return code, err.getvalue()


def first_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:100] if lines else ""


# --- (a) killed rebuilds -----------------------------------------------------------------------------------------------


def killed_rebuilds(root: Path, encoder: Encoder, rng: random.Random, kills: int, articles: int) -> list[Case]:
    corpus = make_corpus(root / "corpus", articles, 25)
    settings = settings_for(corpus, root / "index")
    build_index(settings, encoder=encoder, progress=False)
    before_ids, before_files = index_articles(settings) or set(), corpus_files(corpus)
    index_args = ["--corpus", str(corpus), "--index-dir", str(settings.index_dir)]

    started = time.perf_counter()
    full = qa("index", "--rebuild", *index_args)
    duration = time.perf_counter() - started
    assert full.returncode == 0, full.stderr
    print(f"(a) a full `qa index --rebuild` takes {duration:.1f} s here; killing at random moments of it",
          file=sys.stderr, flush=True)

    cases = []
    for n in range(kills):
        live_before = (settings.index_dir / "CURRENT").read_text()
        delay = rng.uniform(0.0, duration)
        process = subprocess.Popen([sys.executable, "-m", "qa", "index", "--rebuild", *index_args], cwd=ROOT,
                                   env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        killed = process.poll() is None
        if killed:
            process.send_signal(signal.SIGKILL)
        process.wait()
        left = stray_builds(settings.index_dir)
        went_live = (settings.index_dir / "CURRENT").read_text() != live_before
        stage = ("finished before the kill" if not killed else "after the swap" if went_live else
                 "while writing a build" if left else "before any build folder")
        ids_after_kill = index_articles(settings)
        answered = answers(settings, encoder)
        plain = qa("index", *index_args)
        ids_after = index_articles(settings)
        lost = len(before_ids - (ids_after_kill or set())) + len(before_ids - (ids_after or set()))
        lost += len(set(before_files) - set(corpus_files(corpus)))
        left_after = stray_builds(settings.index_dir)
        ok = ids_after_kill is not None and answered and plain.returncode == 0 and not left_after
        outcome = (f"kill at {delay:4.1f} s ({stage}): index opens {'yes' if ids_after_kill is not None else 'NO'}, "
                   f"answers {'yes' if answered else 'NO'}; partial builds {len(left)}; `qa index` "
                   f"{'ok' if plain.returncode == 0 else 'FAILED: ' + first_line(plain.stderr)}, "
                   f"partial builds after it {len(left_after)}")
        cases.append(Case(f"a{n + 1} kill -9 qa index --rebuild", outcome, lost, ok))
        print(cases[-1].outcome, file=sys.stderr, flush=True)
    return cases


# --- (b) killed upload jobs --------------------------------------------------------------------------------------------


class UiServer:
    """``qa ui`` on the given folders, started and stopped (or killed) explicitly."""

    def __init__(self, corpus: Path, index_dir: Path, log_dir: Path):
        self.corpus, self.index_dir, self.log_dir = corpus, index_dir, log_dir
        self.context = self.server = self.client = None
        self.starts = 0

    def start(self) -> None:
        from gradio_client import Client

        from tools.ui_server import serve

        self.starts += 1
        self.context = serve(self.corpus, self.index_dir, log_path=self.log_dir / f"server-{self.starts}.log")
        self.server = self.context.__enter__()
        self.client = Client(self.server.url, verbose=False)

    def kill(self) -> None:
        self.server.process.send_signal(signal.SIGKILL)
        self.server.process.wait()
        self.context.__exit__(None, None, None)

    def stop(self) -> None:
        self.context.__exit__(None, None, None)

    def wait_jobs(self, timeout: float = 300) -> list[dict]:
        deadline = time.monotonic() + timeout
        while True:
            jobs = self.client.predict(api_name="/jobs")
            if not any(j["state"] in ("queued", "running", "cancelling") for j in jobs):
                return jobs
            if time.monotonic() > deadline:
                raise TimeoutError(f"upload jobs still running after {timeout} s: {jobs}")
            time.sleep(0.25)


def _upload_in_background(client, path: Path) -> threading.Thread:
    from gradio_client import handle_file

    def send():
        try:
            client.predict([handle_file(str(path))], api_name="/upload")
        except Exception:  # noqa: BLE001 - the server is killed under it, on purpose
            pass

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    return thread


def killed_uploads(root: Path, rng: random.Random, kills: int, articles: int) -> list[Case]:
    corpus = make_corpus(root / "corpus", articles, 10)
    settings = settings_for(corpus, root / "index")
    uploads = root / "uploads"
    uploads.mkdir()
    ui = UiServer(corpus, settings.index_dir, root)
    ui.start()
    try:
        calibration = uploads / "calibration.md"
        calibration.write_text(generated_article(100, 150), encoding="utf-8")
        started = time.perf_counter()
        _upload_in_background(ui.client, calibration).join()
        ui.wait_jobs()
        duration = time.perf_counter() - started
        print(f"(b) one upload job takes {duration:.1f} s here; killing the server at random moments of it",
              file=sys.stderr, flush=True)

        cases = []
        for n in range(kills):
            name = f"upload_{n:02d}.md"
            path = uploads / name
            path.write_text(generated_article(200 + n, 150), encoding="utf-8")
            before_ids, before_files = index_articles(settings) or set(), corpus_files(corpus)
            delay = rng.uniform(0.0, duration * 1.2)
            sender = _upload_in_background(ui.client, path)
            time.sleep(delay)
            in_corpus_at_kill = (corpus / name).exists()
            ui.kill()
            sender.join(10)
            left_at_kill = stray_builds(settings.index_dir)
            ui.start()  # the next start: recovery, and the job again
            ui.wait_jobs()

            after_files, indexed = corpus_files(corpus), indexed_files(settings)
            unindexed = sorted(f for f in after_files if Path(f).with_suffix("").as_posix() not in indexed)
            if name in after_files:
                whole = after_files[name] == path.read_bytes()
                state = "indexed whole" if whole and name not in unindexed else "PARTIAL OR UNINDEXED"
            else:
                state = "not added"
            left = stray_builds(settings.index_dir)
            staged = (corpus / ".uploads").exists()
            ids_after = index_articles(settings) or set()
            lost = len(set(before_files) - set(after_files)) + len(before_ids - ids_after)
            ok = state != "PARTIAL OR UNINDEXED" and not unindexed and not left and not staged
            outcome = (f"kill at {delay:4.1f} s (file in corpus then: {'yes' if in_corpus_at_kill else 'no'}, "
                       f"partial builds {len(left_at_kill)}); after restart: upload {state}, unindexed files "
                       f"{len(unindexed)}, partial builds {len(left)}, staging left {'YES' if staged else 'no'}")
            cases.append(Case(f"b{n + 1} kill -9 qa ui mid-upload", outcome, lost, ok))
            print(cases[-1].outcome, file=sys.stderr, flush=True)
        return cases
    finally:
        ui.stop()


# --- (c) damaged index files -------------------------------------------------------------------------------------------


def damaged_files(root: Path, encoder: Encoder, articles: int) -> list[Case]:
    corpus = make_corpus(root / "corpus", articles, 10)  # small: each case embeds it all again
    pristine = settings_for(corpus, root / "pristine")
    build_index(pristine, encoder=encoder, progress=False)
    before_ids = index_articles(pristine) or set()
    live = current_build(pristine.index_dir)
    parts = sorted(str(p.relative_to(live)) for p in live.rglob("*") if p.is_file()) + ["CURRENT"]

    cases = []
    for n, part in enumerate(parts):
        index_dir = root / f"index-{n}"
        shutil.copytree(pristine.index_dir, index_dir)
        settings = settings_for(corpus, index_dir)
        target = index_dir / "CURRENT" if part == "CURRENT" else current_build(index_dir) / part
        size = target.stat().st_size
        with open(target, "r+b") as f:
            f.truncate(size // 2)
        try:
            Index.open(index_dir, settings).close()
            refused = "NOT NOTICED"
        except IndexError_ as exc:
            refused = "refused"
            if "damaged" not in str(exc) and "rebuild" not in str(exc):
                refused = f"refused ({first_line(str(exc))})"
        code, err = qa_index_here(encoder, "--corpus", str(corpus), "--index-dir", str(index_dir))
        ids = index_articles(settings)
        lost = len(before_ids - (ids or set()))
        ok = code == 0 and ids == before_ids and refused == "refused"
        kept = sorted(p.name for p in (index_dir / "builds").iterdir() if p.name.endswith(DAMAGED_SUFFIX))
        outcome = (f"{part} truncated {size} -> {size // 2} bytes: open {refused}; `qa index` "
                   f"{'repaired it' if code == 0 else 'FAILED: ' + first_line(err)} "
                   f"({len(ids or ())} of {len(before_ids)} articles; damaged copy kept: {'yes' if kept else 'no'})")
        cases.append(Case(f"c{n + 1} damaged {part}", outcome, lost, ok))
        print(cases[-1].outcome, file=sys.stderr, flush=True)
    return cases


# --- the table ---------------------------------------------------------------------------------------------------------


def table(cases: list[Case]) -> str:
    rows = [("case", "outcome", "data lost")] + [(c.name, c.outcome if c.ok else "FAILED CHECK: " + c.outcome,
                                                  str(c.lost)) for c in cases]
    lines = [f"| {a} | {b} | {c} |" for a, b, c in rows]
    lines.insert(1, "|---|---|---|")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=10, help="kills per part (a) and (b) (default 10)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--parts", default="abc", help="which parts to run (default abc)")
    parser.add_argument("--articles", type=int, default=6,
                        help="generated articles added to corpus/ (default 6; at most 2 in part c)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    logging.getLogger("qa.rerank").setLevel(logging.ERROR)
    logging.getLogger("qa.assistant").setLevel(logging.ERROR)

    started = time.perf_counter()
    rng = random.Random(args.seed)
    encoder = Encoder.from_settings(Settings.from_env())
    cases: list[Case] = []
    with tempfile.TemporaryDirectory(prefix="qa-faults-") as tmp:
        root = Path(tmp)
        if "a" in args.parts:
            cases += killed_rebuilds(root / "a", encoder, rng, args.kills, args.articles)
        if "b" in args.parts:
            cases += killed_uploads(root / "b", rng, args.kills, args.articles)
        if "c" in args.parts:
            cases += damaged_files(root / "c", encoder, min(args.articles, 2))
    print(table(cases))
    lost = sum(c.lost for c in cases)
    failed = sum(1 for c in cases if not c.ok)
    print(f"\n{len(cases)} cases, {lost} articles or files lost, {failed} failed checks, "
          f"{time.perf_counter() - started:.0f} s")
    return 1 if lost or failed else 0


if __name__ == "__main__":
    sys.exit(main())
