"""Endpoints on a real Ray Serve: deploy, invoke (CSV, JSON, bad input), update, delete."""

from __future__ import annotations

import json
import threading
import time

import pytest

from rayline.errors import BackendError, ConflictError, NotFoundError, UserInputError
from rayline.registry import ModelRegistry
from rayline.serving import Endpoints, EndpointStatus, invoke_url

pytestmark = [pytest.mark.ray, pytest.mark.slow]

ROW = "2008,3063.66,2,1.0,1.37,2,0,0"
ROW2 = "1991,2696.88,3,3.0,0.83,2,0,0"


@pytest.fixture
def registered(rayline_home, tiny_models):
    registry = ModelRegistry()
    versions = [
        registry.register(
            "housing",
            model=str(d / "model.ubj"),
            preprocessor=str(d / "preprocessor.json"),
            metrics=str(d / "evaluation"),
        )
        for d in tiny_models
    ]
    return registry, versions


@pytest.fixture
def endpoints(registered, serve_port):
    eps = Endpoints()
    yield eps
    for ep in eps.list():
        eps.delete(ep.name)


def expected(model_dir, rows):
    import numpy as np
    import xgboost as xgb

    pre = json.loads((model_dir / "preprocessor.json").read_text())
    booster = xgb.Booster(model_file=str(model_dir / "model.ubj"))
    x = (np.array(rows, dtype=float) - pre["means"]) / pre["stds"]
    return booster.inplace_predict(x)


def test_only_approved_versions_deploy(endpoints, registered):
    registry, _ = registered
    with pytest.raises(ConflictError, match=r"housing/1 is PendingManualApproval.*approve"):
        endpoints.create("ep-pending", "housing/1")
    registry.reject("housing", 1, reason="bad")
    with pytest.raises(ConflictError, match="is Rejected"):
        endpoints.create("ep-pending", "housing/1")
    with pytest.raises(NotFoundError):
        endpoints.describe("ep-pending")
    with pytest.raises(UserInputError, match="not valid"):
        endpoints.create("bad_name", "housing/1")


def test_endpoint_lifecycle(endpoints, registered, tiny_models):
    registry, (v1, _) = registered
    registry.approve("housing", 1, reason="good enough")
    started = time.monotonic()
    ep = endpoints.create("housing-ep", "housing/1")
    deploy_s = time.monotonic() - started
    assert ep.status == EndpointStatus.IN_SERVICE
    assert deploy_s < 60
    assert endpoints.describe("housing-ep").live is True

    # CSV in, CSV out: raw rows, scaled by the bundled preprocessor.
    body, ctype = endpoints.invoke("housing-ep", f"{ROW}\n{ROW2}\n")
    assert ctype == "text/csv"
    got = [float(v) for v in body.decode().split()]
    want = expected(tiny_models[0], [ROW.split(","), ROW2.split(",")])
    assert got == pytest.approx(want.tolist(), rel=1e-5)

    # JSON in (by column name), JSON out; CSV in, JSON out via Accept.
    cols = v1.inference_spec.input_columns
    instance = dict(zip(cols, map(float, ROW.split(",")), strict=True))
    body, ctype = endpoints.invoke(
        "housing-ep", json.dumps({"instances": [instance]}), content_type="application/json"
    )
    assert ctype == "application/json"
    assert json.loads(body)["predictions"] == pytest.approx([got[0]], rel=1e-5)
    body, ctype = endpoints.invoke("housing-ep", ROW, accept="application/json")
    assert ctype == "application/json"

    # Malformed requests: 4xx with a message, and the endpoint keeps serving.
    with pytest.raises(UserInputError, match=r"\(400\).*row 1 has 3 values; expected 8"):
        endpoints.invoke("housing-ep", "1,2,3")
    with pytest.raises(UserInputError, match=r"\(400\).*must be a number"):
        endpoints.invoke("housing-ep", ROW.replace("2008", "abc"))
    with pytest.raises(UserInputError, match=r"\(400\).*does not parse"):
        endpoints.invoke("housing-ep", "{not json", content_type="application/json")
    with pytest.raises(UserInputError, match=r"\(415\)"):
        endpoints.invoke("housing-ep", ROW, content_type="text/plain")
    assert endpoints.invoke("housing-ep", ROW)[0] == f"{got[0]!r}\n".encode()

    # Update to version 2 while a client keeps sending: no request fails.
    with pytest.raises(ConflictError, match="PendingManualApproval"):
        endpoints.update("housing-ep", "housing/2")
    registry.approve("housing", 2)
    url = endpoints.describe("housing-ep").invocation_url
    new = float(expected(tiny_models[1], [ROW.split(",")])[0])
    assert new != pytest.approx(got[0])
    stop, answers, failures = threading.Event(), [], []
    answered = threading.Condition()

    def client():
        while not stop.is_set():
            try:
                answer = float(invoke_url(url, ROW, timeout=10)[0])
            except Exception as exc:  # every failure is collected and asserted below
                failures.append(repr(exc))
            else:
                with answered:
                    answers.append(answer)
                    answered.notify_all()

    def until(condition, what: str) -> None:
        # Conditions, not fixed windows: the client is known to be answered before the
        # update starts and after the new version answers, however slow the machine is.
        with answered:
            ok = answered.wait_for(condition, timeout=120)
        assert ok, f"{what}: last answers {answers[-3:]}, failures {failures[:3]}"

    thread = threading.Thread(target=client)
    thread.start()
    try:
        until(lambda: len(answers) >= 3, "version 1 answers the client")
        ep = endpoints.update("housing-ep", "housing/2")
        after = len(answers)
        until(
            lambda: (
                len(answers) >= after + 3 and answers[-3:] == pytest.approx([new] * 3, rel=1e-5)
            ),
            "version 2 answers the client after the update",
        )
    finally:
        stop.set()
        thread.join()
    assert failures == []
    assert answers[0] == pytest.approx(got[0], rel=1e-5)
    assert answers[-1] == pytest.approx(new, rel=1e-5)
    assert ep.status == EndpointStatus.IN_SERVICE and ep.model_version == "housing/2"
    assert [e.action for e in ep.events] == ["create", "ready", "update", "ready"]

    # Lineage: the endpoint is downstream of both versions it served.
    from rayline.lineage import lineage

    up = {(e.node.label, e.relation) for e in lineage("housing-ep").upstream}
    assert {("housing/2", "serves"), ("housing/1", "served before")} <= up
    assert ("housing-ep", "serves") in {
        (e.node.label, e.relation) for e in lineage("housing/2").downstream
    }

    # A served version cannot be deleted from the registry.
    with pytest.raises(ConflictError, match="housing-ep"):
        registry.delete_version("housing", 2)

    endpoints.delete("housing-ep")
    with pytest.raises(NotFoundError):
        endpoints.describe("housing-ep")
    with pytest.raises((UserInputError, BackendError), match=r"\(404\)|no answer"):
        invoke_url(url, ROW, timeout=2)


