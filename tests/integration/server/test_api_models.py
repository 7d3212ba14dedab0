"""The model registry over real HTTP: groups and versions (paginated, by status, with metrics),
approve and reject with the caller's identity, history, and the four-eyes rule on a version a
real pipeline execution registered."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from tests.conftest import serve_in_thread
from tests.integration.registering import registering_pipeline

from rayline.auth import Role, create_token
from rayline.registry import ApprovalStatus, ModelRegistry

pytestmark = [pytest.mark.ray, pytest.mark.server]


def register_pipeline(tiny_model, tmp_path, *, name: str = "api-models-test"):
    """Train (copies a trained model) → RegisterTrainedModel (group 'housing')."""
    return registering_pipeline(tiny_model, tmp_path, name=name)


def _problem(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    return response.json()


def test_groups_versions_approve_reject_history(api_server, tiny_models):
    registry = ModelRegistry()
    for model in (*tiny_models, tiny_models[0]):
        registry.register(
            "housing",
            model=str(model / "model.ubj"),
            preprocessor=str(model / "preprocessor.json"),
            metrics=str(model / "evaluation"),
        )
    registry.create_group("churn", description="empty so far")
    api = api_server.client

    groups = api.get("/model-package-groups").json()
    assert [(g["name"], g["version_count"], g["latest_version"]) for g in groups["items"]] == [
        ("churn", 0, None),
        ("housing", 3, 3),
    ]
    first = api.get("/model-package-groups", params={"limit": 1}).json()
    assert [g["name"] for g in first["items"]] == ["churn"] and first["next_token"]
    rest = api.get(
        "/model-package-groups", params={"limit": 1, "next_token": first["next_token"]}
    ).json()
    assert [g["name"] for g in rest["items"]] == ["housing"] and rest["next_token"] is None
    assert api.get("/model-package-groups/churn").json()["description"] == "empty so far"
    assert (
        "groups: 'churn', 'housing'"
        in _problem(api.get("/model-package-groups/nosuch"), 404)["detail"]
    )

    # Versions, newest first, with metrics; one version with its evaluation report.
    versions = api.get("/model-package-groups/housing/versions").json()["items"]
    assert [v["version"] for v in versions] == [3, 2, 1]
    assert {v["status"] for v in versions} == {ApprovalStatus.PENDING}
    v1 = api.get("/model-package-groups/housing/versions/1").json()
    report = json.loads((tiny_models[0] / "evaluation" / "evaluation.json").read_text())
    assert v1["metrics"] == report and v1["ref"] == "housing/1"
    assert v1["inference_spec"]["input_columns"] and v1["history"][0]["to_status"] == (
        ApprovalStatus.PENDING
    )
    assert (
        "no version 9; it has 1, 2, 3"
        in _problem(api.get("/model-package-groups/housing/versions/9"), 404)["detail"]
    )
    _problem(api.get("/model-package-groups/housing/versions/0"), 422)

    # Approve (no reason needed) and reject (a reason is): the identity is recorded as "by".
    approved = api.post("/model-package-groups/housing/versions/1/approve", json={"reason": None})
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == ApprovalStatus.APPROVED
    assert api.post("/model-package-groups/housing/versions/2/approve").status_code == 200
    _problem(api.post("/model-package-groups/housing/versions/3/reject", json={}), 422)
    for blank in ("", "  "):
        reject = api.post("/model-package-groups/housing/versions/3/reject", json={"reason": blank})
        _problem(reject, 422)
    rejected = api.post(
        "/model-package-groups/housing/versions/3/reject", json={"reason": "rmse too high"}
    )
    assert rejected.json()["status"] == ApprovalStatus.REJECTED
    assert (
        "Approved already"
        in _problem(api.post("/model-package-groups/housing/versions/1/approve", json={}), 409)[
            "detail"
        ]
    )
    _problem(api.post("/model-package-groups/housing/versions/7/approve", json={}), 404)

    history = api.get("/model-package-groups/housing/versions/3/history").json()
    assert [(h["from_status"], h["to_status"], h["by"], h["reason"]) for h in history] == [
        (None, ApprovalStatus.PENDING, history[0]["by"], "registered"),
        (ApprovalStatus.PENDING, ApprovalStatus.REJECTED, "local", "rmse too high"),
    ]
    assert registry.history("housing", 1)[-1].by == "local"

    by_status = api.get(
        "/model-package-groups/housing/versions", params={"status": "approved"}
    ).json()
    assert [v["version"] for v in by_status["items"]] == [2, 1]
    pending = api.get("/model-package-groups/housing/versions", params={"status": "pending"})
    assert pending.json()["items"] == []
    assert (
        "not one of"
        in _problem(
            api.get("/model-package-groups/housing/versions", params={"status": "maybe"}), 400
        )["detail"]
    )


@pytest.fixture
def auth_server(rayline_home, monkeypatch) -> Iterator[str]:
    """The API with authentication on, in a thread (no background services); its base URL."""
    from rayline.server.app import create_app

    monkeypatch.setenv("RAYLINE_SERVER_AUTH", "on")
    monkeypatch.delenv("RAYLINE_SERVER_URL", raising=False)
    monkeypatch.delenv("RAYLINE_ALLOW_SELF_APPROVAL", raising=False)
    with serve_in_thread(create_app(services=False)) as url:
        yield f"{url}/api/v1"


def test_four_eyes_on_a_version_an_execution_registered(
    auth_server, ray_session, tiny_model, tmp_path, monkeypatch
):
    # alice starts the execution that registers housing/1.
    monkeypatch.setenv("RAYLINE_USER", "alice")
    execution = register_pipeline(tiny_model, tmp_path).start()
    assert execution.wait().status == "Succeeded"
    monkeypatch.delenv("RAYLINE_USER")
    assert execution.describe().started_by == "alice"
    assert ModelRegistry().describe("housing", 1).execution_id == execution.id
    # And one registered by hand, outside any execution.
    ModelRegistry().register(
        "housing",
        model=str(tiny_model / "model.ubj"),
        preprocessor=str(tiny_model / "preprocessor.json"),
    )

    tokens = {
        name: create_token(name=name, role=role)[1]
        for name, role in (
            ("alice", Role.APPROVER),
            ("bob", Role.APPROVER),
            ("otto", Role.OPERATOR),
        )
    }

    def client(name: str) -> httpx.Client:
        return httpx.Client(
            base_url=auth_server, headers={"Authorization": f"Bearer {tokens[name]}"}, timeout=30
        )

    approve = "/model-package-groups/housing/versions/{}/approve"
    # An operator may read, not approve.
    assert client("otto").get("/model-package-groups/housing/versions/1").status_code == 200
    assert "approver" in _problem(client("otto").post(approve.format(1), json={}), 403)["detail"]
    # alice started the execution: she may not approve what it registered.
    refused = _problem(client("alice").post(approve.format(1), json={"reason": "mine"}), 403)
    assert "'alice' started execution" in refused["detail"]
    assert execution.id in refused["detail"]
    assert "RAYLINE_ALLOW_SELF_APPROVAL=true" in refused["detail"]
    assert ModelRegistry().describe("housing", 1).status == ApprovalStatus.PENDING
    # She may reject it, and approve a version no execution registered.
    assert client("alice").post(approve.format(2), json={}).status_code == 200
    # bob is another pair of eyes; the history says bob, whatever the body says.
    ok = client("bob").post(approve.format(1), json={"reason": "checked the metrics"})
    assert ok.status_code == 200, ok.text
    change = ModelRegistry().history("housing", 1)[-1]
    assert (change.to_status, change.by, change.reason) == (
        ApprovalStatus.APPROVED,
        "bob",
        "checked the metrics",
    )
    assert ModelRegistry().history("housing", 2)[-1].by == "alice"

    # With self-approval allowed on the server (read per request), alice may.
    reject = "/model-package-groups/housing/versions/1/reject"
    assert client("alice").post(reject, json={"reason": "regressed"}).status_code == 200
    assert ModelRegistry().history("housing", 1)[-1].by == "alice"
    _problem(client("alice").post(approve.format(1), json={}), 403)
    monkeypatch.setenv("RAYLINE_ALLOW_SELF_APPROVAL", "true")
    assert client("alice").post(approve.format(1), json={}).status_code == 200
    assert ModelRegistry().history("housing", 1)[-1].by == "alice"
