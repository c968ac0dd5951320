"""The plain-text tables of ``qa eval``."""
from __future__ import annotations

from .configs import ANSWER_CONFIGS, BASELINE, FULL, METRIC_KEYS



def figure(key: str, value, missing: str = "-") -> str:
    """A metric as the tables show it: milliseconds to one decimal, the rest to three."""
    if value is None:
        return missing
    return f"{value:.1f}" if key.endswith("_ms") else f"{value:.3f}"


def _aligned(head: list[str], rows: list[list[str]]) -> str:
    """A plain-text table: the first column left-aligned, the others right-aligned, a rule under the head."""
    widths = [max(len(r[i]) for r in [head] + rows) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
             for r in [head] + rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def format_table(configs: dict, keys: list[str] | None = None) -> str:
    keys = keys or [k for k in METRIC_KEYS if any(k in m for m in configs.values())]
    head = ["config"] + keys
    rows = [[name] + [figure(k, m.get(k)) for k in keys] for name, m in configs.items()]
    return _aligned(head, rows)


def _kinds_table(kinds: dict) -> str:
    names = [n for n in ANSWER_CONFIGS if any(n in k["configs"] for k in kinds.values())]
    head = ["kind", "n", *names]
    rows = []
    for kind, sub in kinds.items():
        cells = []
        for name in names:
            m = sub["configs"].get(name, {})
            if kind == "list":
                cells.append(figure("list_recall", m.get("list_recall")))
            elif kind == "unanswerable":
                cells.append("abstain " + figure("abstain_recall", m.get("abstain_recall")))
            else:
                cells.append(f"{figure('hit@1', m.get('hit@1'))} / {figure('hit@3', m.get('hit@3'))}")
        rows.append([kind, str(sub["n"]), *cells])
    return _aligned(head, rows)


def format_summary(summary: dict) -> str:
    split = f", split {summary['split']}" if summary.get("split", "all") != "all" else ""
    sampled = f", sample of {summary['limit']} with seed {summary['seed']}" if summary.get("limit") else ""
    parts = [f"{summary['dataset']}: {summary['n']} questions{split}{sampled}; index {summary['index']['articles']} "
             f"articles, {summary['index']['chunks']} chunks",
             format_table(summary["configs"])]
    for name, sub in summary.get("splits", {}).items():
        parts += ["", f"{summary['dataset']} {name} half: {sub['n']} questions", format_table(sub["configs"])]
    if summary.get("kinds"):
        parts += ["", "By kind of question (answer hit@1 / hit@3; list: list recall):", _kinds_table(summary["kinds"])]
    timed = summary["configs"].get(FULL, {}).get("latency_n")
    parts += ["", "Latency (ms): retrieval rows = search call (question already encoded)"
                  + ("; baseline-cosine = search + pick" if BASELINE in summary["configs"] else "")
                  + (f"; full = whole ask (encode + retrieve + select), timed on {timed} questions spread over the "
                     "set" if timed else "") + "."]
    return "\n".join(parts)