def test_a_model_that_does_not_load_marks_the_endpoint_failed(endpoints, registered):
    from rayline.store.artifacts import to_path

    registry, (v1, _) = registered
    registry.approve("housing", 1)
    to_path(v1.model_uri).write_bytes(b"not a model")  # the registered copy got corrupted
    with pytest.raises(BackendError, match="failed to deploy"):
        endpoints.create("broken-ep", "housing/1", timeout=90)
    ep = endpoints.describe("broken-ep")
    assert ep.status == EndpointStatus.FAILED
    assert "failed to start" in ep.failure_reason
    assert [e.action for e in ep.events] == ["create", "fail"]


@pytest.mark.parametrize(
    ("resources", "message"),
    [
        ({"CPU": 1}, r"'CPU' is a built-in Ray resource.*num_cpus"),
        ({"GPU": 1}, r"'GPU' is a built-in Ray resource"),
        ({"worker": 0}, r"'worker' needs a positive amount"),
        ({"worker": "a lot"}, r"'worker' needs a positive amount"),
        ({"": 1}, r"must be a non-empty string"),
        (["worker"], r"must map custom Ray resource names to amounts"),
    ],
)
def test_placement_is_checked_before_anything_deploys(registered, resources, message):
    registry, _ = registered
    registry.approve("housing", 1)
    endpoints = Endpoints()
    with pytest.raises(UserInputError, match=message):
        endpoints.create("placed-ep", "housing/1", resources=resources)
    with pytest.raises(NotFoundError):
        endpoints.describe("placed-ep", probe=False)


def test_placement_is_recorded_and_becomes_the_replicas_ray_resources():
    from rayline.serving.ray_serve import app_config

    app = app_config("ep", {"replicas": 1, "resources": {"worker": 0.1}}, {})
    options = app["deployments"][0]["ray_actor_options"]
    assert options["resources"] == {"worker": 0.1}
    assert (
        "resources"
        not in app_config("ep", {"replicas": 1}, {})["deployments"][0]["ray_actor_options"]
    )


def test_an_endpoint_deleted_a_moment_ago_can_be_created_again(endpoints, registered):
    # Serve is still draining the deleted app (status DELETING, its config forgotten): rayline
    # must know it for its own, not refuse the name as another application's.
    registry, _ = registered
    registry.approve("housing", 1)
    endpoints.create("again-ep", "housing/1")
    endpoints.delete("again-ep")
    assert endpoints.create("again-ep", "housing/1").status == EndpointStatus.IN_SERVICE
