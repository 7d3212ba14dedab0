"""Pipelines and code snapshots over the REST API, as a remote client drives them: upload the
step code, upsert the definition, read it back, start a stored version with typed parameters,
and every refusal (unknown pipeline, bad definition, missing snapshot, mistyped parameter,
incompatible client, tampered or too-large upload)."""

from __future__ import annotations

import hashlib
import json
import platform

import pytest

from rayline import ParameterInteger, Pipeline, step
from rayline._version import __version__ as rayline_version

pytestmark = [pytest.mark.ray, pytest.mark.server]

CLIENT = {"X-Rayline-Client": f"rayline/{rayline_version} python/{platform.python_version()}"}


def _pipeline(offset: int) -> Pipeline:
    count = ParameterInteger("Count", default_value=2)

    @step(name="add")
    def add(n):
        print(f"adding {offset} to {n}")
        return n + offset

    return Pipeline("api-pipe", parameters=[count], steps=[add(count)], description="adds")


def _upload(client, pipeline: Pipeline) -> list[str]:
    """Upload the step code as a remote client does; the names uploaded."""
    names = []
    for s in pipeline.graph.steps.values():
        ref = s.code_ref()
        for content, suffix in s.code_snapshots():
            name = f"{ref.sha256}{suffix}"
            if client.head(f"/code/{name}").status_code == 404:
                response = client.put(f"/code/{name}", content=content, headers=CLIENT)
                assert response.status_code == 201, response.text
            assert client.head(f"/code/{name}").status_code == 200
            names.append(name)
    return names


def test_upsert_read_and_start_through_the_api(api_server):
    client = api_server.client
    pipeline = _pipeline(10)
    body = {"definition": json.loads(pipeline.definition())}

    # Without its code snapshot the server refuses the definition, naming the snapshot.
    missing = client.put("/pipelines/api-pipe", json=body, headers=CLIENT)
    assert missing.status_code == 400
    (name,) = [f"{s.code_ref().sha256}.pkl" for s in pipeline.graph.steps.values()]
    assert name in missing.json()["detail"] and "PUT /api/v1/code/" in missing.json()["detail"]

    assert _upload(client, pipeline) == [name]
    first = client.put("/pipelines/api-pipe", json=body, headers=CLIENT)
    assert first.status_code == 200, first.text
    assert first.json() == {"name": "api-pipe", "version": 1}
    # The same definition again (here as a string of JSON): the same version.
    again = client.put("/pipelines/api-pipe", json={"definition": pipeline.definition()})
    assert again.json()["version"] == 1
    changed = _pipeline(100)
    _upload(client, changed)
    v2 = client.put("/pipelines/api-pipe", json={"definition": changed.definition()})
    assert v2.json() == {"name": "api-pipe", "version": 2}

    record = client.get("/pipelines/api-pipe").json()
    assert record["latest_version"] == 2 and record["description"] == "adds"
    versions = client.get("/pipelines/api-pipe/versions").json()
    assert [v["version"] for v in versions["items"]] == [1, 2]
    assert versions["next_token"] is None
    stored = client.get("/pipelines/api-pipe/definition", params={"version": 1}).json()
    assert stored == json.loads(pipeline.definition())
    listed = client.get("/pipelines", params={"name_contains": "API"}).json()
    assert [p["name"] for p in listed["items"]] == ["api-pipe"]
    assert client.get("/pipelines", params={"name_contains": "nope"}).json()["items"] == []

    # Start version 1 with a typed parameter: 201 at once, driven by the server.
    started = client.post(
        "/pipelines/api-pipe/executions",
        json={"parameters": {"Count": 5}, "version": 1, "max_parallel_steps": 1},
        headers=CLIENT,
    )
    assert started.status_code == 201, started.text
    execution = started.json()
    assert execution["pipeline_version"] == 1 and execution["parameters"] == {"Count": 5}
    assert execution["max_parallel_steps"] == 1
    from rayline.executions import Execution

    handle = Execution(execution["id"])
    assert handle.wait(timeout=120).status == "Succeeded"
    assert handle.result("add") == 15
    # No version: the latest runs, with the parameter's default.
    latest = client.post("/pipelines/api-pipe/executions", json={}).json()
    assert Execution(latest["id"]).wait(timeout=120).pipeline_version == 2
    assert Execution(latest["id"]).result("add") == 102

    # The caller's mistakes are 4xx problems that say what is wrong.
    mistyped = client.post("/pipelines/api-pipe/executions", json={"parameters": {"Count": "x"}})
    assert mistyped.status_code == 422 and "Count" in mistyped.json()["detail"]
    unknown = client.post("/pipelines/api-pipe/executions", json={"parameters": {"Nope": 1}})
    assert unknown.status_code == 422
    assert client.post("/pipelines/api-pipe/executions", json={"version": 7}).status_code == 404
    assert client.get("/pipelines/no-such").status_code == 404
    assert client.get("/pipelines/no-such/versions").status_code == 404
    assert client.get("/pipelines/api-pipe/definition?version=9").status_code == 404
    assert client.post("/pipelines/no-such/executions", json={}).status_code == 404
    bad_json = client.put("/pipelines/api-pipe", json={"definition": "{not json"})
    assert bad_json.status_code == 400 and "not valid JSON" in bad_json.json()["detail"]
    no_steps = client.put("/pipelines/x", json={"definition": {"Version": "2020-12-01"}})
    assert no_steps.status_code == 400
    malformed = json.loads(pipeline.definition())
    del malformed["Steps"][0]["Name"]
    broken = client.put("/pipelines/api-pipe", json={"definition": malformed})
    assert broken.status_code == 400 and "malformed" in broken.json()["detail"]

    # Delete: 204, then it is gone.
    assert client.delete("/pipelines/api-pipe").status_code == 204
    assert client.get("/pipelines/api-pipe").status_code == 404


