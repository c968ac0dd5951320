"""The chat page's subcommand of ``qa``: ``qa ui`` (registered through the ``qa.commands`` entry point group, so the
engine never names this package). gradio is imported only when the command runs."""
from __future__ import annotations

import argparse
import importlib.util
import sys

from qa.config import environment_help


def _run(args) -> int:
    if importlib.util.find_spec("gradio") is None:
        print("qa ui: error: gradio is not installed; install the ui extra: pip install -e '.[ui]'", file=sys.stderr)
        return 1
    from .app import run

    return run(args)


def register(sub) -> None:
    p = sub.add_parser("ui", help="serve the chat page in the browser", epilog=environment_help(),
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: this machine only)")
    p.add_argument("--port", type=int, default=7860)
    p.add_argument("--index-dir", help="index folder (default index/, or $QA_INDEX_DIR)")
    p.add_argument("--corpus", help="article folder, where uploads go (default corpus/, or $QA_CORPUS)")
    p.add_argument("--auth", help="require a login, as user:password")
    p.add_argument("--ray", nargs="?", const="local", metavar="ADDRESS",
                   help="search from Ray actors that hold the index's segments (pip install 'news-qa[ray]'); without "
                        "an address, a local Ray instance")
    p.add_argument("--ray-shards", type=int, metavar="N", help="Ray actors to place the segments on (default 4)")
    p.set_defaults(run=_run)
