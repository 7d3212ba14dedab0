"""The reference workflow on a real two-node Ray cluster whose nodes share no disk, with
PostgreSQL metadata, MLflow on PostgreSQL, the Redis online store and S3 artifacts: the stack of
``make demo-cluster`` (``examples/housing/demo_cluster.py``), driven the same way.

The worker node runs in its own mount namespace with a tmpfs over the cluster's root, where the
head keeps its ``RAYLINE_HOME``: a step that ran on the worker cannot have read a file from the
head's disk. The folder's one cluster (``conftest.py``) serves the module.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.ray, pytest.mark.slow, pytest.mark.cluster]

HOUSING = Path(__file__).resolve().parents[3] / "examples" / "housing"
WORKER_STEPS = ("PreprocessData", "HPTuning", "EvaluateModel")


@pytest.fixture(scope="module")
def stack(two_nodes):
    sys.path.insert(0, str(HOUSING))
    try:
        from demo_cluster import cluster_stack
    finally:
        sys.path.remove(str(HOUSING))
    with cluster_stack(cluster=two_nodes.cluster, serve_port=two_nodes.serve_port) as running:
        yield running


def driver(stack, code: str, **env: str) -> subprocess.CompletedProcess:
    """Run ``code`` as a driver on the head (in the head's root, with the stack's settings)."""
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, **stack.env, **env},
        cwd=stack.root,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_worker_node_cannot_see_the_heads_disk(stack):
    marker = stack.home / "on-the-head.txt"
    marker.write_text("head only")
    code = f"""
import json, os, ray
ray.init()
@ray.remote(num_cpus=0, resources={{"worker": 0.01}})
def look(path):
    return {{"node": ray.get_runtime_context().get_node_id(), "sees": os.path.exists(path),
             "root": sorted(os.listdir({str(stack.root)!r}))}}
print(json.dumps(ray.get(look.remote({str(marker)!r}))))
"""
    done = driver(stack, code)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["node"] == stack.cluster.node_ids()["worker"]
    assert seen["sees"] is False
    assert seen["root"] == ["ray"]  # only the worker's own Ray session, in its tmpfs


def test_reference_workflow_on_two_nodes(stack):
    from demo_cluster import run_demo  # imported by the fixture

    done = run_demo(stack, "--max-jobs", "2", capture=True)
    assert done.returncode == 0, (done.stdout[-4000:], done.stderr[-4000:])
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    nodes = stack.cluster.node_ids()
    where = summary["step_nodes"]
    # Placed steps ran on the worker node, which cannot see the head's disk: whatever they read
    # came from S3, PostgreSQL or Redis.
    for step in WORKER_STEPS:
        assert where[step] == nodes["worker"], (step, where)
    assert set(where) >= {"FeatureStoreIngestion", "RegisterTrainedModel", *WORKER_STEPS}
    assert all(where[s] in nodes.values() for s in where)
    # The ingestion's actors spread over both nodes; the endpoint's replica is on the worker.
    assert set(summary["ingestion_nodes"]) == set(nodes.values()), summary["ingestion_nodes"]
    assert summary["endpoint_nodes"] == [nodes["worker"]]
    assert summary["test_rmse"] < 15000
    # Nothing rayline keeps was written to the head's disk.
    home = stack.home
    assert not (home / "artifacts").exists() and not (home / "mlflow-artifacts").exists()
    assert not list(home.glob("*.db")), list(home.glob("*.db"))


REFUSE = """
from rayline.errors import ConfigError
from rayline.ray_connection import ensure_ray
try:
    ensure_ray()
except ConfigError as exc:
    print("refused:", exc)
else:
    print("accepted")
"""


@pytest.mark.parametrize(
    ("setting", "value", "advice"),
    [
        ("RAYLINE_DB_URL", "sqlite:///{home}/rayline.db", "PostgreSQL"),
        ("RAYLINE_ONLINE_STORE_URI", "sqlite:///{home}/online-store.db", "redis://"),
        ("MLFLOW_TRACKING_URI", "sqlite:///{home}/mlflow.db", "PostgreSQL"),
        ("RAYLINE_ARTIFACT_URI", "file://{home}/artifacts", "s3://"),
    ],
)
def test_node_local_settings_are_refused(stack, setting, value, advice):
    home = stack.home
    done = driver(stack, REFUSE, **{setting: value.format(home=home)})
    assert done.returncode == 0, done.stderr[-3000:]
    answer = done.stdout.strip().splitlines()[-1]
    assert answer.startswith("refused:"), answer
    assert setting in answer and advice in answer, answer


def test_a_file_store_every_node_mounts_is_accepted(stack, tmp_path):
    # tmp_path is outside the cluster's root: both nodes see it, as with a shared mount.
    done = driver(stack, REFUSE, RAYLINE_ARTIFACT_URI=tmp_path.as_uri())
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == "accepted"
