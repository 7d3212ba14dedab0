"""The engine's domain through a server: pipelines, executions (steps, logs followed, events
followed, stop, retry with a new parallelism), cache entries and their invalidation, a selective
start, lineage and experiments, from the Python API and the CLI with only ``RAYLINE_SERVER_URL``
and a token.

The server runs in a thread of this very process, with ``RAYLINE_SERVER_URL`` pointing at
itself in ``os.environ``: it must still serve its own state (``rayline.config.embedded()``),
never call itself. Its state lives at explicit locations; ``RAYLINE_HOME`` is the client's, and
stays empty: nothing the client does is written on its machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from tests.conftest import serve_in_thread
from tests.integration.server.conftest import wait_healthy

from rayline import CacheConfig, ParameterInteger, Pipeline, step
from rayline.definition.policies import ParallelismConfiguration
from rayline.definition.selective import SelectiveExecutionConfig
from rayline.errors import UserInputError
from rayline.executions import list_executions
from rayline.pipelines import cache_entries, invalidate_cache, list_pipelines

pytestmark = [pytest.mark.ray, pytest.mark.server]


@dataclass
class Served:
    url: str
    token: str
    server_dir: Path
    client_home: Path
    db_url: str

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        """``rayline ARGS`` in a process that knows only the server's URL and the token."""
        return subprocess.run(
            [sys.executable, "-m", "rayline.cli.main", *args],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=180,
        )

    def env(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("RAYLINE_DB_URL", "RAYLINE_ARTIFACT_URI", "MLFLOW_TRACKING_URI")
        }
        env.update(
            RAYLINE_HOME=str(self.client_home),
            RAYLINE_SERVER_URL=self.url,
            RAYLINE_TOKEN=self.token,
        )
        return env


@pytest.fixture
def served(ray_session, tmp_path, monkeypatch) -> Iterator[Served]:
    """The server in a thread (authentication on, an operator's token), its state under
    ``server/``; this process is its client, its ``RAYLINE_HOME`` ``client-home/``."""
    from rayline.auth import Role, create_token
    from rayline.server.app import create_app

    server_dir = tmp_path / "server"
    server_dir.mkdir()
    db_url = f"sqlite:///{server_dir / 'rayline.db'}"
    client_home = tmp_path / "client-home"
    monkeypatch.setenv("RAYLINE_HOME", str(client_home))
    monkeypatch.setenv("RAYLINE_DB_URL", db_url)
    monkeypatch.setenv("RAYLINE_ARTIFACT_URI", (server_dir / "artifacts").as_uri())
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{server_dir / 'mlflow.db'}")
    monkeypatch.setenv("RAYLINE_SERVER_AUTH", "on")
    monkeypatch.delenv("RAYLINE_SERVER_URL", raising=False)
    _, secret = create_token(name="remote-engine", role=Role.OPERATOR)
    with serve_in_thread(create_app()) as url:
        wait_healthy(url)
        # From here on the server's own process says: go through the server. It must not.
        monkeypatch.setenv("RAYLINE_SERVER_URL", url)
        monkeypatch.setenv("RAYLINE_TOKEN", secret)
        yield Served(url, secret, server_dir, client_home, db_url)


def _pipeline() -> Pipeline:
    sleep_s = ParameterInteger("SleepS", default_value=0)

    @step(name="square", cache_config=CacheConfig(enable_caching=True))
    def square(n):
        return n * n

    @step(name="shift")
    def shift(n, sleep_s):
        import time

        for tick in range(max(sleep_s, 1)):
            print(f"tick {tick} of {n}", flush=True)
            time.sleep(1 if sleep_s else 0)
        return n + 100

    @step(name="opaque")
    def opaque(n):
        return {n, n + 1}  # a set is not JSON: stored as a pickle in the server's store

    value = square(3)
    return Pipeline(
        "remote-engine", parameters=[sleep_s], steps=[shift(value, sleep_s), opaque(value)]
    )


