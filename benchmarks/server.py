"""The server's latency and throughput, over real HTTP on loopback.

Starts ``rayline server`` as a process of its own (authentication on, with an admin token, as a
team runs it), sharing a temporary RAYLINE_HOME and this process's local Ray, then measures:

- ``describe_p50_ms`` / ``describe_p99_ms``: ``GET /api/v1/executions/{id}``, 500 times, one
  keep-alive client (client-side wall time);
- ``list_1000_ms``: ``GET /api/v1/executions?limit=1000`` with 1,000 executions in the DB, the
  server's own time (its ``Server-Timing`` header), median of 5;
- ``event_latency_ms``: from a step's status change (the time the engine recorded in its event)
  to its arrival on the Server-Sent Events stream, the mean over the events of a three-step run;
- ``concurrent_20_s``: 20 executions of a five-step function pipeline started at once through the
  API, until all ended, against ``concurrent_20_inprocess_s``, the same 20 started with
  ``Pipeline.start()`` in this process in the same run; ``concurrent_20_succeeded`` counts the
  API's that succeeded.

    .venv/bin/python benchmarks/server.py

Last line: {"describe_p50_ms", "describe_p99_ms", "list_1000_ms", "event_latency_ms",
"concurrent_20_s", "concurrent_20_inprocess_s", "concurrent_20_succeeded"}
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid


def main() -> None:
    home = tempfile.mkdtemp(prefix="rayline-bench-server-")
    os.environ["RAYLINE_HOME"] = home
    for var in ("RAYLINE_DB_URL", "RAYLINE_ARTIFACT_URI", "MLFLOW_TRACKING_URI"):
        os.environ.pop(var, None)
    os.environ.pop("RAYLINE_SERVER_URL", None)

    import httpx
    import ray

    from rayline import Pipeline, step
    from rayline.auth.roles import Role
    from rayline.auth.tokens import create_token
    from rayline.engine.repository import open_repository
    from rayline.ray_connection import ensure_ray

    ensure_ray()
    _, token = create_token(name="bench-admin", role=Role.ADMIN)

    @step
    def first(x):
        return x + 1

    @step
    def add(x, y):
        return x + y

    a = first(1)
    b = add(a, 1)
    c = add(a, 2)
    d = add(b, c)
    e = add(d, 1)
    five = Pipeline("bench-five", steps=[e])
    five.upsert()

    @step
    def slow(x):
        import time as t

        t.sleep(0.5)
        return x

    s1 = slow(1)
    s2 = slow(s1)
    s3 = slow(s2)
    three = Pipeline("bench-events", steps=[s3])
    three.upsert()

    port = _free_port()
    env = {
        **os.environ,
        "RAY_ADDRESS": ray.get_runtime_context().gcs_address,
        "RAYLINE_SERVER_AUTH": "on",
    }
    with open(os.path.join(home, "server.log"), "ab") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "rayline.cli.main", "server", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}/api/v1"
    client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=120)
    try:
        _wait_healthy(client, server)
        figures = _measure(client, base, token, five, open_repository())
    finally:
        client.close()
        server.terminate()
        server.wait(60)
    print(json.dumps(figures))


def _measure(client, base: str, token: str, five, repo) -> dict:
    import httpx

    # One finished execution to describe.
    first = client.post("/pipelines/bench-five/executions", json={"parameters": {}}).json()
    _wait_all(client, [first["id"]])
    for _ in range(50):  # warm up the connection and the server's code paths
        client.get(f"/executions/{first['id']}")
    samples = []
    for _ in range(500):
        t = time.perf_counter()
        response = client.get(f"/executions/{first['id']}")
        samples.append((time.perf_counter() - t) * 1000)
        response.raise_for_status()
    samples.sort()
    describe_p50 = statistics.median(samples)
    describe_p99 = samples[int(len(samples) * 0.99) - 1]

    # 1,000 executions in the DB (recorded directly: the list is what is measured), ended at
    # once: an unfinished one without a driver would be resumed by the server's ownership service.
    from rayline.engine.records import ExecutionStatus

    for _ in range(1000 - len(repo.list_executions(limit=2000))):
        execution_id = uuid.uuid4().hex[:16]
        repo.create_execution(execution_id, "bench-five", 1, {}, max_parallel_steps=None)
        repo.set_execution_status(execution_id, ExecutionStatus.SUCCEEDED)
    server_ms = []
    for _ in range(5):
        response = client.get("/executions", params={"limit": 1000})
        response.raise_for_status()
        assert len(response.json()["items"]) == 1000
        server_ms.append(_server_timing(response))
    list_1000 = statistics.median(server_ms)

    # Event latency: a three-step run followed on the event stream.
    started = client.post("/pipelines/bench-events/executions", json={"parameters": {}}).json()
    latencies = []
    with (
        httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=120
        ) as stream_client,
        stream_client.stream("GET", f"/executions/{started['id']}/events/stream") as stream,
    ):
        event: dict[str, str] = {}
        for line in stream.iter_lines():
            if line.startswith("event:"):
                event["event"] = line[6:].strip()
            elif line.startswith("data:"):
                event["data"] = line[5:].strip()
            elif not line and event:
                if event.get("event") == "end":
                    break
                data = json.loads(event["data"])
                if data.get("kind") == "StepStatusChanged":
                    latencies.append((time.time() - data["at"]) * 1000)
                event = {}
    event_latency = statistics.mean(latencies)

    # 20 executions at once: through the API, then in this process.
    t = time.perf_counter()
    ids: list[str] = []
    lock = threading.Lock()

    def start_one() -> None:
        with httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=120
        ) as c:
            execution = c.post("/pipelines/bench-five/executions", json={"parameters": {}})
            execution.raise_for_status()
            with lock:
                ids.append(execution.json()["id"])

    threads = [threading.Thread(target=start_one) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    statuses = _wait_all(client, ids)
    concurrent_s = time.perf_counter() - t
    succeeded = sum(status == "Succeeded" for status in statuses)

    t = time.perf_counter()
    executions = [five.start(version=1) for _ in range(20)]
    for execution in executions:
        execution.wait()
    inprocess_s = time.perf_counter() - t

    print(
        f"describe p50 {describe_p50:.2f} ms, p99 {describe_p99:.2f} ms; list of 1000: "
        f"{list_1000:.1f} ms; event latency {event_latency:.0f} ms over {len(latencies)} events; "
        f"20 at once: API {concurrent_s:.2f} s ({succeeded} succeeded), "
        f"in-process {inprocess_s:.2f} s"
    )
    return {
        "describe_p50_ms": round(describe_p50, 2),
        "describe_p99_ms": round(describe_p99, 2),
        "list_1000_ms": round(list_1000, 1),
        "event_latency_ms": round(event_latency, 1),
        "concurrent_20_s": round(concurrent_s, 2),
        "concurrent_20_inprocess_s": round(inprocess_s, 2),
        "concurrent_20_succeeded": succeeded,
    }


def _wait_all(client, ids: list[str], timeout: float = 600) -> list[str]:
    deadline = time.monotonic() + timeout
    pending = set(ids)
    statuses: dict[str, str] = {}
    while pending and time.monotonic() < deadline:
        for execution_id in list(pending):
            status = client.get(f"/executions/{execution_id}").json()["status"]
            if status in ("Succeeded", "Failed", "Stopped"):
                statuses[execution_id] = status
                pending.discard(execution_id)
        time.sleep(0.05)
    return [statuses.get(i, "Unfinished") for i in ids]


def _server_timing(response) -> float:
    # Server-Timing: app;dur=12.3
    header = response.headers.get("server-timing", "")
    for part in header.split(","):
        name, _, rest = part.strip().partition(";")
        if name == "app" and rest.startswith("dur="):
            return float(rest[4:])
    raise RuntimeError(f"the response has no Server-Timing app duration: {header!r}")


def _wait_healthy(client, server, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with {server.returncode}")
        try:
            if client.get("/health").status_code == 200:
                return
        except Exception:
            pass
        time.sleep(0.1)
    raise TimeoutError("the server did not start")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


if __name__ == "__main__":
    main()
