"""The report as one self-contained HTML page: inline CSS, inline SVG, a few lines of inline JS.

No network, no CDN, no JS library: the page opens from a file, in a mail attachment or a CI
artifact, years later. It shows, top to bottom:

* the headline and badges (origin kind, cause, reproduced, restored);
* WHERE: the origin op, its layer / phase / source, and the health of its inputs and output;
* the provenance graph from ``report.graph``, laid out here as layered SVG (longest-path layers
  from the origin's inputs, left to right; the path from the origin to the non-finite loss,
  gradient or variable on the top row, drawn in red); click a node for its details;
* WHY: the cause and its evidence numbers;
* WHAT TO CHANGE: the ranked fixes, their concrete params, snippet and verification result;
* the history up to the trip: loss, global gradient norm, the fastest-growing weight norms
  (log scale when the values span more than two decades; non-finite values marked in red).
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Sequence
from typing import Any

from nantrace.report.records import Fix, Health, Report

#: Most ops drawn; the path and the origin's inputs always are.
MAX_NODES = 64
#: A longer path is drawn with its middle folded into one "…" node.
MAX_PATH = 40
#: Most ops stacked in one column of the graph.
MAX_ROWS = 8

PHASE_COLOURS = {
    "input": "#6b7280",
    "forward": "#2563eb",
    "loss": "#7c3aed",
    "backward": "#0d9488",
    "update": "#b45309",
}
SERIES_COLOURS = ("#2563eb", "#d97706", "#059669", "#db2777", "#7c3aed", "#0891b2")
NAN_FILL, INF_FILL, OK_FILL = "#fde2e2", "#ffedd5", "#ffffff"
NAN_STROKE, INF_STROKE, OK_STROKE = "#dc2626", "#ea580c", "#9ca3af"
#: the early warning's marker and threshold lines.
WARN_STROKE = "#b45309"

_CSS = """
:root{--fg:#111827;--muted:#6b7280;--line:#e5e7eb;--bg:#f9fafb;--red:#dc2626;--green:#15803d}
*{box-sizing:border-box}
body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;
color:var(--fg);background:var(--bg)}
main{max-width:1180px;margin:0 auto;padding:0 20px 40px}
header{background:#111827;color:#fff;padding:22px 0 18px;margin-bottom:20px}
header .inner{max-width:1180px;margin:0 auto;padding:0 20px}
h1{font-size:24px;margin:0 0 6px}
h1 .nan{color:#fca5a5}
.headline{color:#d1d5db;margin:0 0 12px}
h2{font-size:18px;margin:0 0 12px}
section{background:#fff;border:1px solid var(--line);border-radius:10px;padding:18px 20px;
margin:0 0 18px}
.badges span{display:inline-block;border-radius:999px;padding:2px 10px;margin:0 6px 6px 0;
font-size:13px;background:#374151;color:#fff}
.badges .bad{background:#b91c1c}.badges .ok{background:#15803d}.badges .warn{background:#b45309}
code,pre,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:13px}
pre{background:#f3f4f6;border-radius:6px;padding:8px 10px;overflow-x:auto;margin:8px 0 0}
table{border-collapse:collapse;width:100%;margin-top:6px}
th,td{text-align:left;padding:4px 10px 4px 0;border-bottom:1px solid var(--line);
vertical-align:top}
th{color:var(--muted);font-weight:600;font-size:13px}
td.num{font-variant-numeric:tabular-nums}
.bad{color:var(--red);font-weight:600}
.kv{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:8px 0}
.kv div:nth-child(odd){color:var(--muted)}
.where-op{font-size:22px;font-weight:700}
.kind{display:inline-block;background:#fee2e2;color:#991b1b;border-radius:6px;padding:1px 8px;
font-weight:600;margin-right:8px}
.graph-box{overflow-x:auto;border:1px solid var(--line);border-radius:8px;background:#fcfcfd}
.graph-box svg{display:block}
g.node{cursor:pointer}
g.node:hover rect.box{stroke-width:3}
button{font:inherit;font-size:12px;border:1px solid #d1d5db;background:#fff;border-radius:6px;
padding:1px 8px;cursor:pointer;margin-left:6px}
#node-info{min-height:1.5em;color:var(--muted);margin-top:8px}
.legend span{display:inline-flex;align-items:center;margin:6px 14px 0 0;font-size:13px;
color:var(--muted)}
.legend i{display:inline-block;width:14px;height:14px;border-radius:3px;margin-right:5px;
border:2px solid #9ca3af}
.fix{border:1px solid var(--line);border-radius:8px;padding:12px 14px;margin:0 0 12px}
.fix.first{border-color:#86efac;background:#f0fdf4}
.fix h3{margin:0 0 4px;font-size:16px;display:flex;align-items:center;gap:10px;flex-wrap:wrap}
.rank{display:inline-flex;align-items:center;justify-content:center;width:26px;height:26px;
border-radius:50%;background:#111827;color:#fff;font-size:14px}
.verdict{font-size:12px;border-radius:999px;padding:1px 9px;font-weight:600}
.verdict.yes{background:#dcfce7;color:#166534}.verdict.no{background:#fee2e2;color:#991b1b}
.verdict.none{background:#f3f4f6;color:#4b5563}
.verification{color:var(--muted);font-size:13px;margin-top:6px}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(340px,1fr));gap:14px}
.chart{border:1px solid var(--line);border-radius:8px;padding:8px 10px 4px}
.chart h3{font-size:14px;margin:0 0 2px}
.chart .scale{color:var(--muted);font-size:12px}
.chart svg{width:100%;height:auto;display:block}
.notes li{margin-bottom:4px}
footer{color:var(--muted);font-size:12px;text-align:center;margin-top:10px}
"""

_JS = """
(function () {
  var info = document.getElementById("node-info");
  var nodes = document.querySelectorAll("g.node");
  for (var i = 0; i < nodes.length; i++) {
    nodes[i].addEventListener("click", function (event) {
      var d = event.currentTarget.dataset;
      if (info) {
        info.textContent = d.name + " \\u2014 " + d.type + ", layer " + (d.layer || "-") +
          ", phase " + d.phase + ", " + d.health;
      }
    });
  }
  var fit = document.getElementById("graph-fit");
  var svg = document.querySelector(".graph-box svg");
  if (fit && svg) {
    fit.addEventListener("click", function () {
      var fitted = svg.getAttribute("data-fitted") === "yes";
      svg.style.width = fitted ? "" : "100%";
      svg.style.height = fitted ? "" : "auto";
      svg.setAttribute("data-fitted", fitted ? "no" : "yes");
      fit.textContent = fitted ? "Fit to width" : "Actual size";
    });
  }
  document.documentElement.setAttribute("data-rendered", "yes");
})();
"""


def render_html(report: Report) -> str:
    """The whole page as a string (UTF-8, no external resource); a divergence warning gets its
    own page (``render.warning_html``)."""
    if getattr(report, "kind", None) == "divergence_warning":
        from nantrace.report.warning_html import render_warning_html

        return render_warning_html(report)  # type: ignore[arg-type]
    return page(
        title=f"nantrace: non-finite at step {report.trip.step}",
        heading=f'<span class="nan">NaN/Inf</span> at step {report.trip.step}',
        headline=report.headline(),
        badges=_badges(report),
        sections=[
            _where(report),
            _graph_section(report),
            _why(report),
            _fixes(report),
            _history_section(report),
            _notes(report),
        ],
        footer=f"nantrace report · schema {report.schema_version} · "
        f"{report.ops_recorded} ops recorded in replay · origin {_e(report.origin.kind)}",
    )


def page(
    title: str, heading: str, headline: str, badges: str, sections: list[str], footer: str
) -> str:
    """One self-contained page (UTF-8, inline style and script): trip and warning reports
    share it. ``heading``, ``badges`` and ``sections`` are HTML; the rest is escaped here."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title>",
        f"<style>{_CSS}</style></head><body>",
        '<header><div class="inner">',
        f"<h1>{heading}</h1>",
        f'<p class="headline">{_e(headline)}</p>',
        f'<div class="badges">{badges}</div>',
        "</div></header><main>",
        *sections,
        f"<footer>{_e(footer)}</footer>",
        f"</main><script>{_JS}</script></body></html>",
    ]
    return "\n".join(parts) + "\n"


# -- header, where, why, fixes, notes ----------------------------------------------------------
def _badges(report: Report) -> str:
    o, t = report.origin, report.trip
    seen = [name for name, hit in (("loss", t.loss), ("gradients", t.gradients)) if hit]
    if t.variables:
        seen.append("variables")
    badges = [
        f'<span class="bad">origin: {_e(o.kind)}</span>',
        f'<span class="bad">cause: {_e(report.cause.id)}</span>'
        if report.cause
        else '<span class="warn">no cause inferred</span>',
        f"<span>guard saw non-finite {_e(', '.join(seen) or '-')}</span>",
        '<span class="ok">reproduced by replay</span>'
        if report.reproduced
        else '<span class="warn">not reproduced by replay</span>',
    ]
    if report.restored:
        badges.append('<span class="ok">state restored</span>')
    if report.fixes:
        badges.append(f'<span class="ok">try first: {_e(report.fixes[0].id)}</span>')
    return "".join(badges)


def _where(report: Report) -> str:
    o = report.origin
    out = ['<section id="where"><h2>Where the first non-finite value appeared</h2>']
    if o.kind == "input_data":
        rows = list(o.rows[:40])
        more = f" … ({len(o.rows)} rows)" if len(o.rows) > 40 else ""
        out.append(
            f'<div><span class="kind">input_data</span><span class="where-op mono">'
            f"{_e(o.tensor or 'batch')}</span></div>"
            f"<p>The batch already holds NaN/Inf before any op runs: tensor "
            f"<code>{_e(o.tensor)}</code>, sample rows <code>{_e(rows)}{_e(more)}</code>.</p>"
        )
        out.append(_health_table([("batch tensor", o.output)]))
    elif o.kind == "unknown":
        t = report.trip
        out.append(
            '<div><span class="kind">unknown</span></div><p>The guard tripped (loss: '
            f"{t.loss}, gradients: {t.gradients}, variables: {t.variables}) but the eager "
            "replay stayed finite, so the origin is not guessed.</p>"
        )
    else:
        out.append(
            f'<div><span class="kind">{_e(o.kind)}</span>'
            f'<span class="where-op mono">{_e(o.op_type)}</span></div>'
        )
        facts = [
            ("op", f"<code>{_e(o.op_name)}</code>"),
            ("layer", f"<code>{_e(o.layer or '-')}</code>"),
            ("phase", _e(o.phase)),
            ("source", f"<code>{_e(o.source or '-')}</code>"),
        ]
        if o.variable:
            facts.append(("variable", f"<code>{_e(o.variable)}</code>"))
        if getattr(o, "device", None):
            facts.append(("device", f"<code>{_e(o.device)}</code>"))
        out.append(_kv(facts))
        rows = [(f"input {i}", h) for i, h in enumerate(o.inputs)] + [("output", o.output)]
        out.append(_health_table(rows))
    if report.path and len(report.path) > 1:
        shown = list(report.path)
        if len(shown) > 12:
            shown = shown[:6] + ["…"] + shown[-5:]
        out.append(
            "<p>Path to the non-finite result: "
            + " → ".join(f"<code>{_e(p)}</code>" for p in shown)
            + "</p>"
        )
    out.append("</section>")
    return "".join(out)


def _health_table(rows: Sequence[tuple[str, Health | None]]) -> str:
    head = (
        "<table><tr><th>tensor</th><th>dtype</th><th>shape</th><th>NaN</th><th>+Inf</th>"
        "<th>−Inf</th><th>max |x| (finite)</th><th>zeros</th></tr>"
    )
    body = []
    for label, h in rows:
        if h is None:
            body.append(f"<tr><td>{_e(label)}</td><td colspan=7>-</td></tr>")
            continue
        body.append(
            f"<tr><td>{_e(label)}</td><td class=mono>{_e(h.dtype)}</td>"
            f"<td class=mono>{_e(list(h.shape))}</td>"
            + "".join(
                f'<td class="num{" bad" if v else ""}">{v}</td>'
                for v in (h.nan, h.pos_inf, h.neg_inf)
            )
            + f'<td class="num">{_e(_num(h.max_abs))}</td><td class="num">{h.zeros}</td></tr>'
        )
    return head + "".join(body) + "</table>"


def _why(report: Report) -> str:
    out = ['<section id="why"><h2>Why</h2>']
    if report.cause is None:
        out.append("<p>No cause inferred from the evidence.</p></section>")
        return "".join(out)
    c = report.cause
    sure = "no rule fits" if c.id == "unknown" else f"confidence {c.confidence:.2f}"
    out.append(
        f'<p><span class="kind">{_e(c.id)}</span>{_e(c.summary)} '
        f'<span class="verdict none">{_e(sure)}</span></p>'
    )
    if c.evidence:
        out.append("<table><tr><th>evidence</th><th>value</th></tr>")
        for key, value in c.evidence.items():
            out.append(f"<tr><td class=mono>{_e(key)}</td><td class=mono>{_e(_num(value))}</td>")
        out.append("</table>")
    out.append("</section>")
    return "".join(out)


def _fixes(report: Report) -> str:
    out = ['<section id="fixes"><h2>What to change (ranked)</h2>']
    if not report.fixes:
        out.append("<p>No fix suggested.</p>")
    for rank, fix in enumerate(report.fixes, 1):
        out.append(_fix_card(rank, fix))
    if report.tried:
        out.append("<h2>Tried by replay, did not help</h2>")
        for fix in report.tried:
            out.append(_fix_card(0, fix))
    out.append("</section>")
    return "".join(out)


def _fix_card(rank: int, fix: Fix) -> str:
    verdict = {
        True: '<span class="verdict yes">✓ verified by replay: trains</span>',
        False: f'<span class="verdict no">✗ replay: {_e(fix.verdict or "did not help")}</span>',
        None: '<span class="verdict none">not checked</span>',
    }[fix.verified]
    params = {k: v for k, v in fix.params.items() if k != "verification" and v is not None}
    out = [
        f'<div class="fix{" first" if rank == 1 else ""}" id="fix-{_e(fix.id)}">',
        f'<h3><span class="rank">{rank or "–"}</span><code>{_e(fix.id)}</code>{verdict}</h3>',
        f"<div>{_e(fix.rationale)}</div>",
    ]
    if params:
        out.append(_kv([(k, f"<code>{_e(_num(v))}</code>") for k, v in params.items()]))
    if fix.snippet:
        out.append(f"<pre><code>{_e(fix.snippet)}</code></pre>")
    if fix.params.get("verification"):
        out.append(
            f'<div class="verification">Verification: {_e(fix.params["verification"])}</div>'
        )
    out.append("</div>")
    return "".join(out)


def _notes(report: Report) -> str:
    items = [f"<li>{_e(n)}</li>" for n in report.notes]
    if report.restored:
        items.append("<li>state restored to its values before the tripping step</li>")
    if report.bundle:
        items.append(f"<li>crash bundle: <code>{_e(report.bundle)}</code></li>")
    if not items:
        return ""
    return f'<section id="notes"><h2>Notes</h2><ul class="notes">{"".join(items)}</ul></section>'


def _kv(pairs: Iterable[tuple[str, str]]) -> str:
    """Key/value grid; values are already-escaped HTML."""
    return (
        '<div class="kv">'
        + "".join(f"<div>{_e(k)}</div><div>{v}</div>" for k, v in pairs)
        + "</div>"
    )


# -- provenance graph --------------------------------------------------------------------------
NODE_W, NODE_H, GAP_X, GAP_Y, PAD = 156, 46, 44, 18, 24


def _graph_section(report: Report) -> str:
    out = ['<section id="graph"><h2>How the non-finite value spread</h2>']
    data = report.graph
    if not data or not data.get("nodes"):
        if report.origin.kind == "input_data":
            out.append(
                "<p>No op graph: the non-finite value is already in the batch, before any op "
                "runs.</p>"
            )
        else:
            out.append("<p>No provenance graph in this report (the replay did not reproduce).</p>")
        out.append("</section>")
        return "".join(out)
    svg, dropped = graph_svg(data)
    out.append(
        "<p class=verification>From the origin's inputs (left) through the origin to the "
        "non-finite loss, gradients and updates (right); the red path is the one the report "
        'names. <button type="button" id="graph-fit">Fit to width</button></p>'
    )
    out.append(f'<div class="graph-box">{svg}</div>')
    out.append(
        '<div class="legend">'
        f'<span><i style="background:{OK_FILL}"></i>finite</span>'
        f'<span><i style="background:{NAN_FILL};border-color:{NAN_STROKE}"></i>NaN</span>'
        f'<span><i style="background:{INF_FILL};border-color:{INF_STROKE}"></i>Inf</span>'
        '<span><i style="border-color:#111827;border-width:3px"></i>origin</span>'
        + "".join(
            f'<span><i style="background:{c};border-color:{c}"></i>{_e(p)}</span>'
            for p, c in PHASE_COLOURS.items()
        )
        + "</div>"
    )
    if dropped:
        out.append(f"<p class=verification>{_not_drawn(dropped)}</p>")
    out.append('<div id="node-info">Click an op for its details.</div></section>')
    return "".join(out)


def _not_drawn(nodes: list[dict[str, Any]]) -> str:
    """ "Not drawn: 24 × MatMul (backward, sequential/simple_rnn), ..." (escaped)."""
    groups: dict[tuple[str, str, str], int] = {}
    for node in nodes:
        key = (str(node.get("op_type")), str(node.get("phase")), str(node.get("layer") or ""))
        groups[key] = groups.get(key, 0) + 1
    ranked = sorted(groups.items(), key=lambda item: -item[1])
    shown = ", ".join(
        f"{count} × <code>{_e(op)}</code> "
        f"({_e(phase)}{', ' + _e(_clip(layer, 40)) if layer else ''})"
        for (op, phase, layer), count in ranked[:6]
    )
    more = f", and {len(ranked) - 6} more kinds" if len(ranked) > 6 else ""
    return f"{len(nodes)} more ops of the non-finite subgraph are not drawn: {shown}{more}."


def graph_svg(data: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """Lay out ``report.graph`` as layered SVG; returns the SVG and the ops not drawn.

    Drawn: the path from the origin to the sink, the origin's inputs, and the ops connected
    to them, nearest first (at most MAX_NODES, MAX_ROWS per column). Layers are longest-path
    distances in the drawn subgraph (every edge goes left to right); the path is the top row.
    """
    nodes = {int(n["id"]): n for n in data["nodes"]}
    origin = data.get("origin")
    path = [int(n) for n in data.get("path", []) if int(n) in nodes]
    edges = [(int(a), int(b)) for a, b in data.get("edges", []) if a in nodes and b in nodes]

    folded: int | None = None
    if len(path) > MAX_PATH:  # fold the middle of a long path into one "…" node
        keep = path[: MAX_PATH // 2] + path[-(MAX_PATH // 2 - 1) :]
        folded = len(path) - len(keep)
        hidden = set(path) - set(keep)
        path = path[: MAX_PATH // 2] + [-1] + path[-(MAX_PATH // 2 - 1) :]
        nodes = {k: v for k, v in nodes.items() if k not in hidden}
        edges = [(a, b) for a, b in edges if a not in hidden and b not in hidden]
        edges += [(path[MAX_PATH // 2 - 1], -1), (-1, path[MAX_PATH // 2 + 1])]
        nodes[-1] = {"id": -1, "op_type": f"… {folded} ops …", "phase": "", "layer": ""}
    # Draw the ops connected to the path and the origin, nearest first; the rest of the
    # non-finite subgraph is summarised in text (a long RNN has hundreds of them).
    seeds = list(dict.fromkeys(path + ([origin] if origin in nodes else [])))
    seeds += [a for a, b in edges if b == origin and a not in seeds]
    neighbours: dict[int, list[int]] = {n: [] for n in nodes}
    for a, b in edges:
        neighbours[a].append(b)
        neighbours[b].append(a)
    order = list(seeds)
    seen = set(order)
    for n in order:  # breadth-first: grows while iterating
        for m in sorted(neighbours[n]):
            if m not in seen:
                seen.add(m)
                order.append(m)
    if not seeds:
        order = sorted(nodes)
    chosen = order[:MAX_NODES]
    keep_set = set(chosen)
    edges = [(a, b) for a, b in edges if a in keep_set and b in keep_set]
    layer = _layers(chosen, edges)
    per_column: dict[int, int] = {}
    on_path = set(path)
    trimmed = []
    for n in chosen:  # at most MAX_ROWS ops stacked under each path op
        per_column[layer[n]] = per_column.get(layer[n], 0) + 1
        if n in on_path or n in seeds or per_column[layer[n]] <= MAX_ROWS:
            trimmed.append(n)
    chosen = trimmed
    keep_set = set(chosen)
    edges = [(a, b) for a, b in edges if a in keep_set and b in keep_set]
    others = [nodes[n] for n in nodes if n not in keep_set and n != -1]
    layer = _layers(chosen, edges)
    on_path = set(path)
    columns: dict[int, list[int]] = {}
    for n in sorted(chosen, key=lambda n: (n not in on_path, n)):
        columns.setdefault(layer[n], []).append(n)
    position: dict[int, tuple[float, float]] = {}
    for col, members in columns.items():
        for row, n in enumerate(members):
            position[n] = (PAD + col * (NODE_W + GAP_X), PAD + 18 + row * (NODE_H + GAP_Y))
    width = PAD * 2 + (max(columns) + 1) * (NODE_W + GAP_X) - GAP_X
    height = PAD * 2 + 18 + max(len(m) for m in columns.values()) * (NODE_H + GAP_Y) - GAP_Y

    path_edges = set(zip(path, path[1:], strict=False))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="provenance graph">',
        "<defs>"
        '<marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
        'fill="#9ca3af"/></marker>'
        '<marker id="arrow-red" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
        f'fill="{NAN_STROKE}"/></marker></defs>',
    ]
    for a, b in sorted(edges, key=lambda e: e in path_edges):  # path edges drawn on top
        (x1, y1), (x2, y2) = position[a], position[b]
        sx, sy, tx, ty = x1 + NODE_W, y1 + NODE_H / 2, x2, y2 + NODE_H / 2
        mid = (sx + tx) / 2
        hot = (a, b) in path_edges
        parts.append(
            f'<path d="M{sx:.1f},{sy:.1f} C{mid:.1f},{sy:.1f} {mid:.1f},{ty:.1f} '
            f'{tx - 2:.1f},{ty:.1f}" fill="none" stroke="{NAN_STROKE if hot else "#c7cbd1"}" '
            f'stroke-width="{2.5 if hot else 1.3}" '
            f'marker-end="url(#{"arrow-red" if hot else "arrow"})"/>'
        )
    for n in chosen:
        parts.append(_node_svg(nodes[n], position[n], n == origin))
    parts.append("</svg>")
    return "".join(parts), others


def _layers(chosen: list[int], edges: list[tuple[int, int]]) -> dict[int, int]:
    """Longest-path layer of each node (sources at 0), robust to a stray cycle."""
    preds: dict[int, list[int]] = {n: [] for n in chosen}
    succs: dict[int, list[int]] = {n: [] for n in chosen}
    for a, b in edges:
        preds[b].append(a)
        succs[a].append(b)
    indegree = {n: len(preds[n]) for n in chosen}
    ready = sorted(n for n in chosen if indegree[n] == 0)
    layer = {n: 0 for n in chosen}
    order = []
    while ready:
        n = ready.pop(0)
        order.append(n)
        for m in succs[n]:
            layer[m] = max(layer[m], layer[n] + 1)
            indegree[m] -= 1
            if indegree[m] == 0:
                ready.append(m)
    for n in chosen:  # nodes on a cycle (should not happen): after their placed predecessors
        if n not in order:
            layer[n] = 1 + max((layer[p] for p in preds[n] if p in order), default=-1)
    return layer


def _node_svg(node: dict[str, Any], at: tuple[float, float], is_origin: bool) -> str:
    x, y = at
    nan, inf = int(node.get("nan") or 0), int(node.get("inf") or 0)
    bad = bool(node.get("non_finite"))
    if bad and nan:
        fill, stroke, health = NAN_FILL, NAN_STROKE, f"{nan} NaN" + (f", {inf} Inf" if inf else "")
    elif bad:
        fill, stroke, health = INF_FILL, INF_STROKE, f"{inf} Inf" if inf else "non-finite"
    else:
        fill, stroke = OK_FILL, OK_STROKE
        health = f"finite, max|x|={_num(node.get('max_abs') or 0.0)}"
    if node.get("id") == -1:
        fill, stroke, health = "#f3f4f6", OK_STROKE, "ops folded to keep the path readable"
    phase = str(node.get("phase") or "")
    colour = PHASE_COLOURS.get(phase, "#d1d5db")
    op_type = str(node.get("op_type") or "?")
    sub = str(node.get("layer") or phase or "")
    name = str(node.get("op_name") or op_type)
    tooltip = f"{name}\n{op_type} · {sub or '-'} · {phase or '-'}\n{health}"
    out = [
        f'<g class="node" data-name="{_e(name)}" data-type="{_e(op_type)}" '
        f'data-layer="{_e(node.get("layer") or "")}" data-phase="{_e(phase)}" '
        f'data-health="{_e(health)}"><title>{_e(tooltip)}</title>'
    ]
    if is_origin:
        out.append(
            f'<text x="{x + NODE_W / 2:.1f}" y="{y - 6:.1f}" text-anchor="middle" '
            'font-size="11" font-weight="700" fill="#111827" letter-spacing="1">ORIGIN</text>'
        )
    out.append(
        f'<rect class="box" x="{x:.1f}" y="{y:.1f}" width="{NODE_W}" height="{NODE_H}" rx="7" '
        f'fill="{fill}" stroke="{"#111827" if is_origin else stroke}" '
        f'stroke-width="{3 if is_origin else 1.5}"/>'
        f'<rect x="{x + 1.5:.1f}" y="{y + 1.5:.1f}" width="5" height="{NODE_H - 3}" rx="2" '
        f'fill="{colour}"/>'
        f'<text x="{x + 14:.1f}" y="{y + 19:.1f}" font-size="13" font-weight="700" '
        f'font-family="ui-monospace,Menlo,Consolas,monospace" fill="#111827">'
        f"{_e(_clip(op_type, 18))}</text>"
        f'<text x="{x + 14:.1f}" y="{y + 36:.1f}" font-size="11" fill="#4b5563">'
        f"{_e(_clip(sub, 24))}</text>"
    )
    if bad:
        out.append(
            f'<text x="{x + NODE_W - 8:.1f}" y="{y + 19:.1f}" font-size="11" font-weight="700" '
            f'text-anchor="end" fill="{stroke}">{"NaN" if nan else "Inf"}</text>'
        )
    out.append("</g>")
    return "".join(out)


# -- history charts ----------------------------------------------------------------------------
CHART_W, CHART_H = 400, 220
M_LEFT, M_RIGHT, M_TOP, M_BOTTOM = 64, 10, 12, 26  # left: room for a 10-character y label


def _history_section(report: Report) -> str:
    out = ['<section id="history"><h2>History up to the trip</h2>']
    h = report.history
    if not h or not h.get("steps"):
        out.append(
            "<p>No history recorded (<code>watch(history=False)</code>, or the first step "
            "tripped).</p></section>"
        )
        return "".join(out)
    steps = [int(s) for s in h["steps"]]
    if len(steps) < 2:
        out.append(
            f"<p>Only the tripping step was recorded (the run tripped at step "
            f"{report.trip.step}, before any healthy step).</p></section>"
        )
        return "".join(out)
    charts = [
        chart_svg("loss", steps, {"loss": h.get("loss") or []}, report.trip.step),
        chart_svg(
            "global gradient norm", steps, {"‖g‖": h.get("grad_norm") or []}, report.trip.step
        ),
    ]
    weights = h.get("weight_norm") or {}
    if weights:
        charts.append(chart_svg("weight norms (fastest-growing)", steps, weights, report.trip.step))
    out.append('<div class="charts">' + "".join(charts) + "</div></section>")
    return "".join(out)


def chart_svg(
    title: str,
    steps: list[int],
    series: dict[str, list[float | None]],
    trip_step: int,
    marker: str = "trip",
    threshold: tuple[float, str] | None = None,
) -> str:
    """One line chart (inline SVG polylines). Log scale when all values are positive and span
    more than two decades; ``None`` (non-finite) values break the line and are marked in red
    at the top of the plot. ``trip_step`` gets a vertical line labelled ``marker`` (red for a
    trip, amber otherwise); ``threshold`` ``(level, label)`` a dashed horizontal line."""
    values = [v for s in series.values() for v in s if v is not None and math.isfinite(v)]
    if threshold is not None and math.isfinite(threshold[0]) and values:
        values.append(threshold[0])  # the line is always inside the plot
    log = bool(values) and min(values) > 0 and max(values) / min(values) > 100
    lo, hi = (min(values), max(values)) if values else (0.0, 1.0)
    if log:
        lo, hi = math.log10(lo), math.log10(hi)
    if hi - lo < 1e-12:
        lo, hi = lo - (1 if log else abs(lo) * 0.1 + 1), hi + (1 if log else abs(hi) * 0.1 + 1)
    pad = (hi - lo) * 0.06
    lo, hi = lo - pad, hi + pad
    x0, x1 = (min(steps), max(steps)) if steps else (0, 1)
    if x1 == x0:
        x0, x1 = x0 - 1, x1 + 1
    pw, ph = CHART_W - M_LEFT - M_RIGHT, CHART_H - M_TOP - M_BOTTOM

    def sx(step: float) -> float:
        return M_LEFT + (step - x0) / (x1 - x0) * pw

    def sy(value: float) -> float:
        v = math.log10(value) if log else value
        return M_TOP + (1 - (v - lo) / (hi - lo)) * ph

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {CHART_W} {CHART_H}" '
        f'role="img" aria-label="{_e(title)}">',
        f'<rect x="{M_LEFT}" y="{M_TOP}" width="{pw}" height="{ph}" fill="#fff" stroke="#e5e7eb"/>',
    ]
    for value, label in _y_ticks(lo, hi, log):
        y = M_TOP + (1 - (value - lo) / (hi - lo)) * ph
        parts.append(
            f'<line x1="{M_LEFT}" x2="{M_LEFT + pw}" y1="{y:.1f}" y2="{y:.1f}" '
            'stroke="#f0f1f3"/>'
            f'<text x="{M_LEFT - 4}" y="{y + 4:.1f}" font-size="11" text-anchor="end" '
            f'fill="#6b7280">{_e(label)}</text>'
        )
    for step in _x_ticks(min(steps, default=x0), max(steps, default=x1)):
        x = sx(step)
        parts.append(
            f'<text x="{x:.1f}" y="{CHART_H - 8}" font-size="12" text-anchor="middle" '
            f'fill="#6b7280">{step}</text>'
        )
    if x0 <= trip_step <= x1:
        x = sx(trip_step)
        stroke = NAN_STROKE if marker == "trip" else WARN_STROKE
        end = (
            "/>"  # a trip's marker, as it always was
            if marker == "trip"
            else f' class="marker"><title>{_e(marker)} at step {trip_step}</title></line>'
        )
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{M_TOP}" y2="{M_TOP + ph}" stroke="{stroke}" '
            f'stroke-dasharray="4 3"{end}'
            f'<text x="{x - 5:.1f}" y="{M_TOP + 24}" font-size="12" text-anchor="end" '
            f'fill="{stroke}">{_e(marker)}</text>'
        )
    if threshold is not None and math.isfinite(threshold[0]) and (threshold[0] > 0 or not log):
        y = sy(threshold[0])
        parts.append(
            f'<line x1="{M_LEFT}" x2="{M_LEFT + pw}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="{WARN_STROKE}" stroke-dasharray="6 3" class="threshold"><title>'
            f"{_e(threshold[1])}: {_e(_num(threshold[0]))}</title></line>"
            f'<text x="{M_LEFT + 4}" y="{y - 4:.1f}" font-size="11" fill="{WARN_STROKE}">'
            f"{_e(_clip(threshold[1], 44))}</text>"
        )
    legend = []
    for index, (name, raw) in enumerate(series.items()):
        colour = SERIES_COLOURS[index % len(SERIES_COLOURS)]
        run: list[str] = []
        runs: list[list[str]] = []
        bad_steps = []
        for step, value in zip(steps, raw, strict=False):
            if value is None or not math.isfinite(value) or (log and value <= 0):
                if value is None or not math.isfinite(value):
                    bad_steps.append(step)
                if run:
                    runs.append(run)
                run = []
                continue
            run.append(f"{sx(step):.1f},{sy(value):.1f}")
            parts.append(
                f'<circle cx="{sx(step):.1f}" cy="{sy(value):.1f}" r="1.8" fill="{colour}">'
                f"<title>{_e(name)} @ step {step}: {_e(_num(value))}</title></circle>"
                if len(steps) <= 120
                else ""
            )
        if run:
            runs.append(run)
        for points in runs:
            parts.append(
                f'<polyline points="{" ".join(points)}" fill="none" stroke="{colour}" '
                'stroke-width="1.8"/>'
            )
        for step in bad_steps:
            x = sx(step)
            parts.append(
                f'<path d="M{x - 5:.1f},{M_TOP + 2} L{x + 5:.1f},{M_TOP + 2} L{x:.1f},'
                f'{M_TOP + 10}z" fill="{NAN_STROKE}"><title>{_e(name)} @ step {step}: '
                "non-finite</title></path>"
            )
        legend.append((name, colour))
    parts.append("</svg>")
    scale = "log scale" if log else "linear scale"
    legend_html = "".join(
        f'<span style="color:{c}">■</span> <span class="mono">{_e(_clip(n, 40))}</span> '
        for n, c in legend
    )
    return (
        f'<div class="chart"><h3>{_e(title)}</h3><div class="scale">{scale} · '
        f"{len(steps)} steps · {legend_html}</div>{''.join(parts)}</div>"
    )


def _y_ticks(lo: float, hi: float, log: bool) -> list[tuple[float, str]]:
    if log:
        first, last = math.ceil(lo), math.floor(hi)
        stride = max(1, math.ceil((last - first + 1) / 6))
        return [(float(e), f"1e{e}") for e in range(first, last + 1, stride)]
    step = _nice_step((hi - lo) / 5)
    start = math.ceil(lo / step) * step
    ticks = []
    value = start
    while value <= hi + 1e-12 and len(ticks) < 12:
        ticks.append((value, _tick_label(value, step)))
        value += step
    return ticks


def _tick_label(value: float, step: float) -> str:
    """A short y-axis label: the left margin fits about 10 characters, and a plain 1200000
    would be cut to its last digits there. Large and tiny values use a short exponent form
    (``1.2e6``, ``5e-4``) with just the digits that tell neighbouring ticks apart."""
    if abs(value) < abs(step) * 1e-6:
        return "0"
    magnitude = abs(value)
    if 1e-3 <= magnitude < 1e5:
        decimals = max(0, -math.floor(math.log10(step))) if step < 1 else 0
        return f"{value:.{decimals}f}"
    digits = max(0, min(5, math.floor(math.log10(magnitude)) - math.floor(math.log10(step))))
    mantissa, exponent = f"{value:.{digits}e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def _x_ticks(x0: int, x1: int) -> list[int]:
    span = x1 - x0
    step = max(1, int(_nice_step(span / 6)))
    first = int(math.ceil(x0 / step) * step)
    return list(range(first, x1 + 1, step))


def _nice_step(raw: float) -> float:
    if raw <= 0:
        return 1.0
    exponent = math.floor(math.log10(raw))
    fraction = raw / 10**exponent
    nice = 1 if fraction < 1.5 else 2 if fraction < 3 else 5 if fraction < 7 else 10
    return nice * 10**exponent


# -- small helpers -----------------------------------------------------------------------------
def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _num(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, float):
        if value != value or value in (math.inf, -math.inf):
            return str(value)
        if value == int(value) and abs(value) < 1e6:
            return str(int(value))
        return f"{value:.3g}"
    if isinstance(value, (list, tuple)) and len(value) > 12:
        return f"{[_num(v) for v in value[:12]]}… ({len(value)} total)"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_num(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_num(v)}" for k, v in value.items()) + "}"
    return str(value)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
