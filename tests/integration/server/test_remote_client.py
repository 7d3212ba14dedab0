"""The remote client: with ``RAYLINE_SERVER_URL`` (and ``RAYLINE_TOKEN``) the Python API and the
CLI drive a server over its REST API.

The server is a process of its own with its own ``RAYLINE_HOME`` and authentication on; the
test process has a different ``RAYLINE_HOME``, so anything that went embedded by accident would
find nothing (and the client's home must stay empty).
"""

from __future__ import annotations

import json
import os
import platform
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from rayline import ParameterInteger, Pipeline, step
from rayline._version import __version__ as rayline_version
from rayline.errors import (
    AuthenticationError,
    BackendError,
    ConflictError,
    NotFoundError,
    ParameterError,
)
from rayline.executions import Execution, list_executions
from rayline.pipelines import list_pipelines
from rayline.remote.client import Client
from rayline.remote.pipelines import RemotePipelines

pytestmark = [pytest.mark.ray, pytest.mark.server]


@dataclass
class Remote:
    url: str
    token: str
    server_home: Path
    client_home: Path

    def cli(self, *args: str, token: str | None = None) -> subprocess.CompletedProcess:
        """``rayline ARGS`` in a subprocess with this client's environment."""
        env = {
            **os.environ,
            "RAYLINE_HOME": str(self.client_home),
            "RAYLINE_SERVER_URL": self.url,
            "RAYLINE_TOKEN": self.token if token is None else token,
        }
        return subprocess.run(
            [sys.executable, "-m", "rayline.cli.main", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )


@pytest.fixture
def remote(start_server_process, tmp_path, monkeypatch) -> Remote:
    """A server (auth on, its own home, one approver token and a registered model version)
    and this process set up as its client."""
    from rayline.auth import Role, create_token
    from rayline.registry import ModelRegistry

    server_home = tmp_path / "server-home"
    monkeypatch.setenv("RAYLINE_HOME", str(server_home))
    _, secret = create_token(name="remote-ci", role=Role.APPROVER)
    model = tmp_path / "model.json"
    model.write_text("{}")
    ModelRegistry().register("remote-models", model=str(model), input_columns=["x"])
    server = start_server_process(
        env={"RAYLINE_HOME": str(server_home), "RAYLINE_SERVER_AUTH": "on"}
    )
    client_home = tmp_path / "client-home"
    monkeypatch.setenv("RAYLINE_HOME", str(client_home))
    monkeypatch.setenv("RAYLINE_SERVER_URL", server.url)
    monkeypatch.setenv("RAYLINE_TOKEN", secret)
    return Remote(server.url, secret, server_home, client_home)


def _pipeline(offset: int) -> Pipeline:
    count = ParameterInteger("Count", default_value=2)

    @step(name="square")
    def square(n):
        print(f"squaring {n}")
        return n * n

    @step(name="shift")
    def shift(n):
        print(f"shifting {n} by {offset}")
        return n + offset

    return Pipeline("remote-pipe", parameters=[count], steps=[shift(square(count))])


def test_python_api_and_cli_drive_the_server(remote: Remote, monkeypatch):
    pipeline = _pipeline(10)
    # upsert() uploads the pickled functions and the server stores the version.
    assert pipeline.upsert() == 1
    assert pipeline.upsert() == 1  # unchanged: the same version, nothing uploaded again
    assert Pipeline.load("remote-pipe").describe().latest_version == 1
    assert [p.name for p in list_pipelines()] == ["remote-pipe"]
    snapshots = sorted(p.name for p in (remote.server_home / "artifacts" / "code").iterdir())
    assert snapshots == sorted(f"{s.code_ref().sha256}.pkl" for s in pipeline.graph.steps.values())

    # start() stores a changed definition as version 2 and the server runs it.
    execution = _pipeline(100).start(parameters={"Count": 3})
    record = execution.wait(timeout=120)
    assert record.status == "Succeeded" and record.pipeline_version == 2
    assert record.parameters == {"Count": 3}
    assert [(r.step_name, r.status.value) for r in execution.list_steps()] == [
        ("square", "Succeeded"),
        ("shift", "Succeeded"),
    ]
    assert execution.result("shift") == 109
    assert "shifting 9 by 100" in execution.logs("shift")
    assert "ExecutionEnded" in [e.kind for e in execution.events()]
    assert [r.id for r in list_executions("remote-pipe")] == [execution.id]
    with pytest.raises(ParameterError, match="Count"):
        pipeline.start(parameters={"Count": "many"})
    with pytest.raises(NotFoundError, match="nope"):
        Execution("nope")

    # The CLI: start the stored version, then describe, list and read the logs.
    started = remote.cli("pipeline", "start", "remote-pipe", "-p", "Count=4", "--json")
    assert started.returncode == 0, started.stderr
    second = json.loads(started.stdout)["execution_id"]
    assert Execution(second).wait(timeout=120).status == "Succeeded"
    described = remote.cli("execution", "describe", second, "--json")
    assert described.returncode == 0, described.stderr
    shown = json.loads(described.stdout)
    assert shown["status"] == "Succeeded" and shown["parameters"] == {"Count": 4}
    listed = remote.cli("execution", "list", "--pipeline", "remote-pipe", "--json")
    assert [e["id"] for e in json.loads(listed.stdout)] == [second, execution.id]
    logs = remote.cli("execution", "logs", second, "--step", "shift")
    assert logs.returncode == 0 and "shifting 16 by 100" in logs.stdout, logs.stderr

    # The approval goes to the server's registry, recorded as the token's identity.
    approved = remote.cli("model", "approve", "remote-models/1", "--reason", "good")
    assert approved.returncode == 0, approved.stderr
    assert "Approved" in approved.stdout
    again = remote.cli("model", "approve", "remote-models/1")
    assert again.returncode != 0 and "Traceback" not in again.stderr

    with Client() as client:
        history = client.get("/model-package-groups/remote-models/versions/1/history")
    assert (history[-1]["to_status"], history[-1]["by"]) == ("Approved", "remote-ci")

    # Refusals are clear errors (one server for all: each costs seconds to start).
    # A wrong token: AuthenticationError from the API, a message (no traceback) from the CLI.
    monkeypatch.setenv("RAYLINE_TOKEN", "rl_wrong")
    with pytest.raises(AuthenticationError, match="RAYLINE_TOKEN"):
        list_executions()
    refused = remote.cli("execution", "list", token="rl_wrong")
    assert refused.returncode != 0
    assert "401" in refused.stderr and "RAYLINE_TOKEN" in refused.stderr
    assert "Traceback" not in refused.stderr
    monkeypatch.setenv("RAYLINE_TOKEN", remote.token)

    # A client of other versions is refused, the message naming both sides' versions.
    forged = Client(rayline_version="0.0.0-forged", python_version="2.7.18")
    with pytest.raises(ConflictError) as mismatch:
        RemotePipelines(forged).upsert(_pipeline(1))
    message = str(mismatch.value)
    for version in ("0.0.0-forged", rayline_version, "2.7.18", platform.python_version()):
        assert version in message
    assert remote.url in message
    forged.close()

    # Nothing went embedded: the client's home was never created.
    assert not remote.client_home.exists()


def test_an_unreachable_server_is_a_backend_error_naming_it(monkeypatch, tmp_path):
    with socket.socket() as s:  # a port nobody listens on once it is closed
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}"
    monkeypatch.setenv("RAYLINE_HOME", str(tmp_path / "client-home"))
    monkeypatch.setenv("RAYLINE_SERVER_URL", url)
    with pytest.raises(BackendError, match=f"cannot reach the rayline server at {url}"):
        Execution("abc")
    with pytest.raises(BackendError, match=url):
        _pipeline(1).upsert()
