"""The server owns the executions it drives: a lease taken by compare-and-set, renewed by
heartbeat, and a fencing token on every write.

- ``kill -9`` the server in the middle of a step and start it again: the execution completes,
  the steps that succeeded do not run again, the interrupted one runs again as attempt 2.
- Two servers on one PostgreSQL: each drives the executions started through it, and when one is
  paused by SIGSTOP past its lease the other takes the execution over; the paused one, resumed,
  cannot write any more (its fencing token is stale) and stops quietly.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from rayline import Pipeline, step

pytestmark = [pytest.mark.ray, pytest.mark.server]

#: Ten heartbeats (one every 2 s): two servers and Ray on a loaded 2-core machine never stall
#: that long, so no live execution is taken over by mistake; a server paused past it is.
LEASE_S = 20
LEASE = {"RAYLINE_LEASE_S": str(LEASE_S)}
#: How long B may need to notice a lapsed lease: the lease, then one pass every half lease.
TAKEOVER_S = LEASE_S * 1.5


def _pipeline(marks: Path) -> Pipeline:
    """first → second → third; each appends a line to its file under ``marks`` when it runs.
    The first run of ``second`` blocks until ``marks/release`` exists; a later run returns."""

    @step(name="first")
    def first():
        with open(marks / "first", "a") as f:
            f.write("ran\n")
        return 1

    @step(name="second")
    def second(n):
        with open(marks / "second", "a") as f:
            f.write("ran\n")
        if len((marks / "second").read_text().splitlines()) == 1:
            while not (marks / "release").exists():
                time.sleep(0.1)
        return n + 1

    @step(name="third")
    def third(n):
        with open(marks / "third", "a") as f:
            f.write("ran\n")
        return n + 1

    return Pipeline("owned", steps=[third(second(first()))])


def _runs(marks: Path, name: str) -> int:
    path = marks / name
    return len(path.read_text().splitlines()) if path.exists() else 0


def _wait(predicate, *, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def _start(url: str) -> str:
    response = httpx.post(f"{url}/api/v1/pipelines/owned/executions", json={}, timeout=60)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def _describe(url: str, execution_id: str) -> dict:
    response = httpx.get(f"{url}/api/v1/executions/{execution_id}", timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def _succeeded(url: str, execution_id: str, *, timeout: float = 120) -> dict:
    def ended():
        record = _describe(url, execution_id)
        return record if record["status"] in ("Succeeded", "Failed", "Stopped") else None

    record = _wait(ended, timeout=timeout, what=f"execution {execution_id} to end")
    assert record["status"] == "Succeeded", record
    return record


def _steps(url: str, execution_id: str) -> dict[str, dict]:
    response = httpx.get(f"{url}/api/v1/executions/{execution_id}/steps", timeout=30)
    return {s["step_name"]: s for s in response.json()}


def _events(url: str, execution_id: str) -> list[dict]:
    response = httpx.get(f"{url}/api/v1/executions/{execution_id}/events", timeout=30)
    body = response.json()
    return body["items"] if isinstance(body, dict) else body


def test_a_killed_server_resumes_the_interrupted_step_on_restart(start_server_process, tmp_path):
    marks = tmp_path / "marks"
    marks.mkdir()
    _pipeline(marks).upsert()
    server = start_server_process(env=LEASE)
    execution_id = _start(server.url)
    _wait(lambda: _runs(marks, "second") == 1, timeout=90, what="step second to start")
    killed = _describe(server.url, execution_id)
    assert killed["fencing_token"] == 1 and killed["status"] == "Executing"

    server.kill()  # kill -9 in the middle of step second
    (marks / "release").touch()  # (only the first run waits for it; that run is gone)
    restarted = start_server_process(env=LEASE)
    record = _succeeded(restarted.url, execution_id)

    # Taken over by the restarted server: a second claim, no succeeded step ran again, the
    # interrupted step ran again as its attempt 2.
    assert record["fencing_token"] == 2
    assert record["driver"] != killed["driver"]
    assert (_runs(marks, "first"), _runs(marks, "second"), _runs(marks, "third")) == (1, 2, 1)
    steps = _steps(restarted.url, execution_id)
    assert {n: s["attempts"] for n, s in steps.items()} == {"first": 1, "second": 2, "third": 1}
    assert steps["third"]["properties"]["Return"] == 3
    details = [e.get("detail") or "" for e in _events(restarted.url, execution_id)]
    assert any("attempt 2: the driver of attempt 1 was lost; resumed" in d for d in details)


def test_two_servers_on_postgresql_never_drive_one_execution_at_once(
    start_server_process, tmp_path, postgres_url, monkeypatch
):
    monkeypatch.setenv("RAYLINE_DB_URL", postgres_url)
    marks = tmp_path / "marks"
    marks.mkdir()
    _pipeline(marks).upsert()
    env = {**LEASE, "RAYLINE_DB_URL": postgres_url}
    a = start_server_process(env=env)
    b = start_server_process(env=env)

    # Each server drives what was started through it; neither takes a live execution over.
    (marks / "release").touch()
    started = [(a, _start(a.url)), (b, _start(b.url)), (a, _start(a.url)), (b, _start(b.url))]
    for server, execution_id in started:
        record = _succeeded(server.url, execution_id)
        assert record["fencing_token"] == 1, record
    (marks / "release").unlink()
    for name in ("first", "second", "third"):
        (marks / name).unlink()

    # A is paused past its lease in the middle of step second: B takes the execution over.
    execution_id = _start(a.url)
    _wait(lambda: _runs(marks, "second") == 1, timeout=90, what="step second to start")
    a_driver = _describe(a.url, execution_id)["driver"]
    a.pause()
    try:
        record = _succeeded(b.url, execution_id, timeout=TAKEOVER_S + 90)
        assert record["fencing_token"] == 2 and record["driver"] != a_driver
        events_before = _events(b.url, execution_id)

        # A's task of attempt 1 now returns, and A runs again: its writes are refused.
        (marks / "release").touch()
    finally:
        a.resume()
    _wait(
        lambda: "no longer owns execution" in a.log.read_text(),
        timeout=60,
        what="the paused server to notice it lost the lease",
    )
    time.sleep(1.0)
    after = _describe(b.url, execution_id)
    assert after["status"] == "Succeeded" and after["fencing_token"] == 2
    assert _events(b.url, execution_id) == events_before  # nothing written by A
    steps = _steps(b.url, execution_id)
    assert steps["second"]["attempts"] == 2 and steps["second"]["status"] == "Succeeded"
    assert (_runs(marks, "first"), _runs(marks, "third")) == (1, 1)
    ended = [e for e in events_before if e["kind"] == "ExecutionEnded"]
    assert len(ended) == 1
    # A goes on serving.
    assert httpx.get(f"{a.url}/api/v1/health", timeout=10).status_code == 200
