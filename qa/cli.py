"""The ``qa`` command: a thin shell over the library (``build_index`` and ``Assistant.ask``)."""
from __future__ import annotations

import argparse
import datetime
import json
import logging
import os
import sys
import textwrap
from dataclasses import asdict

from .config import MAX_K, TIMELINE_K, Settings, environment_help
from .meta import date_label

log = logging.getLogger("qa")


def _settings(args) -> Settings:
    return Settings.from_env(corpus_dir=getattr(args, "corpus", None), index_dir=getattr(args, "index_dir", None))


def cmd_index(args) -> int:
    from .build import build_index

    settings = _settings(args)
    report = build_index(settings, rebuild=args.rebuild, allow_shrink=args.allow_shrink, optimize=args.optimize,
                         ray=args.ray, ray_workers=args.ray_workers)
    if args.json:
        print(json.dumps(report.to_json(), ensure_ascii=False))
        return 0
    n = len(report.skipped)
    skips = f"; skipped {n} file{'s' if n != 1 else ''}" if n else ""
    if report.up_to_date:
        print(f"Index {settings.index_dir} is up to date: {report.articles} articles, {report.chunks} chunks"
              f"{skips} ({report.seconds:.2f} s)")
    else:
        print(f"Indexed {report.articles} articles from {report.corpus} into {settings.index_dir}: {report.chunks} "
              f"chunks, {report.sentences} sentences; embedded {report.embedded_texts} texts, reused "
              f"{report.reused_files} unchanged files, removed {report.removed_files}{skips}; {report.segments} "
              f"segment{'s' if report.segments != 1 else ''}; {report.seconds:.1f} s")
    for skipped in report.skipped:
        print(f"skipped {skipped}")
    return 0


def _questions(args) -> list[str]:
    if args.question == ["-"]:
        return [line.strip() for line in sys.stdin if line.strip()]
    return args.question


def cmd_ask(args) -> int:
    from .assistant import Assistant

    questions = _questions(args)
    if not questions or any(not q.strip() for q in questions):
        print("qa ask: error: empty question (usage: qa ask QUESTION [QUESTION ...], or - to read stdin)",
              file=sys.stderr)
        return 2
    assistant = Assistant(_settings(args))
    for n, question in enumerate(questions):
        history = questions[:n] if args.follow_up else None
        answer = assistant.ask(question, k=args.k, fast=args.fast, dates=_date_range(args), history=history)
        if args.json:
            print(json.dumps(answer.to_json(), ensure_ascii=False), flush=True)
        else:
            if n:
                print()
            print(format_answer(answer), flush=True)
    return 0


def _marked(sentence) -> str:
    """The sentence with its factoid answer span in **bold** markers."""
    if not sentence.span_text:
        return sentence.text
    return sentence.text.replace(sentence.span_text, f"**{sentence.span_text}**", 1)


def cmd_chat(args) -> int:
    """A read-eval-print loop: each question may lean on the earlier ones; input lines are kept in
    ~/.qa_history (readline) where readline is available. 'new' starts a new conversation; an empty line or EOF ends."""
    from .assistant import Assistant

    history_file = os.path.expanduser("~/.qa_history")
    try:
        import readline

        try:
            readline.read_history_file(history_file)
        except OSError:
            pass
    except ImportError:
        readline = None
    assistant = Assistant(_settings(args))
    asked: list[str] = []
    print("Ask a question (follow-ups lean on the earlier ones; 'new' starts over; an empty line ends).")
    try:
        while True:
            try:
                question = input("? ").strip()
            except EOFError:
                break
            if not question:
                break
            if question.lower() == "new":
                asked = []
                continue
            answer = assistant.ask(question, k=args.k, fast=args.fast, history=asked)
            print(format_answer(answer), flush=True)
            asked.append(question)
    finally:
        if readline is not None:
            try:
                readline.write_history_file(history_file)
            except OSError:
                pass
    return 0


def cmd_timeline(args) -> int:
    from .assistant import Assistant

    assistant = Assistant(_settings(args))
    found = assistant.timeline(args.topic, k=args.k, dates=_date_range(args))
    if args.json:
        print(json.dumps(asdict(found), ensure_ascii=False))
        return 0
    print(format_timeline(found))
    return 0


def format_timeline(found) -> str:
    lines = [f"Timeline: {found.topic}", *found.notes]
    if not found.events:
        lines.append("No dated events found.")
    for e in found.events:
        lines.append(textwrap.fill(f"{e.label}  {e.text} [{e.citation}]", 100, subsequent_indent="    "))
    if found.citations:
        lines += ["", "Sources:"]
    for c in found.citations:
        publisher = f"; {c.publisher}" if c.publisher else ""
        lines.append(f"[{c.n}] {c.title} ({date_label(c.date, c.date_source)}{publisher}) {c.file}")
    return "\n".join(lines)


def _date_range(args):
    from .retrieve import DateRange

    start, end = getattr(args, "date_from", None), getattr(args, "date_to", None)
    return DateRange(start, end) if start or end else None


def _iso_date(text: str) -> str:
    """``--from``/``--to``: an ISO day, or a one-line argparse error."""
    try:
        return datetime.date.fromisoformat(text).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, got {text!r}") from None


def format_answer(answer) -> str:
    lines = [f"Q: {answer.question}"] + ([f"Understood as: {answer.understood}"] if answer.understood else [])
    lines += answer.notes
    if answer.abstained:
        lines.append(f"{answer.answer} The closest passages (confidence {answer.confidence:.2f}):")
    else:
        lines += [textwrap.fill(f"({date_label(s.date, s.date_source)}) {_marked(s)} [{s.citation}]", 100,
                                subsequent_indent="  ") for s in answer.sentences]
    lines.append("")
    lines.append("Sources:")
    for c in answer.citations:
        page = f", page {c.page}" if c.page else ""
        publisher = f"; {c.publisher}" if c.publisher else ""
        lines.append(f"[{c.n}] {c.title} ({date_label(c.date, c.date_source)}{publisher}) {c.file}{page}")
        lines.append(textwrap.fill(f"\u201c{c.passage}\u201d", 100, initial_indent="    ", subsequent_indent="    "))
    return "\n".join(lines)