def test_the_engine_domain_through_a_server_in_this_process(served: Served):
    # The server answers though RAYLINE_SERVER_URL names it in its own environment.
    answer = httpx.get(
        f"{served.url}/api/v1/pipelines", headers={"Authorization": f"Bearer {served.token}"}
    )
    assert answer.status_code == 200, answer.text

    pipeline = _pipeline()
    assert pipeline.upsert() == 1
    assert [p.name for p in list_pipelines()] == ["remote-engine"]

    first = pipeline.start()
    record = first.wait(timeout=180, tracked=True)
    assert record.status == "Succeeded"
    assert {r.step_name for r in first.list_steps()} == {"square", "shift", "opaque"}
    assert first.result("shift") == 109
    assert "tick 0 of 9" in first.logs("shift")
    with pytest.raises(UserInputError, match="pickle"):
        first.result("opaque")
    followed = list(first.follow_events())
    assert followed and followed[-1].kind == "ExecutionEnded"
    assert [e.id for e in followed] == [e.id for e in first.events()]
    assert [e.id for e in list_executions("remote-engine")] == [first.id]

    # Cache entries, read and dropped through the server (API and CLI).
    entries = cache_entries("remote-engine")
    assert [(e.step_name, e.execution_id) for e in entries] == [("square", first.id)]
    listed = served.cli("cache", "list", "remote-engine", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [e["execution_id"] for e in json.loads(listed.stdout)] == [first.id]

    # A selective start: only shift runs, square taken from the first execution.
    selective = pipeline.start(
        selective_execution_config=SelectiveExecutionConfig(
            selected_steps=["shift"], source_pipeline_execution_id=first.id
        )
    )
    assert selective.wait(timeout=180).status == "Succeeded"
    assert selective.describe().selective["SourcePipelineExecutionId"] == first.id
    assert selective.step("square").cached_from == first.id
    assert selective.result("shift") == 109

    assert [e.step_name for e in invalidate_cache("remote-engine", "square")] == ["square"]
    assert cache_entries("remote-engine") == []

    # A running step's log, followed; stop; retry with a new parallelism; stop again.
    slow = pipeline.start(parameters={"SleepS": 60})
    chunks = slow.follow_logs("shift")
    seen = ""
    for chunk in chunks:
        seen += chunk
        if "tick 1 of 9" in seen:
            break
    chunks.close()
    assert "tick 0 of 9" in seen
    follow = ["execution", "logs", slow.id, "--step", "shift", "--follow"]
    follower = subprocess.Popen(
        [sys.executable, "-m", "rayline.cli.main", *follow],
        env=served.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    first_line = follower.stdout.readline()  # the CLI follows the running step's log
    slow.stop()
    assert slow.wait(timeout=120, raise_on_failure=False).status == "Stopped"
    out, err = follower.communicate(timeout=120)  # and ends with the step
    assert follower.returncode == 0, err
    assert "tick 0 of 9" in first_line + out
    slow.retry(parallelism_config=ParallelismConfiguration(1))
    assert slow.describe().max_parallel_steps == 1
    assert slow.describe().status == "Executing"
    slow.stop()
    assert slow.wait(timeout=120, raise_on_failure=False).status == "Stopped"

    # Lineage, as the server's builder sees it.
    from rayline.lineage import LineageBuilder, lineage

    remote_lineage = lineage(f"execution:{first.id}")
    embedded = LineageBuilder(db_url=served.db_url).lineage(f"execution:{first.id}")
    assert remote_lineage.to_dict() == embedded.to_dict()
    assert {n.label for n in remote_lineage.members} >= {"square", "shift"}
    shown = served.cli("lineage", first.id[:10], "--json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout) == embedded.to_dict()

    # Experiments: the server's MLflow store.
    from rayline.tracking import experiments, runs

    remote_runs = experiments.list_runs(execution_id=first.id)
    assert remote_runs and remote_runs == runs.list_runs(execution_id=first.id)
    assert experiments.list_experiments() == runs.list_experiments()
    one = experiments.describe_run(remote_runs[0].run_id)
    assert one == runs.describe_run(remote_runs[0].run_id)
    assert experiments.tracking_uri() == runs.tracking_uri()
    tree = served.cli("experiments", "--execution", first.id, "--json")
    assert tree.returncode == 0, tree.stderr
    assert {r["run_id"] for r in json.loads(tree.stdout)} == {r.run_id for r in remote_runs}

    # What is the server machine's own maintenance is refused, saying so.
    gc = served.cli("artifacts", "gc", "--dry-run")
    assert gc.returncode != 0 and "server's machine" in gc.stderr
    assert "Traceback" not in gc.stderr

    # The API calls of this process went to the server (whose DB this process could also
    # open): its audit log has each write, by the token's identity.
    from rayline.auth.audit import list_audit

    writes = {
        (a.method, a.path) for a in list_audit(identity="remote-engine", db_url=served.db_url)
    }
    base = "/api/v1/pipelines/remote-engine"
    assert {
        ("PUT", base),
        ("POST", f"{base}/executions"),
        ("DELETE", f"{base}/cache"),
        ("POST", f"/api/v1/executions/{slow.id}/stop"),
        ("POST", f"/api/v1/executions/{slow.id}/retry"),
    } <= writes

    # Nothing was written on the client's side.
    assert not served.client_home.exists() or not any(served.client_home.rglob("*"))
