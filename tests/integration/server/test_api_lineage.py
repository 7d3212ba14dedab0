"""Lineage over real HTTP, from every kind of node, around one real execution: a feature group
named by a step's arguments, the data it read, its step runs, the execution, and the model
version it registered."""

from __future__ import annotations

import httpx
import pytest
from tests.integration.registering import registering_pipeline

pytestmark = [pytest.mark.ray, pytest.mark.server]


def lineage_pipeline(tiny_model, tmp_path):
    """Train (names feature group FeatureGroupName, reads the model dir) → Register."""
    from rayline import ParameterString

    group = ParameterString("FeatureGroupName", default_value="lineage-fg")
    return registering_pipeline(
        tiny_model,
        tmp_path,
        name="api-lineage-test",
        register_step="Register",
        parameters=[group],
        arguments=["--feature_group_name", group],
        check="import sys\n"
        'assert sys.argv[1:3] == ["--feature_group_name", "lineage-fg"], sys.argv',
    )


def _get(api: httpx.Client, kind: str, key: str, **params) -> dict:
    response = api.get("/lineage", params={"kind": kind, "id": key, **params})
    assert response.status_code == 200, response.text
    return response.json()


def _roles(body: dict) -> dict[str, str]:
    return {n["id"]: n["role"] for n in body["nodes"]}


def _problem(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    return response.json()


def test_lineage_from_every_kind_of_node(api_server, tiny_model, tmp_path):
    from rayline.featurestore import (
        FeatureGroup,
        FractionalFeatureDefinition,
        IntegralFeatureDefinition,
        StringFeatureDefinition,
    )

    FeatureGroup(
        "lineage-fg",
        [
            StringFeatureDefinition("record_id"),
            FractionalFeatureDefinition("event_time"),
            IntegralFeatureDefinition("rooms"),
        ],
    ).create(record_identifier_name="record_id", event_time_feature_name="event_time")
    execution = lineage_pipeline(tiny_model, tmp_path).start()
    assert execution.wait(tracked=True).status == "Succeeded"
    eid = execution.id
    api = api_server.client
    train, register = f"step:{eid}/Train", f"step:{eid}/Register"
    model, data = "model:housing/1", f"artifact:{tiny_model}"

    # The feature group: the step that names it, and what that step led to.
    fg = _get(api, "feature_group", "lineage-fg")
    assert fg["focus"]["id"] == "feature_group:lineage-fg"
    assert fg["focus"]["lineage"] == {"kind": "feature_group", "id": "lineage-fg"}
    roles = _roles(fg)
    assert roles[train] == "downstream" and roles[model] == "downstream"
    assert data not in roles  # upstream of Train, not downstream of the group
    edges = {(e["source"], e["target"]) for e in fg["edges"]}
    assert ("feature_group:lineage-fg", train) in edges and (register, model) in edges

    # The data the step read: downstream to the model version.
    ds = _get(api, "dataset", str(tiny_model))
    assert ds["focus"]["id"] == data
    assert _roles(ds)[train] == "downstream" and _roles(ds)[model] == "downstream"
    assert [n for n in ds["nodes"] if n["role"] == "upstream"] == []

    # A step run: the group and the data upstream, the model downstream; direction and depth.
    step = _get(api, "step_run", f"{eid}/Train")
    roles = _roles(step)
    assert roles["feature_group:lineage-fg"] == "upstream" and roles[data] == "upstream"
    assert roles[model] == "downstream"
    node = next(n for n in step["nodes"] if n["id"] == model)
    assert node["lineage"] == {"kind": "model_version", "id": "housing/1"}
    up = _get(api, "step_run", f"{eid}/Train", direction="upstream")
    assert {n["role"] for n in up["nodes"]} == {"focus", "upstream"}
    near = _get(api, "step_run", f"{eid}/Train", depth=1)
    assert model not in _roles(near) and {n["depth"] for n in near["nodes"]} == {0, 1}
    assert all(e["source"] in _roles(near) and e["target"] in _roles(near) for e in near["edges"])

    # The execution: its steps are members; the model is downstream of them.
    ex = _get(api, "execution", eid)
    roles = _roles(ex)
    assert roles[f"execution:{eid}"] == "focus"
    assert roles[train] == roles[register] == "member" and roles[model] == "downstream"
    assert roles["feature_group:lineage-fg"] == "upstream"

    # The model version: back to the group, the data and the code.
    mv = _get(api, "model_version", "housing/1", direction="upstream")
    kinds = {n["kind"] for n in mv["nodes"]}
    assert {"feature_group", "artifact", "step", "code"} <= kinds
    assert _roles(mv)["feature_group:lineage-fg"] == "upstream"

    # What does not exist is a 404 saying so; a kind or direction that does not, a 422.
    absent = api.get("/lineage", params={"kind": "model_version", "id": "housing/9"})
    assert "model version housing/9 does not exist" in _problem(absent, 404)["detail"]
    _problem(api.get("/lineage", params={"kind": "endpoint", "id": "nosuch"}), 404)
    _problem(api.get("/lineage", params={"kind": "execution", "id": "nosuch"}), 404)
    _problem(api.get("/lineage", params={"kind": "feature_group", "id": "nosuch-fg"}), 404)
    missing = _problem(api.get("/lineage", params={"kind": "step_run", "id": f"{eid}/Nope"}), 404)
    assert "Register, Train" in missing["detail"]
    _problem(api.get("/lineage", params={"kind": "dataset", "id": "/nowhere/data.csv"}), 404)
    _problem(api.get("/lineage", params={"kind": "model_version", "id": "housing"}), 400)
    _problem(api.get("/lineage", params={"kind": "planet", "id": "x"}), 422)
    _problem(api.get("/lineage", params={"kind": "execution", "id": eid, "direction": "up"}), 422)

    # The same execution's MLflow runs (its own and one per step) and where to see them.
    runs = api.get(f"/executions/{eid}/runs").json()
    assert runs["next_token"] is None
    assert {r["step"] for r in runs["items"]} == {None, "Train", "Register"}
    assert {r["execution_id"] for r in runs["items"]} == {eid}
    register_run = next(r for r in runs["items"] if r["step"] == "Register")
    assert register_run["metrics"], register_run
    page = api.get(f"/executions/{eid}/runs", params={"limit": 2}).json()
    rest = api.get(
        f"/executions/{eid}/runs", params={"limit": 2, "next_token": page["next_token"]}
    ).json()
    assert len(page["items"]) == 2 and [r["run_id"] for r in rest["items"]] == [
        r["run_id"] for r in runs["items"][2:]
    ]
    _problem(api.get("/executions/nosuch/runs"), 404)
    ui = api.get("/experiments/ui").json()
    assert ui["tracking_uri"].startswith("sqlite:///") and ui["url"] is None
    assert ui["ui_command"].startswith("mlflow ui --backend-store-uri sqlite:///")
