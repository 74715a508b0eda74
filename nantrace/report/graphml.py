"""The report's provenance graph as GraphML (networkx ``write_graphml``), for Gephi / yEd /
Cytoscape or ``networkx.read_graphml``.

Nodes are the ops of ``report.graph`` (the origin's inputs, the path from the origin to the
non-finite loss / gradient / variable, and the rest of the non-finite subgraph), keyed
``op<N>`` by their capture index, with attributes ``op_type``, ``op_name``, ``layer``,
``phase``, ``health`` (``nan`` / ``inf`` / ``finite``), ``non_finite``, ``nan``, ``inf``,
``max_abs``, ``origin`` and ``on_path``. Edges are data flow; an edge on the path has
``on_path=True``. The graph carries the headline, step, origin kind and cause id.

When the origin is in the batch itself (``input_data``) the report has no op graph; the
GraphML then holds one node for the batch tensor.
"""

from __future__ import annotations

import io
from typing import Any

from nantrace.report.records import Report


def report_graph(report: Report) -> Any:
    """The report's provenance graph as a ``networkx.DiGraph`` with GraphML-safe attributes."""
    import networkx as nx

    graph = nx.DiGraph()
    graph.graph.update(
        {
            "headline": report.headline(),
            "step": int(report.trip.step),
            "origin_kind": report.origin.kind,
            "cause": report.cause.id if report.cause else "",
            "top_fix": report.fixes[0].id if report.fixes else "",
            "reproduced": bool(report.reproduced),
        }
    )
    data = report.graph
    if not data or not data.get("nodes"):
        origin = report.origin
        health = origin.output
        graph.add_node(
            "input",
            op_type="Input",
            op_name=str(origin.tensor or "batch"),
            layer="",
            phase="input",
            health=_health_word(health.nan if health else 0, health.inf if health else 0),
            non_finite=bool(health and not health.finite),
            nan=int(health.nan) if health else 0,
            inf=int(health.inf) if health else 0,
            max_abs=float(health.max_abs) if health else 0.0,
            origin=True,
            on_path=True,
            rows=",".join(str(r) for r in origin.rows),
        )
        return graph
    origin_id = data.get("origin")
    path = [int(n) for n in data.get("path", [])]
    on_path = set(path)
    path_edges = set(zip(path, path[1:], strict=False))
    for node in data["nodes"]:
        nid = int(node["id"])
        nan, inf = int(node.get("nan") or 0), int(node.get("inf") or 0)
        graph.add_node(
            f"op{nid}",
            op_type=str(node.get("op_type") or ""),
            op_name=str(node.get("op_name") or ""),
            layer=str(node.get("layer") or ""),
            phase=str(node.get("phase") or ""),
            health=_health_word(nan, inf) if node.get("non_finite") else "finite",
            non_finite=bool(node.get("non_finite")),
            nan=nan,
            inf=inf,
            max_abs=float(node.get("max_abs") or 0.0),
            origin=nid == origin_id,
            on_path=nid in on_path,
        )
    for source, target in data.get("edges", []):
        graph.add_edge(
            f"op{int(source)}",
            f"op{int(target)}",
            on_path=(int(source), int(target)) in path_edges,
        )
    return graph


def _health_word(nan: int, inf: int) -> str:
    if nan:
        return "nan"
    if inf:
        return "inf"
    return "finite"


def render_graphml(report: Report) -> str:
    """The GraphML document (UTF-8 text)."""
    import networkx as nx

    buffer = io.BytesIO()
    nx.write_graphml(report_graph(report), buffer, encoding="utf-8", prettyprint=True)
    return buffer.getvalue().decode("utf-8")
