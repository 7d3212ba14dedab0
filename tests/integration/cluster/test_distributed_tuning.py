"""A distributed tuning trial on the two-node cluster (the folder's one, ``conftest.py``): the
trial's Ray Train run places one worker on each node (``STRICT_SPREAD``), reads its data from S3 and
keeps Train's state on S3 (the nodes share no disk).

The pytest process holds the session's own local Ray, so the cluster is driven from a driver
subprocess that prints JSON. Metadata is on PostgreSQL (SQLite is refused on a cluster), MLflow
on a second PostgreSQL database, the online store on Redis.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from tests.conftest import POSTGRES_URL, REDIS_URL
from tests.integration.conftest import DATA

from rayline.store.locations import list_files, upload

pytestmark = [pytest.mark.ray, pytest.mark.slow, pytest.mark.cluster]

DRIVER = r"""
import json, sys
from rayline import Pipeline
from rayline.ml import IntegerParameter, TuningStep, XGBoostTrainer

args = json.loads(sys.argv[1])
trainer = XGBoostTrainer(label="PRICE", num_boost_round=10, num_workers=2, distributed=True,
                         placement_strategy="STRICT_SPREAD")
step = TuningStep("Tune", trainer=trainer,
                  hyperparameter_ranges={"max_depth": IntegerParameter(2, 6)},
                  objective_metric="validation:rmse", strategy="Random", max_jobs=1,
                  max_parallel_jobs=1,
                  inputs={"train": args["train"], "validation": args["validation"]})
execution = Pipeline("distributed-tuning", steps=[step]).start()
record = execution.wait(raise_on_failure=False)
run = execution.step("Tune")
print(json.dumps({"status": record.status.value, "failure": record.failure_reason,
                  "properties": run.properties, "logs": (run.logs or "")[-3000:]}))
"""


@pytest.fixture(scope="module")
def cluster(two_nodes):
    return two_nodes.cluster


@pytest.fixture(scope="module")
def splits(tmp_path_factory) -> dict[str, Path]:
    """Housing rows as Parquet, 800 to train on and 200 to validate with."""
    import pandas as pd

    df = pd.read_csv(DATA).sample(n=1000, random_state=0)
    out = {}
    for split, rows in (("train", df.iloc[:800]), ("validation", df.iloc[800:])):
        out[split] = tmp_path_factory.mktemp(split)
        rows.to_parquet(out[split] / "part-00000.parquet", index=False)
    return out


@pytest.fixture
def mlflow_db():
    name = f"rayline_test_mlflow_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(
        POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield f"{POSTGRES_URL.rsplit('/', 1)[0]}/{name}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_a_distributed_trial_spans_both_nodes(
    cluster, splits, local_s3, s3_bucket, postgres_url, mlflow_db
):
    data = {}
    for split in ("train", "validation"):
        data[split] = f"{s3_bucket}/data/{split}"
        upload(splits[split], data[split])
    home = cluster.root / f"home-tuning-{uuid.uuid4().hex[:8]}"  # the worker cannot see it
    home.mkdir()
    env = {
        **os.environ,
        **local_s3.environment(),
        **cluster.environment(),
        "RAYLINE_HOME": str(home),
        "RAYLINE_DB_URL": postgres_url,
        "MLFLOW_TRACKING_URI": mlflow_db,
        "RAYLINE_ONLINE_STORE_URI": f"{REDIS_URL}?prefix=test-{uuid.uuid4().hex[:8]}:",
        "RAYLINE_ARTIFACT_URI": f"{s3_bucket}/rayline",
    }
    done = subprocess.run(
        [sys.executable, "-c", DRIVER, json.dumps(data)],
        env=env,
        cwd=cluster.root,
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["status"] == "Succeeded", (out["failure"], out["logs"])
    props = out["properties"]
    assert props["Distributed"] is True and props["NumWorkers"] == 2
    assert props["DistributedReason"] == "distributed=True: Ray Train with 2 workers"
    assert "trial path: distributed=True" in out["logs"]
    (trial,) = props["Trials"]
    assert trial["status"] == "Completed"
    nodes = cluster.node_ids()
    assert sorted(trial["worker_nodes"].split(",")) == sorted(nodes.values())
    assert props["BestTrainingJob"]["ModelUri"].startswith(f"{s3_bucket}/rayline/")
    # The trial's Ray Train run kept its state (the model checkpoint) on S3, in its own folder.
    stored = [f.path for f in list_files(f"{s3_bucket}/rayline")]
    assert any(f"/ray-train/{trial['trial']}/" in p and "checkpoint" in p for p in stored), stored
