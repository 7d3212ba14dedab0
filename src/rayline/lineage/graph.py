"""The lineage graph: nodes (artifacts, steps, executions, model versions, endpoints) and edges,
with upstream/downstream traversal. Pure data: building it from the stores is ``builder``'s job.

Edges point the way data flows: ``artifact → step`` (an input), ``step → artifact`` (an output),
``step → step`` (a property read or ``depends_on``), ``step → model`` (registered), ``artifact →
model`` (the files a version was registered from), ``model → endpoint`` (deployed).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any


class NodeKind:
    ARTIFACT = "artifact"
    CODE = "code"
    STEP = "step"
    EXECUTION = "execution"
    MODEL = "model"
    ENDPOINT = "endpoint"
    #: A feature group (key: its name): the steps that name it, its offline store's files.
    FEATURE_GROUP = "feature_group"


@dataclass(frozen=True)
class Node:
    """One thing in the graph. ``id`` is ``kind:key`` (e.g. ``model:housing/3``)."""

    kind: str
    key: str
    label: str
    detail: str = ""

    @property
    def id(self) -> str:
        return f"{self.kind}:{self.key}"


@dataclass(frozen=True)
class Edge:
    """Data flows from ``src`` to ``dst``; ``relation`` says how (input name, 'registered', ...)."""

    src: str
    dst: str
    relation: str


@dataclass(frozen=True)
class LineageEntry:
    """A node reached from the focus: how far, over which edge, from which neighbour."""

    node: Node
    depth: int
    relation: str
    via: str


@dataclass(frozen=True)
class Lineage:
    """What is upstream and downstream of ``focus`` (breadth first, nearest first)."""

    focus: Node
    upstream: tuple[LineageEntry, ...]
    downstream: tuple[LineageEntry, ...]
    graph: LineageGraph
    members: tuple[Node, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        def entries(items):
            return [
                {
                    "depth": e.depth,
                    "kind": e.node.kind,
                    "id": e.node.id,
                    "label": e.node.label,
                    "detail": e.node.detail,
                    "relation": e.relation,
                    "via": e.via,
                }
                for e in items
            ]

        return {
            "focus": _node_dict(self.focus),
            "members": [_node_dict(n) for n in self.members],
            "upstream": entries(self.upstream),
            "downstream": entries(self.downstream),
        }


@dataclass
class LineageGraph:
    """Nodes by id and a set of edges, with traversal in either direction."""

    nodes: dict[str, Node] = field(default_factory=dict)
    edges: set[Edge] = field(default_factory=set)

    def add(self, node: Node) -> str:
        existing = self.nodes.get(node.id)
        # Keep the more informative record when two sources describe the same node.
        if existing is None or (not existing.detail and node.detail):
            self.nodes[node.id] = node
        return node.id

    def link(self, src: str, dst: str, relation: str) -> None:
        if src != dst:
            self.edges.add(Edge(src, dst, relation))

    def neighbours(self, node_id: str, *, upstream: bool) -> list[Edge]:
        if upstream:
            return sorted((e for e in self.edges if e.dst == node_id), key=_edge_order)
        return sorted((e for e in self.edges if e.src == node_id), key=_edge_order)

    def walk(
        self,
        node_id: str | list[str],
        *,
        upstream: bool,
        max_depth: int | None = None,
    ) -> list[LineageEntry]:
        """Every node reachable from ``node_id`` (or from any of several) against the edges
        (upstream) or along them (downstream), nearest first; the start nodes are left out."""
        starts = [node_id] if isinstance(node_id, str) else list(node_id)
        seen = set(starts)
        out: list[LineageEntry] = []
        queue = deque((s, 0) for s in starts)
        while queue:
            current, depth = queue.popleft()
            if max_depth is not None and depth >= max_depth:
                continue
            for edge in self.neighbours(current, upstream=upstream):
                other = edge.src if upstream else edge.dst
                if other in seen or other not in self.nodes:
                    continue
                seen.add(other)
                out.append(LineageEntry(self.nodes[other], depth + 1, edge.relation, current))
                queue.append((other, depth + 1))
        return out

    def lineage(self, node_id: str, *, max_depth: int | None = None) -> Lineage:
        return Lineage(
            focus=self.nodes[node_id],
            upstream=tuple(self.walk(node_id, upstream=True, max_depth=max_depth)),
            downstream=tuple(self.walk(node_id, upstream=False, max_depth=max_depth)),
            graph=self,
        )

    def neighbourhood(
        self,
        focus: str,
        *,
        members: tuple[str, ...] = (),
        direction: str = "both",
        max_depth: int | None = None,
    ) -> Neighbourhood:
        """The nodes reached from ``focus`` (and its ``members``: an execution's steps)
        upstream, downstream or both (``direction``), with every edge between them."""
        if direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {DIRECTIONS}, not {direction!r}")
        starts = [focus, *(m for m in members if m != focus)]
        placed: dict[str, tuple[str, int]] = {focus: ("focus", 0)}
        placed.update((m, ("member", 0)) for m in starts[1:])
        for way in ("upstream", "downstream"):
            if direction not in (way, "both"):
                continue
            for entry in self.walk(starts, upstream=way == "upstream", max_depth=max_depth):
                # A node both up- and downstream (a branch that rejoins) keeps its first place.
                placed.setdefault(entry.node.id, (way, entry.depth))
        edges = tuple(
            sorted(
                (e for e in self.edges if e.src in placed and e.dst in placed),
                key=lambda e: (e.src, e.dst, e.relation),
            )
        )
        nodes = tuple(
            NeighbourhoodNode(self.nodes[i], role, depth) for i, (role, depth) in placed.items()
        )
        return Neighbourhood(self.nodes[focus], nodes, edges, direction, max_depth)


#: Which way :meth:`LineageGraph.neighbourhood` walks from its focus.
DIRECTIONS = ("upstream", "downstream", "both")


@dataclass(frozen=True)
class NeighbourhoodNode:
    """A node of a :class:`Neighbourhood`: ``role`` is focus, member (a step of the focused
    execution), upstream or downstream; ``depth`` the hops from the focus (or its members)."""

    node: Node
    role: str
    depth: int


@dataclass(frozen=True)
class Neighbourhood:
    """The part of the graph around a focus: its nodes and every edge between them."""

    focus: Node
    nodes: tuple[NeighbourhoodNode, ...]
    edges: tuple[Edge, ...]
    direction: str
    max_depth: int | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "focus": _node_dict(self.focus),
            "direction": self.direction,
            "depth": self.max_depth,
            "nodes": [
                {**_node_dict(n.node), "key": n.node.key, "role": n.role, "depth": n.depth}
                for n in self.nodes
            ],
            "edges": [
                {"source": e.src, "target": e.dst, "relation": e.relation} for e in self.edges
            ],
        }


def _node_dict(node: Node) -> dict[str, str]:
    return {"kind": node.kind, "id": node.id, "label": node.label, "detail": node.detail}


def _edge_order(edge: Edge) -> tuple[str, str, str]:
    return (edge.relation, edge.src, edge.dst)
