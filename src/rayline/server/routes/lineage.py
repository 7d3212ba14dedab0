"""/api/v1/lineage: what is upstream and downstream of any node, as nodes and edges.

``GET /lineage?kind=KIND&id=ID`` with ``KIND`` one of ``feature_group`` (its name), ``dataset``
(a location a step wrote or read), ``step_run`` (``EXECUTION_ID/STEP_NAME``), ``execution``,
``model_version`` (``GROUP/VERSION``) or ``endpoint``; ``direction`` (upstream, downstream or
both) and ``depth`` (hops) bound the walk. Built by ``rayline.lineage`` from the domains'
records, as ``rayline lineage`` does. Edges point the way data flows. Each node says how to
ask for its own lineage (``lineage``: its ``kind`` and ``id`` here; code has none).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query

from rayline.auth.actions import Action
from rayline.server.security import requires

router = APIRouter(tags=["lineage"])


class LineageKind(StrEnum):
    FEATURE_GROUP = "feature_group"
    DATASET = "dataset"
    STEP_RUN = "step_run"
    EXECUTION = "execution"
    MODEL_VERSION = "model_version"
    ENDPOINT = "endpoint"


#: The focus kind of each of the graph's node kinds (what a node's ``lineage.kind`` is).
_QUERY_KIND = {
    "feature_group": LineageKind.FEATURE_GROUP,
    "artifact": LineageKind.DATASET,
    "step": LineageKind.STEP_RUN,
    "execution": LineageKind.EXECUTION,
    "model": LineageKind.MODEL_VERSION,
    "endpoint": LineageKind.ENDPOINT,
}


@router.get("/lineage/resolve", dependencies=[Depends(requires(Action.READ))])
def resolve_reference(
    ref: Annotated[str, Query(min_length=1, max_length=4096, description="as rayline lineage")],
) -> dict[str, str]:
    """What a reference ``rayline lineage`` takes names (``GROUP/VERSION``, an endpoint name,
    an execution id or a unique prefix, or ``model:``/``endpoint:``/``execution:``...): the
    ``kind`` and ``id`` to ask ``GET /lineage`` for. 400 when it names nothing."""
    from rayline.lineage import LineageBuilder

    kind, key = LineageBuilder().resolve_focus(ref)
    return {"kind": kind, "id": key}


@router.get("/lineage", dependencies=[Depends(requires(Action.READ))])
def get_lineage(
    kind: LineageKind,
    key: Annotated[
        str, Query(alias="id", min_length=1, max_length=4096, description="what names the node")
    ],
    direction: Literal["upstream", "downstream", "both"] = "both",
    depth: Annotated[int | None, Query(ge=1, le=1000, description="most hops")] = None,
) -> dict[str, Any]:
    """The node (``focus``), the nodes reached from it (each with its ``role``: focus,
    member (an execution's steps), upstream or downstream, and its ``depth``) and every edge
    between them (``source`` → ``target``, ``relation``). 404 for a node that does not
    exist."""
    from rayline.lineage import LineageBuilder

    around = LineageBuilder().around(kind.value, key, direction=direction, max_depth=depth)
    out = around.to_dict()
    for node in (out["focus"], *out["nodes"]):
        query = _QUERY_KIND.get(node["kind"])
        node["lineage"] = (
            {"kind": query.value, "id": node["id"].split(":", 1)[1]} if query else None
        )
    return out
