"""The reference workflow on a cluster whose nodes share no disk (``make demo-cluster``).

It sets up what a team runs in production, on this machine:

- a Ray cluster of two nodes, a head and a worker that cannot see the head's files
  (``rayline.local_cluster``: the worker runs in its own mount namespace; needs root);
- an S3-compatible server on loopback holding every artifact (``rayline.store.local_s3``);
- the machine's PostgreSQL for rayline's metadata and, in a database of its own, MLflow's
  tracking store; the machine's Redis as the online feature store;

then runs ``demo.py`` against it as a driver on the head would, with preprocessing, tuning,
evaluation and the endpoint's replica placed on the worker node (``--place-on worker``), and
tears everything down: both nodes, the S3 server, the two databases, the Redis keys.

    .venv/bin/python examples/housing/demo_cluster.py [--postgres URL] [--redis URL]

Pointing rayline at a real cluster needs no harness: see the README's "On a Ray cluster".
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "data" / "house_pricing.csv"
POSTGRES = os.environ.get("RAYLINE_DEMO_POSTGRES", "postgresql://postgres@127.0.0.1:5432")
REDIS = os.environ.get("RAYLINE_DEMO_REDIS", "redis://127.0.0.1:6379/0")
BUCKET = "rayline-demo-cluster"


@dataclass(frozen=True)
class Stack:
    """The running cluster stack: the driver's environment and where things are."""

    env: dict[str, str]
    root: Path  # the head's disk, which the worker node cannot see
    home: Path  # RAYLINE_HOME, under root
    data_uri: str
    cluster: object  # rayline.local_cluster.LocalCluster


@contextlib.contextmanager
def cluster_stack(
    *,
    postgres: str = POSTGRES,
    redis: str = REDIS,
    serve_port: int | None = None,
    cluster=None,
) -> Iterator[Stack]:
    """Start the two-node cluster, the S3 server and fresh databases; remove them on exit.
    Given a running ``cluster`` (a ``LocalCluster`` prepared for ``serve_port``), use it and
    leave it running."""
    from rayline.local_cluster import LocalCluster
    from rayline.store.local_s3 import start_local_s3

    name = f"rayline_cluster_{uuid.uuid4().hex[:8]}"
    with contextlib.ExitStack() as stack:
        s3 = start_local_s3()
        stack.callback(s3.stop)
        s3.create_bucket(BUCKET)
        data_uri = f"s3://{BUCKET}/data/{DATA.name}"
        _upload(s3, DATA, data_uri)
        rayline_db = _create_database(postgres, name)
        stack.callback(_drop_database, postgres, name)
        mlflow_db = _create_database(postgres, f"{name}_mlflow")
        stack.callback(_drop_database, postgres, f"{name}_mlflow")
        stack.callback(_flush_redis, redis, prefix=f"{name}:")
        if cluster is None:
            cluster = LocalCluster.start(serve_port=serve_port)
            stack.callback(cluster.stop)
        home = cluster.root / f"home-{name}"  # the head's disk: the worker node cannot see it
        home.mkdir()
        env = {
            **s3.environment(),
            **cluster.environment(),
            "RAYLINE_HOME": str(home),
            "RAYLINE_DB_URL": rayline_db,
            "MLFLOW_TRACKING_URI": mlflow_db,  # postgresql://: psycopg 3
            "RAYLINE_ONLINE_STORE_URI": f"{redis}?prefix={name}:",
            "RAYLINE_ARTIFACT_URI": f"s3://{BUCKET}/rayline",
        }
        if serve_port:
            env["RAYLINE_SERVE_PORT"] = str(serve_port)
        yield Stack(env=env, root=cluster.root, home=home, data_uri=data_uri, cluster=cluster)


def run_demo(stack: Stack, *args: str, capture: bool = False) -> subprocess.CompletedProcess:
    """``demo.py`` as a driver on the head, with the steps placed on the worker node."""
    return subprocess.run(
        [
            sys.executable,
            str(HERE / "demo.py"),
            "--data",
            stack.data_uri,
            "--place-on",
            "worker",
            # 10k rows would be ingested in the step's own process; on the cluster the demo
            # shows the reference layout, four actors spread over both nodes.
            "--ingest-actors",
            "4",
            *args,
        ],
        env={**os.environ, **stack.env},
        cwd=stack.root,
        capture_output=capture,
        text=True,
    )


def _upload(s3, path: Path, uri: str) -> None:
    import boto3

    bucket, key = uri.removeprefix("s3://").split("/", 1)
    env = s3.environment()
    boto3.client(
        "s3",
        endpoint_url=s3.endpoint_url,
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name=env["AWS_REGION"],
    ).upload_file(str(path), bucket, key)


def _admin(postgres: str):
    import sqlalchemy as sa

    url = postgres.replace("postgresql://", "postgresql+psycopg://", 1).rstrip("/") + "/postgres"
    return sa.create_engine(url, isolation_level="AUTOCOMMIT")


def _create_database(postgres: str, name: str) -> str:
    import sqlalchemy as sa

    engine = _admin(postgres)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:
        raise SystemExit(
            f"PostgreSQL at {postgres} is not reachable ({exc.orig}); start it or pass --postgres"
        ) from None
    finally:
        engine.dispose()
    return f"{postgres.rstrip('/')}/{name}"


def _drop_database(postgres: str, name: str) -> None:
    import sqlalchemy as sa

    engine = _admin(postgres)
    with engine.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def _flush_redis(url: str, *, prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    if keys:
        client.delete(*keys)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres", default=POSTGRES, help="PostgreSQL server URL")
    parser.add_argument("--redis", default=REDIS, help="Redis URL (keys get a unique prefix)")
    parser.add_argument("--max-jobs", type=int, default=8, help="tuning trials")
    args = parser.parse_args()
    print("starting a two-node Ray cluster (worker in its own mount namespace), a local S3")
    print(f"server and fresh databases on {args.postgres}; Redis at {args.redis}")
    with cluster_stack(postgres=args.postgres, redis=args.redis) as stack:
        nodes = stack.cluster.node_ids()
        print(f"cluster at {stack.env['RAY_ADDRESS']}: head {nodes['head'][:12]}, ", end="")
        print(f"worker {nodes['worker'][:12]}; artifacts in {stack.env['RAYLINE_ARTIFACT_URI']}")
        done = run_demo(stack, "--max-jobs", str(args.max_jobs))
        print("tearing down the cluster, the S3 server, the databases and the Redis keys")
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
