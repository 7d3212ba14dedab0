"""The lineage backend over a server's REST API (``GET /api/v1/lineage``): the server builds
the graph from its domains' records; a client reads the part around a node."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rayline.lineage.graph import (
    Edge,
    Lineage,
    LineageGraph,
    Neighbourhood,
    NeighbourhoodNode,
    Node,
    NodeKind,
)

if TYPE_CHECKING:
    from rayline.remote.client import Client


class RemoteLineage:
    """Lineage as the server at ``client.url`` builds it."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def around(
        self, kind: str, key: str, *, direction: str = "both", max_depth: int | None = None
    ) -> Neighbourhood:
        params: dict[str, Any] = {"kind": kind, "id": key, "direction": direction}
        if max_depth is not None:
            params["depth"] = max_depth
        return neighbourhood(self.client.get("/lineage", params=params))

    def lineage(self, ref: str, *, max_depth: int | None = None) -> Lineage:
        """The server resolves ``ref`` and answers the nodes within ``max_depth`` both ways;
        walked here as the embedded builder walks its whole graph (the walk only reaches
        nodes of that neighbourhood)."""
        resolved = self.client.get("/lineage/resolve", params={"ref": ref})
        around = self.around(resolved["kind"], resolved["id"], max_depth=max_depth)
        graph = LineageGraph()
        for placed in around.nodes:
            graph.add(placed.node)
        graph.edges.update(around.edges)
        focus = around.focus
        if focus.kind != NodeKind.EXECUTION:
            return graph.lineage(focus.id, max_depth=max_depth)
        members = [focus, *(p.node for p in around.nodes if p.role == "member")]
        ids = [n.id for n in members]
        return Lineage(
            focus=focus,
            upstream=tuple(graph.walk(ids, upstream=True, max_depth=max_depth)),
            downstream=tuple(graph.walk(ids, upstream=False, max_depth=max_depth)),
            graph=graph,
            members=tuple(sorted(members, key=lambda n: (n.kind != NodeKind.STEP, n.key))),
        )


def neighbourhood(data: dict[str, Any]) -> Neighbourhood:
    """A ``Neighbourhood`` from ``GET /lineage``'s JSON."""
    nodes = tuple(
        NeighbourhoodNode(
            Node(n["kind"], n["key"], n["label"], n.get("detail", "")), n["role"], n["depth"]
        )
        for n in data["nodes"]
    )
    focus = next(p.node for p in nodes if p.role == "focus")
    edges = tuple(Edge(e["source"], e["target"], e["relation"]) for e in data["edges"])
    return Neighbourhood(focus, nodes, edges, data["direction"], data.get("depth"))
