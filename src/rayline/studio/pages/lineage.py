"""Lineage: what is upstream and downstream of any node, as a graph and as a table.

``/lineage?kind=KIND&id=ID`` (``direction``, ``depth``) takes the kinds the REST API's
``GET /api/v1/lineage`` takes and asks the same builder (``LineageBuilder().around``). The
graph is laid out on the server (``rayline.studio.layout``) in the DAG's markup, so
``studio.js`` pans and zooms it; each node links to its own lineage and, where Studio has one,
to its page. The table lists the same nodes as SageMaker's ``LineageTableVisualizer`` does
(Name/Source, Direction, Type, Association Type, Lineage Type), with rayline's relation and
the hops from the focus.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from rayline.errors import RaylineError, UserInputError
from rayline.server.problems import status_of
from rayline.studio.web import PREFIX, Ctx, page, render, studio_page

router = APIRouter(prefix=PREFIX, include_in_schema=False)

PageCtx = Annotated[Ctx, Depends(page)]

DIRECTIONS = ("both", "upstream", "downstream")
MAX_DEPTH = 1000

#: The focus kind that asks for the lineage of each kind of node (code has none), as the REST
#: API's nodes say in their ``lineage``.
QUERY_KIND = {
    "feature_group": "feature_group",
    "artifact": "dataset",
    "step": "step_run",
    "execution": "execution",
    "model": "model_version",
    "endpoint": "endpoint",
}

#: SageMaker's words for each kind of node: the entity's type (``Type``: an artifact's or a
#: context's type) and its lineage entity (``Lineage Type``: artifact, action, context or
#: trial-component), as ``LineageTableVisualizer`` shows them.
SAGEMAKER_TYPE = {
    "artifact": ("DataSet", "artifact"),
    "code": ("Code", "artifact"),
    "step": ("Step", "trial-component"),
    "execution": ("PipelineExecution", "context"),
    "model": ("Model", "artifact"),
    "endpoint": ("Endpoint", "context"),
    "feature_group": ("FeatureGroup", "context"),
}

KIND_LABELS = {
    "feature_group": "feature group",
    "artifact": "data",
    "code": "code",
    "step": "step run",
    "execution": "execution",
    "model": "model version",
    "endpoint": "endpoint",
}


@dataclass(frozen=True)
class NodeView:
    """A node as the page draws and lists it."""

    id: str
    kind: str
    key: str
    label: str
    detail: str
    role: str  # focus, member, upstream or downstream
    depth: int
    lineage_url: str | None
    studio_url: str | None


@dataclass(frozen=True)
class Row:
    """One row of the table (SageMaker's columns, then rayline's relation and hops)."""

    node: NodeView
    name: str
    direction: str
    type: str
    association: str
    lineage_type: str
    relation: str


@router.get("/lineage")
@studio_page
def lineage(
    ctx: PageCtx,
    kind: Annotated[str | None, Query(max_length=64)] = None,
    key: Annotated[str | None, Query(alias="id", max_length=4096)] = None,
    direction: Annotated[str | None, Query(max_length=16)] = None,
    depth: Annotated[str | None, Query(max_length=8)] = None,
) -> Response:
    from rayline.lineage.builder import FOCUS_KINDS

    form = {
        "kind": kind or "",
        "id": key or "",
        "direction": direction or "both",
        "depth": depth or "",
    }
    values = {
        "form": form,
        "kinds": FOCUS_KINDS,
        "directions": DIRECTIONS,
        "kind_labels": KIND_LABELS,
        "error": None,
    }
    if not kind and not key:
        return render(ctx, "lineage.html", graph=None, recent=_recent(), **values)
    try:
        around = _around(form)
    except RaylineError as exc:
        return render(
            ctx,
            "lineage.html",
            status=status_of(exc),
            graph=None,
            recent=_recent(),
            **{**values, "error": str(exc)},
        )
    nodes = {n.node.id: _node_view(n) for n in around.nodes}
    return render(
        ctx,
        "lineage.html",
        graph=graph_layout(nodes, around.edges),
        nodes=nodes,
        focus=nodes[around.focus.id],
        rows=table_rows(nodes, around.edges),
        edges=around.edges,
        **values,
    )


def _around(form: Mapping[str, str]) -> Any:
    """``LineageBuilder().around`` for the form's values, each checked first (a 422 saying
    what to write, never a traceback)."""
    from rayline.lineage import LineageBuilder
    from rayline.lineage.builder import FOCUS_KINDS

    kind, key = form["kind"], form["id"].strip()
    if kind not in FOCUS_KINDS:
        raise UserInputError(
            f"kind {kind!r} is not a kind of lineage node; use one of {', '.join(FOCUS_KINDS)}"
        )
    if not key:
        raise UserInputError(f"give the id of the {kind}: {FOCUS_KINDS[kind]}")
    if form["direction"] not in DIRECTIONS:
        raise UserInputError(
            f"direction {form['direction']!r} is not one of {', '.join(DIRECTIONS)}"
        )
    max_depth = None
    if form["depth"].strip():
        text = form["depth"].strip()
        if not text.isdigit() or not 1 <= int(text) <= MAX_DEPTH:
            raise UserInputError(
                f"depth {text!r} is not a number of hops from 1 to {MAX_DEPTH} "
                "(leave it empty for all)"
            )
        max_depth = int(text)
    return LineageBuilder().around(kind, key, direction=form["direction"], max_depth=max_depth)


def _recent() -> list[Any]:
    """A few recent executions to start from (the hint under the form)."""
    from rayline.engine.api import page_executions

    return page_executions(limit=5)


def lineage_url(kind: str, key: str) -> str | None:
    """This page for a node of ``kind`` (a graph node kind) keyed ``key``; None for code."""
    query = QUERY_KIND.get(kind)
    if query is None:
        return None
    return f"{PREFIX}/lineage?{urlencode({'kind': query, 'id': key})}"


def studio_url(kind: str, key: str) -> str | None:
    """The Studio page of a node, where there is one (a step: its execution's page)."""
    if kind == "execution":
        return f"{PREFIX}/executions/{quote(key, safe='')}"
    if kind == "step":
        execution_id, _, _ = key.partition("/")
        return f"{PREFIX}/executions/{quote(execution_id, safe='')}"
    if kind == "model":
        group, _, version = key.rpartition("/")
        return f"{PREFIX}/models/{quote(group, safe='')}/versions/{quote(version, safe='')}"
    if kind == "endpoint":
        return f"{PREFIX}/endpoints/{quote(key, safe='')}"
    if kind == "feature_group":
        return f"{PREFIX}/feature-groups/{quote(key, safe='')}"
    return None


def _node_view(entry: Any) -> NodeView:
    node = entry.node
    return NodeView(
        id=node.id,
        kind=node.kind,
        key=node.key,
        label=node.label,
        detail=node.detail,
        role=entry.role,
        depth=entry.depth,
        lineage_url=lineage_url(node.kind, node.key),
        studio_url=studio_url(node.kind, node.key),
    )


def graph_layout(nodes: Mapping[str, NodeView], edges: Any) -> Any:
    """The nodes laid out left to right the way data flows (edges that would close a cycle,
    were there any, are left out of the drawing; the table still lists them)."""
    from rayline.studio.layout import layout

    upstream: dict[str, set[str]] = {n: set() for n in nodes}
    for edge in edges:
        if edge.src in upstream and edge.dst in upstream:
            upstream[edge.dst].add(edge.src)
    _break_cycles(upstream)
    return layout(upstream, {n: v.kind for n, v in nodes.items()})


def _break_cycles(upstream: dict[str, set[str]]) -> None:
    import networkx as nx

    graph = nx.DiGraph((u, n) for n, ups in upstream.items() for u in ups)
    while True:
        try:
            cycle = nx.find_cycle(graph)
        except nx.NetworkXNoCycle:
            return
        src, dst = cycle[-1][:2]
        graph.remove_edge(src, dst)
        upstream[dst].discard(src)


def table_rows(nodes: Mapping[str, NodeView], edges: Any) -> list[Row]:
    """Every node but the focus: upstream ones as inputs, downstream ones as outputs, an
    execution's steps as members, nearest first; each with the edge that reached it."""
    rows = []
    order = {"member": 0, "upstream": 1, "downstream": 2}
    for view in sorted(
        (v for v in nodes.values() if v.role != "focus"),
        key=lambda v: (order.get(v.role, 3), v.depth, v.kind, v.label),
    ):
        edge = _reaching_edge(view, nodes, edges)
        entity_type, lineage_type = SAGEMAKER_TYPE.get(view.kind, (view.kind, view.kind))
        if view.kind == "step":
            entity_type = _step_type(view.detail)
        elif view.kind == "artifact" and edge is not None and "model" in edge.relation.lower():
            entity_type = "Model"
        if view.role == "member":
            direction, association, relation = "Member", "AssociatedWith", "step of the execution"
        else:
            direction = "Input" if view.role == "upstream" else "Output"
            association = _association(edge, nodes) if edge else ""
            relation = edge.relation if edge else ""
        rows.append(
            Row(
                node=view,
                name=_friendly(view),
                direction=direction,
                type=entity_type,
                association=association,
                lineage_type=lineage_type,
                relation=relation,
            )
        )
    return rows


def _reaching_edge(view: NodeView, nodes: Mapping[str, NodeView], edges: Any) -> Any:
    """The edge from a node one hop nearer the focus (or from the focus or a member)."""

    def nearer(other: str) -> bool:
        o = nodes.get(other)
        return o is not None and (
            o.role in ("focus", "member") or (o.role == view.role and o.depth == view.depth - 1)
        )

    if view.role == "upstream":
        found = [e for e in edges if e.src == view.id and nearer(e.dst)]
    else:
        found = [e for e in edges if e.dst == view.id and nearer(e.src)]
    return found[0] if found else None


def _association(edge: Any, nodes: Mapping[str, NodeView]) -> str:
    """SageMaker's association type of an edge: what went into a job ``ContributedTo`` it,
    what a job wrote it ``Produced``; the rest (a deployment, a step's dependency, a branch,
    a location inside another) is ``AssociatedWith``."""
    src, dst = nodes[edge.src].kind, nodes[edge.dst].kind
    if edge.relation in ("depends on",) or edge.relation.startswith("if "):
        return "AssociatedWith"
    if src == "step" and dst in ("artifact", "model"):
        return "Produced"
    if dst in ("step", "model") and src in ("artifact", "code", "feature_group", "step"):
        return "ContributedTo"
    if src == "artifact" and dst == "artifact":
        return "DerivedFrom" if edge.relation == "part of" else "AssociatedWith"
    return "AssociatedWith"


def _step_type(detail: str) -> str:
    """A step node's kind from its detail (``"Succeeded Tuning step"``): ``TuningStep``."""
    words = detail.split(",", 1)[0].split()
    if len(words) >= 2 and words[-1] == "step":
        return f"{words[-2]}Step"
    return "Step"


def _friendly(view: NodeView) -> str:
    """What the Name/Source column says: a data node's location, shortened as SageMaker
    shortens an artifact's URI (``s3://...`` and its last 40 characters); else its label."""
    if view.kind == "artifact":
        uri = view.key
        return uri[:5] + "..." + uri[-40:] if len(uri) > 48 else uri
    return view.label
