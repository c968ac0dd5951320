"""The ``qa eval --report`` page: one self-contained HTML file (inline CSS and SVG, no scripts, nothing fetched).

It holds the metrics table, Recall@k curves per configuration, the latency distribution per configuration, and the
questions the full assistant failed with what it answered instead. Every piece of text is escaped.
"""
from __future__ import annotations

import math
from datetime import datetime, timezone
from html import escape
from pathlib import Path

from .configs import FULL, METRIC_KEYS
from .format import figure
from .summary import EvalRun

COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b"]
MAX_FAILURES = 300
CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2em auto;max-width:1200px;color:#222;padding:0 1em}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0}
th,td{border:1px solid #ddd;padding:.25em .5em;vertical-align:top}
th{background:#f4f4f4}td.num{text-align:right;font-variant-numeric:tabular-nums}
.fail td{max-width:22em}.fail td.ans{min-width:24em;max-width:36em}.wide{overflow-x:auto}.muted{color:#777}
.plots{display:flex;flex-wrap:wrap;gap:2em}
code{background:#f4f4f4;padding:0 .2em}
"""


def _esc(x) -> str:
    return escape(str(x), quote=True)


def metrics_table(configs: dict) -> str:
    keys = [k for k in METRIC_KEYS if any(k in m for m in configs.values())]
    head = "".join(f"<th>{_esc(k)}</th>" for k in keys)
    rows = []
    for name, m in configs.items():
        cells = "".join(f'<td class="num">{figure(k, m.get(k), "&ndash;")}</td>' for k in keys)
        rows.append(f"<tr><th>{_esc(name)}</th>{cells}</tr>")
    return f"<div class=wide><table><tr><th>config</th>{head}</tr>{''.join(rows)}</table></div>"


def _line_chart(series: dict[str, list[tuple[float, float]]], *, title: str, xlabel: str, ylabel: str,
                log_x: bool = False, y_range: tuple[float, float] | None = None, width: int = 540,
                height: int = 340) -> str:
    """An SVG line chart, one polyline per series, with axes, ticks and a legend."""
    left, right, top, bottom = 56, 150, 30, 44
    pw, ph = width - left - right, height - top - bottom
    xs = [x for pts in series.values() for x, _ in pts]
    ys = [y for pts in series.values() for _, y in pts]
    if not xs:
        return f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="60"><text x="10" y="30">' \
               f'{_esc(title)}: no data</text></svg>'
    fx = (lambda v: math.log10(max(v, 1e-9))) if log_x else (lambda v: v)
    x0, x1 = fx(min(xs)), fx(max(xs))
    if x1 - x0 < 1e-9:
        x0, x1 = x0 - 1, x1 + 1
    y0, y1 = y_range or (min(ys), max(ys))
    if y1 - y0 < 1e-9:
        y0, y1 = y0 - 0.5, y1 + 0.5

    def px(v):
        return left + (fx(v) - x0) / (x1 - x0) * pw

    def py(v):
        return top + (1 - (v - y0) / (y1 - y0)) * ph

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
           f'aria-label="{_esc(title)}" font-size="11">',
           f'<text x="{left}" y="18" font-size="13" font-weight="bold">{_esc(title)}</text>',
           f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#999"/>']
    for t in _x_ticks(x0, x1, log_x):
        x = px(t)
        label = f"{t:g}"
        out.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + ph}" stroke="#eee"/>')
        out.append(f'<text x="{x:.1f}" y="{top + ph + 14}" text-anchor="middle">{_esc(label)}</text>')
    for t in _y_ticks(y0, y1):
        y = py(t)
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + pw}" y2="{y:.1f}" stroke="#eee"/>')
        out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{t:g}</text>')
    out.append(f'<text x="{left + pw / 2}" y="{height - 8}" text-anchor="middle">{_esc(xlabel)}</text>')
    out.append(f'<text x="14" y="{top + ph / 2}" text-anchor="middle" transform="rotate(-90 14 {top + ph / 2})">'
               f'{_esc(ylabel)}</text>')
    out.extend(_series_lines(series, px, py, legend_x=left + pw, top=top))
    out.append("</svg>")
    return "".join(out)


def _x_ticks(x0: float, x1: float, log_x: bool) -> list[float]:
    """Tick values of the x axis over [x0, x1] (on a log axis: 1, 2, 5 times each power of ten; x0, x1 are logs)."""
    if log_x:
        ticks = [10 ** e * m for e in range(math.floor(x0), math.ceil(x1) + 1) for m in (1, 2, 5)]
        return [t for t in ticks if x0 - 1e-9 <= math.log10(t) <= x1 + 1e-9]
    step = _nice_step((x1 - x0) / 6)
    return [x0 + i * step for i in range(int((x1 - x0) / step) + 1)]


def _y_ticks(y0: float, y1: float) -> list[float]:
    """Tick values of the y axis: multiples of a round step within [y0, y1]."""
    ystep = _nice_step((y1 - y0) / 5)
    ticks, t = [], math.ceil(y0 / ystep) * ystep
    while t <= y1 + 1e-9:
        ticks.append(t)
        t += ystep
    return ticks


def _series_lines(series: dict[str, list[tuple[float, float]]], px, py, *, legend_x: float, top: int) -> list[str]:
    """One polyline per series (points mapped by ``px``, ``py``), and its legend entry right of the plot."""
    out = []
    for i, (name, pts) in enumerate(series.items()):
        color = COLORS[i % len(COLORS)]
        coords = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in pts)
        out.append(f'<polyline points="{coords}" fill="none" stroke="{color}" stroke-width="1.8">'
                   f'<title>{_esc(name)}</title></polyline>')
        ly = top + 12 + i * 16
        out.append(f'<line x1="{legend_x + 10}" y1="{ly}" x2="{legend_x + 28}" y2="{ly}" stroke="{color}" '
                   f'stroke-width="2.5"/>')
        out.append(f'<text x="{legend_x + 32}" y="{ly + 4}">{_esc(name)}</text>')
    return out


def _nice_step(raw: float) -> float:
    if raw <= 0:
        return 1.0
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * mag:
            return m * mag
    return 10 * mag


def recall_plot(run: EvalRun) -> str:
    series = {name: [(k + 1, v) for k, v in enumerate(curve)] for name, curve in run.curves.items()}
    kind = "share of relevant documents (BEIR)" if run.dataset.graded else "share of questions with a gold document"
    return _line_chart(series, title="Recall@k (documents)", xlabel="k (log scale)", ylabel=kind, log_x=True,
                       y_range=(0.0, 1.0))


def latency_plot(run: EvalRun) -> str:
    """Empirical CDF of each configuration's latency."""
    series = {}
    for name, values in run.latencies.items():
        values = sorted(v for v in values if v > 0)
        if not values:
            continue
        n = len(values)
        step = max(1, n // 400)  # at most ~400 points a line
        idx = list(range(0, n, step)) + ([n - 1] if (n - 1) % step else [])
        series[name] = [(values[i], (i + 1) / n) for i in idx]
    return _line_chart(series, title="Latency distribution (CDF)", xlabel="milliseconds (log scale)",
                       ylabel="share of questions at or under", log_x=True, y_range=(0.0, 1.0))


def _titles(run: EvalRun, ids) -> str:
    return "<br>".join(f"{_esc(run.titles.get(d, d))} <span class=muted>({_esc(d)})</span>" for d in ids) or \
        '<span class="muted">none</span>'


def _failure_reason(q, row) -> str | None:
    if not q.answerable:
        return None if row.get("_abstained") else "answered an unanswerable question"
    if row.get("_abstained"):
        return "abstained"
    if q.kind == "list" and row.get("list_recall", 1.0) < 1.0:
        return f"list recall {row['list_recall']:.2f}"
    if row.get("hit@1", 1.0) < 1.0:
        return "first sentence misses the answer" + (" (in sentences 2-3)" if row.get("hit@3") else "")
    return None


def failures_section(run: EvalRun) -> str:
    if run.dataset.has_answers:
        return _answer_failures(run)
    return _retrieval_failures(run)


def _spread(items: list, n: int) -> list:
    """At most n items, evenly spaced over the list (in order)."""
    if len(items) <= n:
        return items
    return [items[i * len(items) // n] for i in range(n)]


def _answer_failures(run: EvalRun) -> str:
    failed = [(q, r[FULL], reason) for q, r in zip(run.questions, run.results)
              if (reason := _failure_reason(q, r[FULL])) is not None]
    total = len(failed)
    rows = []
    for q, row, reason in _spread(failed, MAX_FAILURES):
        gold_rank = row.get("_gold_rank")
        answer = row.get("_answer", "")
        if len(answer) > 700:
            answer = answer[:700] + "\u2026"
        span = row.get("_span")
        rows.append(
            "<tr>"
            f"<td>{_esc(q.id)}<br><span class=muted>{_esc(q.kind)}</span></td>"
            f"<td>{_esc(q.question)}</td>"
            f"<td>{'<br>'.join(_esc(a) for a in q.answers) or '<span class=muted>(unanswerable)</span>'}</td>"
            f"<td>{_titles(run, q.gold)}</td>"
            f"<td>{_esc(reason)}</td>"
            f"<td class=ans>{_esc(answer)}" + (f"<br><b>span:</b> {_esc(span)}" if span else "") + "</td>"
            f"<td>{_titles(run, row.get('_cited', []))}</td>"
            f"<td class=num>{_esc(gold_rank) if gold_rank else '&ndash;'}</td>"
            f"<td class=num>{row.get('_confidence', 0):.2f}</td>"
            "</tr>")
    if not total:
        return "<p>No failed questions.</p>"
    note = f"<p>{total} failed questions" + (f"; {MAX_FAILURES} of them, evenly spread over the set, are listed"
                                              if total > MAX_FAILURES else "") \
        + ". Gold rank: position of the first gold article among the chunks the assistant read (deduplicated to " \
          "articles).</p>"
    head = ("<tr><th>id</th><th>question</th><th>gold answers</th><th>gold articles</th><th>failure</th>"
            "<th>answered instead</th><th>cited</th><th>gold rank</th><th>confidence</th></tr>")
    return note + f'<table class="fail">{head}{"".join(rows)}</table>'


def _retrieval_failures(run: EvalRun) -> str:
    name = run.summary.get("default_config", "hybrid-convex")
    failed = [(q, r.get(name, {})) for q, r in zip(run.questions, run.results)
              if r.get(name, {}).get("ndcg@10", 1.0) == 0]
    total = len(failed)
    rows = []
    for q, row in _spread(failed, MAX_FAILURES):
        rank = row.get("_gold_rank")
        rows.append(f"<tr><td>{_esc(q.id)}</td><td>{_esc(q.question)}</td><td>{_titles(run, q.gold)}</td>"
                    f"<td>{_titles(run, row.get('_top_docs', []))}</td>"
                    f"<td class=num>{_esc(rank) if rank else '&ndash;'}</td></tr>")
    if not total:
        return "<p>No failed queries.</p>"
    note = (f"<p>{total} queries with no relevant document in the top 10 of <code>{_esc(name)}</code>"
            + (f"; {MAX_FAILURES} of them, evenly spread, are listed" if total > MAX_FAILURES else "") + ".</p>")
    head = ("<tr><th>id</th><th>query</th><th>relevant documents</th><th>retrieved instead (top 3)</th>"
            "<th>first relevant rank</th></tr>")
    return note + f'<table class="fail">{head}{"".join(rows)}</table>'


def render(run: EvalRun) -> str:
    s = run.summary
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    split = f", split {s['split']}" if s.get("split", "all") != "all" else ""
    sampled = f", a sample of {s['limit']} (seed {s['seed']})" if s.get("limit") else ""
    parts = [
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8>",
        f"<title>qa eval: {_esc(s['dataset'])}</title><style>{CSS}</style></head><body>",
        f"<h1>qa eval &mdash; {_esc(s['dataset'])}</h1>",
        f"<p>{_esc(s['n'])} questions{_esc(split)}{_esc(sampled)}; index of {_esc(s['index']['articles'])} articles, "
        f"{_esc(s['index']['chunks'])} chunks; model <code>{_esc(s['settings']['model'])}</code>; default retrieval "
        f"<code>{_esc(s['default_config'])}</code>. Generated {_esc(when)}.</p>",
        "<h2>Metrics</h2>", metrics_table(s["configs"]),
    ]
    for name, sub in s.get("splits", {}).items():
        parts += [f"<h3>{_esc(name)} half ({_esc(sub['n'])} questions)</h3>", metrics_table(sub["configs"])]
    parts += [
        "<p class=muted>Retrieval metrics are over articles (chunk hits deduplicated in rank order). Latency: "
        "retrieval rows time the search call (question already encoded)"
        + ("; baseline-cosine the search and its pick; full the whole ask (encoding included), on "
           f"{_esc(s['configs'].get(FULL, {}).get('latency_n', 0))} questions spread over the set. Answer metrics "
           "for the retrieval rows use the full answer selector on that row's chunks." if run.dataset.has_answers
           else ".") + "</p>",
        "<h2>Plots</h2><div class=plots>", recall_plot(run), latency_plot(run), "</div>",
        f"<h2>Failed questions ({_esc(FULL if run.dataset.has_answers else s.get('default_config'))})</h2>",
        failures_section(run),
        "<h2>Settings</h2>",
        f"<pre>{_esc(_settings_text(s))}</pre>",
        "</body></html>",
    ]
    return "\n".join(parts)


def _settings_text(s: dict) -> str:
    import json

    return json.dumps({"settings": s["settings"], "index": s["index"], "counts": s.get("counts")}, indent=1)


def write_report(path: Path, run: EvalRun) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(run), encoding="utf-8")

