"""The reference pipeline cold, on embedded defaults against a cluster whose nodes share no disk.

Both runs happen here, one after the other, each in a driver process of its own:

- embedded: a process-local Ray, SQLite metadata and online store, ``file://`` artifacts and a
  SQLite MLflow store in a fresh ``RAYLINE_HOME``;
- cluster: the stack of ``make demo-cluster`` (``examples/housing/demo_cluster.py``), a head and
  a worker node that cannot see each other's files, PostgreSQL metadata, MLflow on PostgreSQL,
  the Redis online store and S3 artifacts (a local S3 server), with preprocessing, tuning and
  evaluation placed on the worker node.

Each figure is one cold run of the whole pipeline (ingestion, preprocessing, tuning with
``--max-jobs`` trials, evaluation, the gate, registration), from ``start()`` to its end, after the
driver has connected to Ray. Starting the cluster and the servers is not counted.

    .venv/bin/python benchmarks/cluster.py [--max-jobs 4]

Last line: {"embedded_pipeline_s": …, "cluster_pipeline_s": …, "cluster_vs_embedded": …}
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HOUSING = Path(__file__).resolve().parents[1] / "examples" / "housing"

DRIVER = """
import json, sys, time
sys.path.insert(0, {housing!r})
from pipeline import get_pipeline
from rayline import delete_pipeline
from rayline.featurestore import FeatureGroup
from rayline.ray_connection import ensure_ray
from rayline.registry import ModelRegistry

ensure_ray()
pipeline = get_pipeline(max_jobs={max_jobs}, data={data!r}, placement={placement!r})
pipeline.upsert()
started = time.perf_counter()
record = pipeline.start().wait()
elapsed = time.perf_counter() - started
assert record.status == "Succeeded", record.failure_reason
ModelRegistry().delete_group("synthetic-housing-models", force=True)
delete_pipeline(pipeline.name)
FeatureGroup(record.parameters["FeatureGroupName"]).delete()
print(json.dumps({{"pipeline_s": elapsed}}))
"""


def run_driver(*, env: dict[str, str], cwd: Path, data: str, placement, max_jobs: int) -> float:
    code = DRIVER.format(housing=str(HOUSING), max_jobs=max_jobs, data=data, placement=placement)
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={**_clean_environment(), **env},
        cwd=cwd,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise SystemExit(f"the driver failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])["pipeline_s"]


def _clean_environment() -> dict[str, str]:
    """This process's environment without any rayline, Ray-address or MLflow setting."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("RAYLINE_", "MLFLOW_")) and k != "RAY_ADDRESS"
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-jobs", type=int, default=4, help="tuning trials")
    args = parser.parse_args()
    sys.path.insert(0, str(HOUSING))
    from demo_cluster import DATA, cluster_stack

    with tempfile.TemporaryDirectory(prefix="rayline-bench-") as home:
        embedded = run_driver(
            env={"RAYLINE_HOME": home},
            cwd=Path(home),
            data=str(DATA),
            placement=None,
            max_jobs=args.max_jobs,
        )
    print(f"embedded: {embedded:.1f} s", file=sys.stderr)
    with cluster_stack() as stack:
        cluster = run_driver(
            env=stack.env,
            cwd=stack.root,
            data=stack.data_uri,
            placement={"worker": 0.1},
            max_jobs=args.max_jobs,
        )
    print(f"cluster: {cluster:.1f} s", file=sys.stderr)
    print(
        json.dumps(
            {
                "embedded_pipeline_s": round(embedded, 2),
                "cluster_pipeline_s": round(cluster, 2),
                "cluster_vs_embedded": round(cluster / embedded, 2),
                "max_jobs": args.max_jobs,
            }
        )
    )


if __name__ == "__main__":
    main()