def _sources(text: str) -> int:
    """``-k``: a whole number of sources within range, or a one-line argparse error."""
    if not text.strip().lstrip("-").isdigit() or not 1 <= int(text) <= MAX_K:
        raise argparse.ArgumentTypeError(f"expected a whole number from 1 to {MAX_K}, got {text!r}")
    return int(text)


def _date_options(p) -> None:
    p.add_argument("--from", dest="date_from", type=_iso_date, metavar="YYYY-MM-DD",
                   help="only articles and events from this day on (combines with the question's own time words)")
    p.add_argument("--to", dest="date_to", type=_iso_date, metavar="YYYY-MM-DD", help="only up to this day")


def _shell_commands(sub) -> None:
    """The shells' own subcommands (``qa eval``, ``qa ui``, ...): each registers itself under the entry point group
    ``qa.commands`` (see pyproject.toml), so the engine names none of them. One that cannot load is left out."""
    from importlib.metadata import entry_points

    for entry in sorted(entry_points(group="qa.commands"), key=lambda e: e.name):
        try:
            entry.load()(sub)
        except Exception as exc:  # noqa: BLE001 - a broken shell must not take `qa ask` down with it
            log.debug("command %s not available: %s", entry.name, exc)


def _parser() -> argparse.ArgumentParser:
    """The `qa` command's arguments: the engine's subcommands here, the shells' from their entry points."""
    help_env = {"epilog": environment_help(), "formatter_class": argparse.RawDescriptionHelpFormatter}
    parser = argparse.ArgumentParser(prog="qa", description="Ask questions of a collection of news articles.",
                                     **help_env)
    parser.add_argument("-v", "--verbose", action="store_true", help="log more detail")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("index", **help_env, help="build or update the index")
    p.add_argument("--corpus", help="article folder (default corpus/, or $QA_CORPUS)")
    p.add_argument("--index-dir", help="index folder (default index/, or $QA_INDEX_DIR)")
    p.add_argument("--rebuild", action="store_true", help="embed everything again instead of updating")
    p.add_argument("--allow-shrink", action="store_true",
                   help="let this build remove more than half of the index's articles (refused otherwise)")
    p.add_argument("--optimize", action="store_true",
                   help="merge all segments into one (and drop deleted articles for good): the fastest to search")
    p.add_argument("--ray", nargs="?", const="local", metavar="ADDRESS",
                   help="embed on a Ray cluster (pip install 'news-qa[ray]'); without an address, a local Ray instance")
    p.add_argument("--ray-workers", type=int, metavar="N", help="Ray actors that embed (default: one per GPU, else CPU)")
    p.add_argument("--json", action="store_true", help="print the build report as one JSON object")
    p.set_defaults(run=cmd_index)

    p = sub.add_parser("ask", **help_env, help="answer questions with quotes from the articles")
    p.add_argument("question", nargs="+", help="one or more questions; - reads one per line from stdin")
    p.add_argument("--index-dir", help="index folder (default index/, or $QA_INDEX_DIR)")
    p.add_argument("-k", type=_sources, default=None,
                   help=f"sources (chunks) the answer is drawn from, 1-{MAX_K} (default {Settings().retrieval.k})")
    p.add_argument("--fast", action="store_true",
                   help="skip the reranker (when QA_RERANKER=on) and the span reader: the fast selector and the "
                        "typed span rules alone")
    p.add_argument("--json", action="store_true", help="print one JSON object per question per line")
    p.add_argument("--follow-up", action="store_true",
                   help="the questions are one conversation: each may lean on those before it")
    _date_options(p)
    p.set_defaults(run=cmd_ask)

    p = sub.add_parser("chat", **help_env,
                       help="a conversation at the prompt: follow-up questions lean on the ones before")
    p.add_argument("--index-dir", help="index folder (default index/, or $QA_INDEX_DIR)")
    p.add_argument("-k", type=_sources, default=None, help=f"sources per answer, 1-{MAX_K}")
    p.add_argument("--fast", action="store_true", help="skip the reranker (when QA_RERANKER=on) and the span reader")
    p.set_defaults(run=cmd_chat)

    p = sub.add_parser("timeline", **help_env,
                       help="the dated events about a topic across the collection, in order")
    p.add_argument("topic", help="what the events are about, e.g. \"China US relations\"")
    p.add_argument("--index-dir", help="index folder (default index/, or $QA_INDEX_DIR)")
    p.add_argument("-k", type=_sources, default=TIMELINE_K,
                   help=f"passages (chunks) about the topic to read, 1-{MAX_K} (default {TIMELINE_K})")
    p.add_argument("--json", action="store_true", help="print the timeline as one JSON object")
    _date_options(p)
    p.set_defaults(run=cmd_timeline)

    _shell_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(message)s")
    for noisy in ("faiss", "sentence_transformers", "httpx", "urllib3", "transformers"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    from .embed import ModelLoadError
    from .index import IndexError_
    from .ingest import IngestError

    try:
        return args.run(args)
    except (IngestError, IndexError_, ModelLoadError, ValueError) as exc:
        print(f"qa {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # the reader went away (qa ask ... | head)
        sys.stdout = open(os.devnull, "w")
        return 0
    except KeyboardInterrupt:
        print(f"qa {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
