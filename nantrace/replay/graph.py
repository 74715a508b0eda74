"""The provenance graph: ops as nodes, data flow as edges (networkx)."""

from __future__ import annotations

import networkx as nx

from nantrace.replay.capture import OpRecord


def build_graph(records: list[OpRecord]) -> nx.DiGraph:
    """One node per recorded op (keyed by its index), with its type, layer, phase and health."""
    graph = nx.DiGraph()
    for record in records:
        result = record.result_health
        graph.add_node(
            record.index,
            op_type=record.op_type,
            op_name=record.op_name,
            layer=record.layer or "",
            phase=record.phase,
            non_finite=record.produced_non_finite,
            max_abs=result.max_abs if result else 0.0,
            nan=result.nan if result else 0,
            inf=result.inf if result else 0,
        )
        for producer in record.producers:
            if producer is not None:
                graph.add_edge(producer, record.index)
    return graph


def non_finite_subgraph(graph: nx.DiGraph) -> nx.DiGraph:
    return graph.subgraph([n for n, data in graph.nodes(data=True) if data["non_finite"]])


def path_between(graph: nx.DiGraph, start: int, targets: list[int]) -> list[int]:
    """The shortest data-flow path from ``start`` to the nearest of ``targets`` (non-finite
    nodes preferred), or just ``[start]`` when none is reachable."""
    for candidate_graph in (non_finite_subgraph(graph), graph):
        if start not in candidate_graph:
            continue
        lengths = nx.single_source_shortest_path(candidate_graph, start)
        reachable = [t for t in targets if t in lengths]
        if reachable:
            best = min(reachable, key=lambda t: (len(lengths[t]), t))
            return lengths[best]
    return [start]


def provenance_summary(
    graph: nx.DiGraph, origin: int | None, path: list[int], limit: int = 400
) -> dict:
    """A JSON-safe node-link view for the report: the origin's inputs, the path from the
    origin to the sink, and the rest of the non-finite subgraph (capped at ``limit`` nodes)."""
    keep: list[int] = []
    if origin is not None and origin in graph:
        keep += list(graph.predecessors(origin)) + [origin]
    keep += path
    keep += sorted(n for n, data in graph.nodes(data=True) if data["non_finite"])
    chosen = list(dict.fromkeys(keep))[:limit]
    sub = graph.subgraph(chosen)
    return {
        "nodes": [
            {"id": int(n), **{k: _plain(v) for k, v in sub.nodes[n].items()}} for n in chosen
        ],
        "edges": [[int(a), int(b)] for a, b in sub.edges()],
        "origin": origin,
        "path": [int(n) for n in path],
    }


def _plain(value):
    if isinstance(value, float) and value != value:
        return None
    return value.item() if hasattr(value, "item") else value
