"""The DAG of a pipeline laid out for drawing: layers left to right, each layer ordered to keep
edges short, as boxes and curves in SVG coordinates.

Layers are networkx's ``topological_generations`` (a step sits one layer right of its latest
upstream step); a few barycenter sweeps, down and up, order each layer by the mean position of
its neighbours in the layer before, the usual cure for crossing edges (Sugiyama's heuristic).
Laid out on the server so a page shows its graph before any script runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

NODE_W = 180
NODE_H = 44
GAP_X = 70
GAP_Y = 22
MARGIN = 16
SWEEPS = 4


@dataclass(frozen=True)
class Node:
    name: str
    kind: str
    x: float
    y: float
    w: float = NODE_W
    h: float = NODE_H


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    path: str  # an SVG path (a cubic curve from the source's right side to the target's left)


@dataclass(frozen=True)
class Layout:
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    width: float
    height: float


def layout(upstream: Mapping[str, frozenset[str] | set[str]], kinds: Mapping[str, str]) -> Layout:
    """The layout of the steps ``upstream`` lists (step -> its upstream steps)."""
    import networkx as nx

    graph = nx.DiGraph()
    order = list(upstream)
    graph.add_nodes_from(order)
    for name, ups in upstream.items():
        graph.add_edges_from((u, name) for u in ups if u in upstream)
    position = {n: i for i, n in enumerate(order)}
    layers = [sorted(g, key=position.__getitem__) for g in nx.topological_generations(graph)]
    for sweep in range(SWEEPS):
        down = sweep % 2 == 0
        sequence = range(1, len(layers)) if down else range(len(layers) - 2, -1, -1)
        for i in sequence:
            reference = layers[i - 1] if down else layers[i + 1]
            index = {n: k for k, n in enumerate(reference)}
            near = graph.predecessors if down else graph.successors
            keys = {}
            for k, n in enumerate(layers[i]):
                at = [index[m] for m in near(n) if m in index]
                keys[n] = sum(at) / len(at) if at else float(k)
            layers[i] = sorted(layers[i], key=keys.__getitem__)
    tallest = max((len(layer) for layer in layers), default=0)
    height = tallest * NODE_H + max(tallest - 1, 0) * GAP_Y
    nodes: dict[str, Node] = {}
    for column, layer in enumerate(layers):
        span = len(layer) * NODE_H + (len(layer) - 1) * GAP_Y
        top = MARGIN + (height - span) / 2  # centre each layer vertically
        for row, name in enumerate(layer):
            nodes[name] = Node(
                name,
                kinds.get(name, ""),
                MARGIN + column * (NODE_W + GAP_X),
                top + row * (NODE_H + GAP_Y),
            )
    edges = []
    for source, target in graph.edges:
        a, b = nodes[source], nodes[target]
        x1, y1 = a.x + a.w, a.y + a.h / 2
        x2, y2 = b.x, b.y + b.h / 2
        bend = max((x2 - x1) / 2, 20)
        path = (
            f"M{x1:.1f},{y1:.1f} "
            f"C{x1 + bend:.1f},{y1:.1f} {x2 - bend:.1f},{y2:.1f} {x2:.1f},{y2:.1f}"
        )
        edges.append(Edge(source, target, path))
    width = 2 * MARGIN + len(layers) * NODE_W + max(len(layers) - 1, 0) * GAP_X
    return Layout(
        tuple(nodes[n] for n in order if n in nodes), tuple(edges), width, height + 2 * MARGIN
    )
