"""The evaluation shell's subcommands of ``qa``: ``qa eval``, ``qa train-reranker`` and ``qa train-reader``
(registered through the ``qa.commands`` entry point group, so the engine never names this package)."""
from __future__ import annotations

import argparse
import importlib

from qa.config import environment_help

from .settings import environment_help as eval_environment_help


def _run(module: str):
    """The ``run(args) -> int`` of a module, imported only when its command is used (the parser stays light)."""

    def run(args) -> int:
        return importlib.import_module(module).run(args)

    return run


def register(sub) -> None:
    help_env = {"epilog": environment_help() + "\n\n" + eval_environment_help(),
                "formatter_class": argparse.RawDescriptionHelpFormatter}
    p = sub.add_parser("eval", **help_env, help="measure retrieval and answers on a question set, every configuration")
    p.add_argument("--dataset", choices=("collection", "squad", "scifact", "feedback"), default="collection",
                   help="feedback: the answers rated up on the page, asked again of the bundled corpus")
    p.add_argument("--data", help="dataset file or folder (defaults under ../shared/datasets/)")
    p.add_argument("--split", choices=("all", "tune", "heldout"),
                   help="SQuAD: questions of the first 24 articles (tune), of the other 24 (heldout), or all "
                        "(default: QA_EVAL_SPLIT, else all)")
    p.add_argument("--limit", type=int, help="ask only N questions, sampled with --seed")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print the results as one JSON object")
    p.add_argument("--report", help="write an HTML report to this path")
    p.add_argument("--index-dir", help="index of the bundled collection (collection set only)")
    p.set_defaults(run=_run("eval.runner"))

    for name, what, folder, (negatives, epochs, rank), (batch, unit), lr, fits, module in (
            ("train-reranker", "the cross-encoder reranker", "reranker", (8, 2, 16), (8, "questions"), 3e-4,
             "its combiners", "eval.train_reranker"),
            ("train-reader", "the span reader", "reader", (2, 3, 32), (32, "pairs"), 5e-4, "its margin",
             "eval.train_reader")):
        p = sub.add_parser(name, **help_env, help=f"train {what} on SQuAD's tune half")
        p.add_argument("--data", help="SQuAD v1.1 dev file (default under ../shared/datasets/)")
        p.add_argument("--out", help=f"folder for the adapter and its configuration (default qa/models/{folder})")
        p.add_argument("--epochs", type=int, default=epochs)
        p.add_argument("--rank", type=int, default=rank, help="LoRA rank (alpha is twice it)")
        p.add_argument("--negatives", type=int, default=negatives,
                       help="sentences without the answer per question, ranked high by our own pipeline")
        if name == "train-reader":
            p.add_argument("--paragraph-negatives", type=int, default=1,
                           help="the gold paragraph's other sentences per question, labelled no answer")
        p.add_argument("--batch", type=int, default=batch, help=f"{unit} per training batch")
        p.add_argument("--lr", type=float, default=lr)
        p.add_argument("--train-articles", type=int, default=19,
                       help=f"tune articles whose questions train the model; the rest fit {fits}")
        p.add_argument("--limit", type=int, help="at most N questions per part (a quick trial)")
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--device", help="cuda or cpu (default: cuda when available)")
        p.add_argument("--fit-only", action="store_true",
                       help=f"keep the trained model in --out and fit only {fits} again")
        p.set_defaults(run=_run(module))
