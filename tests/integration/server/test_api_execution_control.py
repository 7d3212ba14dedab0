"""Stopping and retrying a running execution for real, through the REST API and the remote
client, with the live streams a client follows meanwhile: the event stream (resumed with
``Last-Event-ID``: only later events; it ends when the execution ends) and a step's log with
``follow=true`` (what it printed, then what it prints, until it ends). The execution's first
step waits for a file, so nothing depends on timing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from tests.conftest import wait_for
from tests.integration.gated import THROUGH, WAITING, gated_pipeline

pytestmark = [pytest.mark.ray, pytest.mark.server]


def _events(response: httpx.Response) -> Iterator[tuple[int | None, str, Any]]:
    """(id, event, data) of each Server-Sent Event of ``response``, as they arrive."""
    fields: dict[str, str] = {}
    for line in response.iter_lines():
        if line.startswith(":"):  # a keep-alive comment
            continue
        if line:
            key, _, value = line.partition(":")
            fields[key] = value.removeprefix(" ")
            continue
        if "event" in fields:
            event_id = int(fields["id"]) if "id" in fields else None
            yield event_id, fields["event"], json.loads(fields.get("data", "null"))
        fields = {}


def _read_until(chunks: Iterator[str], text: str) -> str:
    seen = ""
    for chunk in chunks:
        seen += chunk
        if text in seen:
            return seen
    raise AssertionError(f"the stream ended before {text!r}; it sent {seen!r}")


def _step_status(client: httpx.Client, execution_id: str, step: str) -> str | None:
    response = client.get(f"/executions/{execution_id}/steps/{step}")
    return response.json()["status"] if response.status_code == 200 else None


def test_stop_and_retry_over_rest_with_the_event_stream_and_followed_logs(api_server, tmp_path):
    gate = tmp_path / "gate"
    gated_pipeline("gated", gate).upsert()
    client = api_server.client
    started = client.post("/pipelines/gated/executions")
    assert started.status_code == 201, started.text
    eid = started.json()["id"]

    first: list[tuple[int | None, str, Any]] = []
    with client.stream("GET", f"/executions/{eid}/events/stream") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        events = _events(stream)
        for event in events:
            first.append(event)
            _, kind, data = event
            if (kind, data["step_name"], data["status"]) == (
                "StepStatusChanged",
                "wait",
                "Executing",
            ):
                break
        # The step runs: its followed log shows what it printed, and stays open.
        logs_url = f"/executions/{eid}/steps/wait/logs"
        with client.stream("GET", logs_url, params={"follow": "true"}) as logs:
            chunks = logs.iter_text()
            assert WAITING in _read_until(chunks, WAITING)
            stopped = client.post(f"/executions/{eid}/stop")
            assert stopped.status_code == 200, stopped.text
            assert stopped.json()["status"] in ("Stopping", "Stopped")
            rest = "".join(chunks)  # the stream ends once the stopped step has ended
        assert THROUGH not in rest
        first.extend(events)  # ... and the event stream once the execution has ended
    end_id, end, record = first[-1]
    assert (end_id, end, record["status"]) == (None, "end", "Stopped")
    ids = [event_id for event_id, _, _ in first[:-1]]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert first[-2][1] == "ExecutionEnded"
    # A stop of a stopped execution: refused.
    assert client.post(f"/executions/{eid}/stop").status_code == 409

    # Resumed from an event in the middle: only the later ones, then the end at once.
    middle = ids[len(ids) // 2]
    headers = {"Last-Event-ID": str(middle)}
    with client.stream("GET", f"/executions/{eid}/events/stream", headers=headers) as stream:
        resumed = list(_events(stream))
    assert [e[0] for e in resumed[:-1]] == [i for i in ids if i > middle]
    assert resumed[-1][1] == "end"

    # Retried with the gate still shut: the step runs again; its followed log goes on to the
    # end once the gate opens, and the event stream (from the last event seen) ends with the
    # execution, Succeeded.
    retried = client.post(f"/executions/{eid}/retry")
    assert retried.status_code == 200, retried.text
    assert retried.json()["status"] == "Executing"
    wait_for(lambda: _step_status(client, eid, "wait") == "Executing", timeout=120)
    headers = {"Last-Event-ID": str(ids[-1])}
    with client.stream("GET", f"/executions/{eid}/events/stream", headers=headers) as stream:
        events = _events(stream)
        with client.stream("GET", logs_url, params={"follow": "true"}) as logs:
            chunks = logs.iter_text()
            _read_until(chunks, WAITING)
            gate.touch()
            followed = "".join(chunks)
        assert THROUGH in followed
        later = list(events)
    assert all(event_id > ids[-1] for event_id, _, _ in later[:-1])
    assert later[-2][1] == "ExecutionEnded" and later[-1][2]["status"] == "Succeeded"
    steps = client.get(f"/executions/{eid}/steps").json()
    assert {s["step_name"]: s["status"] for s in steps} == {
        "wait": "Succeeded",
        "after": "Succeeded",
    }


def test_stop_and_retry_through_the_remote_client(start_server_process, tmp_path, monkeypatch):
    from rayline.executions import Execution

    server_home = tmp_path / "server-home"
    server = start_server_process(env={"RAYLINE_HOME": str(server_home)})
    client_home = tmp_path / "client-home"
    monkeypatch.setenv("RAYLINE_HOME", str(client_home))
    monkeypatch.setenv("RAYLINE_SERVER_URL", server.url)
    gate = tmp_path / "gate"

    execution = gated_pipeline("gated-remote", gate).start()

    def waiting() -> bool:
        runs = {r.step_name: r.status.value for r in Execution(execution.id).list_steps()}
        return runs.get("wait") == "Executing"

    wait_for(waiting, timeout=120)
    Execution(execution.id).stop()
    assert execution.wait(timeout=120, raise_on_failure=False).status == "Stopped"
    gate.touch()
    Execution(execution.id).retry()
    record = execution.wait(timeout=120)
    assert record.status == "Succeeded"
    assert THROUGH in execution.logs("wait")
    assert not client_home.exists() or list(client_home.iterdir()) == []