def test_incompatible_clients_are_refused(api_server):
    client = api_server.client
    major, minor, _ = platform.python_version_tuple()
    other_python = f"rayline/{rayline_version} python/{major}.{int(minor) + 1}.0"
    data = b"print('hi')\n"
    name = f"{hashlib.sha256(data).hexdigest()}.py"
    refused = client.put(f"/code/{name}", content=data, headers={"X-Rayline-Client": other_python})
    assert refused.status_code == 409
    detail = refused.json()["detail"]
    assert f"Python {major}.{int(minor) + 1}.0" in detail
    assert f"server runs Python {platform.python_version()}" in detail
    other_rayline = f"rayline/0.0.0-other python/{platform.python_version()}"
    for method, path, body in (
        ("PUT", "/pipelines/p", {"definition": {}}),
        ("POST", "/pipelines/p/executions", {}),
    ):
        response = client.request(
            method, path, json=body, headers={"X-Rayline-Client": other_rayline}
        )
        assert response.status_code == 409 and "rayline 0.0.0-other" in response.json()["detail"]
    garbled = client.put(f"/code/{name}", content=data, headers={"X-Rayline-Client": "curl/8"})
    assert garbled.status_code == 400 and "rayline/<version>" in garbled.json()["detail"]
    # No header at all (curl): allowed.
    assert client.put(f"/code/{name}", content=data).status_code == 201


def test_code_uploads_are_checked(api_server, monkeypatch):
    client = api_server.client
    data = b"print('snapshot')\n"
    digest = hashlib.sha256(data).hexdigest()
    wrong = client.put(f"/code/{'0' * 64}.py", content=data)
    assert wrong.status_code == 400 and digest in wrong.json()["detail"]
    assert client.head(f"/code/{'0' * 64}.py").status_code == 404
    assert client.put("/code/../../etc.py", content=data).status_code in (400, 404)
    assert client.put("/code/abc.exe", content=data).status_code == 400
    assert client.head("/code/abc.exe").status_code == 400

    monkeypatch.setenv("RAYLINE_SERVER_MAX_UPLOAD_MB", "0.001")  # 1048 bytes
    big = b"x" * 4096
    too_large = client.put(f"/code/{hashlib.sha256(big).hexdigest()}.tar", content=big)
    assert (
        too_large.status_code == 413
        and "RAYLINE_SERVER_MAX_UPLOAD_MB" in too_large.json()["detail"]
    )

    def chunks():  # no Content-Length: the server counts what it reads
        for _ in range(4):
            yield b"y" * 1024

    streamed = client.put(f"/code/{'1' * 64}.pkl", content=chunks())
    assert streamed.status_code == 413
    assert client.put(f"/code/{digest}.py", content=data).status_code == 201
    assert client.head(f"/code/{digest}.py").status_code == 200
