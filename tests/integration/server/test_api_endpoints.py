"""Endpoints over real HTTP on a real Ray Serve: create from an Approved version (409 for one that
is not), invoke through the server (CSV and JSON), update to another version, delete."""

from __future__ import annotations

import json

import httpx
import pytest

from rayline.registry import ModelRegistry

pytestmark = [pytest.mark.ray, pytest.mark.server, pytest.mark.slow]

ROW = "2008,3063.66,2,1.0,1.37,2,0,0"
ROW2 = "1991,2696.88,3,3.0,0.83,2,0,0"


@pytest.fixture
def registered(api_server, tiny_models, serve_port):
    registry = ModelRegistry()
    for d in tiny_models:
        registry.register(
            "housing",
            model=str(d / "model.ubj"),
            preprocessor=str(d / "preprocessor.json"),
            metrics=str(d / "evaluation"),
        )
    yield registry
    from rayline.serving import Endpoints

    endpoints = Endpoints()
    for endpoint in endpoints.list():  # a failed test leaves no endpoint behind
        endpoints.delete(endpoint.name)


def _problem(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    return response.json()


def _expected(model_dir, rows):
    import numpy as np
    import xgboost as xgb

    pre = json.loads((model_dir / "preprocessor.json").read_text())
    booster = xgb.Booster(model_file=str(model_dir / "model.ubj"))
    return booster.inplace_predict((np.array(rows, dtype=float) - pre["means"]) / pre["stds"])


def test_only_an_approved_version_is_deployed(api_server, registered):
    api = api_server.client
    body = {"name": "ep-pending", "model_package_group": "housing", "version": 1}
    refused = _problem(api.post("/endpoints", json=body), 409)
    assert "housing/1 is PendingManualApproval" in refused["detail"]
    assert "approve" in refused["detail"]
    _problem(api.get("/endpoints/ep-pending"), 404)
    _problem(api.post("/endpoints", json={**body, "version": 9}), 404)
    _problem(api.post("/endpoints", json={**body, "name": "bad_name"}), 422)
    _problem(api.post("/endpoints", json={**body, "replicas": 0}), 422)
    assert api.get("/endpoints").json() == {"items": [], "next_token": None}


def test_endpoint_lifecycle(api_server, registered, tiny_models):
    api = api_server.client
    registered.approve("housing", 1, reason="good enough")

    made = api.post(
        "/endpoints",
        json={"name": "housing-api", "model_package_group": "housing", "version": 1},
    )
    assert made.status_code == 201, made.text
    assert made.json()["status"] == "InService" and made.json()["model_version"] == "housing/1"
    _problem(
        api.post(
            "/endpoints",
            json={"name": "housing-api", "model_package_group": "housing", "version": 1},
        ),
        409,
    )
    described = api.get("/endpoints/housing-api").json()
    assert described["live"] is True and described["config"]["replicas"] == 1
    assert [e["action"] for e in described["events"]] == ["create", "ready"]
    assert [e["name"] for e in api.get("/endpoints").json()["items"]] == ["housing-api"]

    # Invoke through the server: the body and its content type pass through.
    answer = api.post(
        "/endpoints/housing-api/invocations",
        content=f"{ROW}\n{ROW2}\n",
        headers={"Content-Type": "text/csv"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv")
    want = _expected(tiny_models[0], [ROW.split(","), ROW2.split(",")])
    assert [float(v) for v in answer.text.split()] == pytest.approx(want, rel=1e-5)
    as_json = api.post(
        "/endpoints/housing-api/invocations",
        content=json.dumps({"instances": [[float(v) for v in ROW.split(",")]]}),
        headers={"Content-Type": "application/json", "Accept": "application/json"},
    )
    assert as_json.headers["content-type"].startswith("application/json")
    assert as_json.json()["predictions"] == pytest.approx(want[:1], rel=1e-5)
    bad = _problem(api.post("/endpoints/housing-api/invocations", content="1,2\n"), 400)
    assert "expected 8" in bad["detail"]
    _problem(api.post("/endpoints/nosuch/invocations", content=ROW), 404)

    # Update: only to an Approved version, then in place.
    update = {"model_package_group": "housing", "version": 2}
    assert (
        "is PendingManualApproval"
        in _problem(api.put("/endpoints/housing-api", json=update), 409)["detail"]
    )
    registered.approve("housing", 2, reason="better")
    updated = api.put("/endpoints/housing-api", json=update)
    assert updated.status_code == 200, updated.text
    assert updated.json()["model_version"] == "housing/2"
    answer = api.post("/endpoints/housing-api/invocations", content=ROW)
    assert float(answer.text) == pytest.approx(
        _expected(tiny_models[1], [ROW.split(",")])[0], rel=1e-5
    )

    # Lineage of the endpoint: both versions it served.
    lineage = api.get("/lineage", params={"kind": "endpoint", "id": "housing-api"}).json()
    served = {
        (e["source"], e["relation"])
        for e in lineage["edges"]
        if e["target"] == "endpoint:housing-api"
    }
    assert served == {("model:housing/2", "serves"), ("model:housing/1", "served before")}

    assert api.delete("/endpoints/housing-api").status_code == 204
    _problem(api.get("/endpoints/housing-api"), 404)
    _problem(api.delete("/endpoints/housing-api"), 404)
    assert ModelRegistry().describe("housing", 2).status == "Approved"
