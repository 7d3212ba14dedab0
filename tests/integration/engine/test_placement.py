"""Placement on a real Ray: where each step ran is recorded, a step's ``resources=`` place
its task (and ask for the custom resources), and a driver that connects to a multi-node cluster
refuses node-local settings.

The multi-node checks run a driver in a subprocess with two raylets of ``ray.cluster_utils``
on this machine (they share its disk, so a ``file://`` store passes the probe); the test
process keeps its own session Ray.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from tests.conftest import postgres_database

from rayline import CacheConfig, Pipeline, step
from rayline.definition import ConditionEquals
from rayline.definition.steps import ConditionStep, FailStep

pytestmark = pytest.mark.ray


def test_each_step_records_the_node_it_ran_on(ray_session, rayline_home):
    @step(cache_config=CacheConfig(enable_caching=True, expire_after="PT1H"))
    def here():
        import ray

        return ray.get_runtime_context().get_node_id()

    ran = here()
    check = ConditionStep(
        "Check",
        conditions=[ConditionEquals(1, 1)],
        if_steps=[],
        else_steps=[FailStep("Never")],
        depends_on=[ran],
    )
    pipeline = Pipeline("where", steps=[ran, check])
    first = pipeline.start()
    assert first.wait().status == "Succeeded"
    runs = {r.step_name: r for r in first.list_steps()}
    node = ray_session.get_runtime_context().get_node_id()
    assert runs["here"].node == first.result("here") == node
    assert runs["Check"].node == node  # the scheduler decided it, on the driver's node
    again = pipeline.start()
    assert again.wait().status == "Succeeded"
    cached = again.step("here")
    assert cached.cached_from == first.id and cached.node is None  # it ran nowhere this time


DRIVER = r"""
import json, os, sys, tempfile
from ray.cluster_utils import Cluster

cluster = Cluster(
    initialize_head=True,
    head_node_args={"num_cpus": 1, "resources": {"head": 1}, "include_dashboard": False},
)
cluster.add_node(num_cpus=2, resources={"worker": 1})
cluster.wait_for_nodes()
os.environ["RAY_ADDRESS"] = cluster.address
out = {}
try:
    from rayline.errors import ConfigError
    from rayline.ray_connection import ensure_ray
    import ray

    good = {k: os.environ[k] for k in ("RAYLINE_DB_URL", "MLFLOW_TRACKING_URI")}
    os.environ["RAYLINE_DB_URL"] = "sqlite:///" + os.environ["RAYLINE_HOME"] + "/rayline.db"
    os.environ["MLFLOW_TRACKING_URI"] = "sqlite:///" + os.environ["RAYLINE_HOME"] + "/mlflow.db"
    refusals = []
    for _ in range(2):  # the second time from the cached verdict
        try:
            ensure_ray()
        except ConfigError as exc:
            refusals.append(str(exc))
    out["refusals"] = refusals
    out["connected_after_refusal"] = ray.is_initialized()
    os.environ.update(good)
    ensure_ray()  # PostgreSQL, Redis and a file:// store both raylets see: accepted
    # The probe wrote its token under the (not yet existing) store, and removed what it made.
    out["probe_left"] = os.path.exists(os.environ["RAYLINE_ARTIFACT_URI"][len("file://"):])
    out["nodes"] = sorted(n["NodeID"] for n in ray.nodes() if n["Alive"])
    out["worker_node"] = next(
        n["NodeID"] for n in ray.nodes() if n["Alive"] and "worker" in n["Resources"]
    )

    from rayline import Pipeline, step

    @step(resources={"worker": 0.1}, num_cpus=0.5)
    def placed():
        from rayline.ray_connection import task_placement

        # What Tune trials and Ray Train workers started here are given (the step's placement).
        return {"assigned": ray.get_runtime_context().get_assigned_resources(),
                "nested": task_placement()}

    execution = Pipeline("placed", steps=[placed()]).start()
    out["status"] = execution.wait().status
    out.update(execution.result("placed"))
    out["ran_on"] = execution.step("placed").node
finally:
    import ray
    ray.shutdown()
    cluster.shutdown()
print(json.dumps(out))
"""


@pytest.fixture
def mlflow_url():
    # A database that exists: against a missing one MLflow retries for minutes, and the driver's
    # exit waits for its tracking worker.
    with postgres_database() as url:
        yield url


@pytest.mark.slow
def test_a_multi_node_cluster_refuses_node_local_settings_and_places_steps(
    rayline_home, postgres_url, mlflow_url, tmp_path
):
    env = {
        **os.environ,
        "RAYLINE_DB_URL": postgres_url,
        "MLFLOW_TRACKING_URI": mlflow_url,
        "RAYLINE_ONLINE_STORE_URI": "redis://127.0.0.1:6379/0",
        "RAYLINE_ARTIFACT_URI": (tmp_path / "artifacts").as_uri(),
    }
    env.pop("RAY_ADDRESS", None)
    done = subprocess.run(
        [sys.executable, "-c", DRIVER],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    first, cached = out["refusals"]
    assert first == cached
    assert "2 nodes" in first
    assert "RAYLINE_DB_URL" in first and "PostgreSQL" in first
    assert "MLFLOW_TRACKING_URI" in first and "database of its own" in first
    assert "RAYLINE_ONLINE_STORE_URI" not in first and "RAYLINE_ARTIFACT_URI" not in first
    assert out["connected_after_refusal"] is False
    assert out["probe_left"] is False
    assert len(out["nodes"]) == 2
    assert out["status"] == "Succeeded"
    assert out["ran_on"] == out["worker_node"]
    assert out["assigned"]["worker"] == pytest.approx(0.1)
    assert out["assigned"]["CPU"] == pytest.approx(0.5)
    assert out["nested"] == {"worker": pytest.approx(0.1)}
