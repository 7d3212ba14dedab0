"""Shared fixtures: an isolated RAYLINE_HOME per test, one real local Ray per session, and the
machine's PostgreSQL and Redis."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

POSTGRES_URL = os.environ.get(
    "RAYLINE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("RAYLINE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
def rayline_home(tmp_path, monkeypatch):
    """A fresh RAYLINE_HOME (SQLite DB, local artifacts, MLflow store) for one test."""
    home = tmp_path / "rayline-home"
    monkeypatch.setenv("RAYLINE_HOME", str(home))
    for var in ("RAYLINE_DB_URL", "RAYLINE_ARTIFACT_URI", "MLFLOW_TRACKING_URI"):
        monkeypatch.delenv(var, raising=False)
    return home


@pytest.fixture(scope="session")
def local_s3():
    """One local S3-compatible server (moto's, over HTTP on loopback) for the test session."""
    from rayline.store.local_s3 import start_local_s3

    server = start_local_s3()
    yield server
    server.stop()


@pytest.fixture
def s3_bucket(local_s3, monkeypatch):
    """A fresh bucket on the local S3 server, with the AWS variables pointing at it; returns
    ``s3://BUCKET``."""
    for key, value in local_s3.environment().items():
        monkeypatch.setenv(key, value)
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(key, raising=False)
    bucket = f"rayline-test-{uuid.uuid4().hex[:12]}"
    local_s3.create_bucket(bucket)
    return f"s3://{bucket}"


@pytest.fixture
def s3_artifacts(rayline_home, s3_bucket, monkeypatch):
    """A RAYLINE_HOME whose artifact store is ``s3://BUCKET/artifacts`` on the local server."""
    uri = f"{s3_bucket}/artifacts"
    monkeypatch.setenv("RAYLINE_ARTIFACT_URI", uri)
    return uri


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve_in_thread(app: Any, *, name: str = "rayline-test-server") -> Iterator[str]:
    """Serve the ASGI ``app`` with uvicorn in a thread of this process on a free loopback
    port until the block ends; yields its base URL (``http://127.0.0.1:PORT``)."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name=name, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


def wait_for(predicate, timeout: float = 60.0) -> None:
    """Poll ``predicate`` every 0.1 s until it is true; fail the test after ``timeout``."""
    import time

    deadline = time.time() + timeout
    while not predicate():
        if time.time() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.1)


def free_port_block() -> int:
    """A port P with P, P+404 and P+1101 free (Serve's frontend, HAProxy stats and metrics),
    below the kernel's ephemeral range: Serve may start long after the block was chosen, and
    a port in that range can meanwhile be taken by any outgoing connection or Ray worker."""
    import random

    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    top = low - 1102  # P + 1101 stays below the range
    bottom = max(1024, top - 12000)
    if top <= bottom:
        raise RuntimeError(f"the ephemeral range starts at {low}: no room for a port block below")
    for _ in range(200):
        port = random.randint(bottom, top)
        try:
            for p in (port, port + 404, port + 1101):
                with socket.socket() as s:
                    s.bind(("0.0.0.0", p))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port block below the ephemeral range")


@pytest.fixture(scope="session")
def port_blocks():
    """``port_blocks()`` finds a free port block, for a Serve of its own (on a cluster a test
    starts)."""
    return free_port_block


@pytest.fixture(scope="session")
def serve_port(ray_session):
    """Serve's port for this test session (Serve is started once, by the first endpoint)."""
    port = int(os.environ.setdefault("RAYLINE_SERVE_PORT", str(free_port_block())))
    yield port


@pytest.fixture(scope="session")
def ray_session(tmp_path_factory):
    """One real local Ray for the whole test session: its own, never a cluster that
    ``RAY_ADDRESS`` or a developer's ``rayline up`` (in the default RAYLINE_HOME) names."""
    import ray

    from rayline.ray_connection import ensure_ray

    os.environ.pop("RAY_ADDRESS", None)
    home = os.environ.get("RAYLINE_HOME")
    os.environ["RAYLINE_HOME"] = str(tmp_path_factory.mktemp("ray-session-home"))
    # Ray's runtime_env agent tries a failed setup 3 times, each cloning the whole virtualenv
    # (~15 s here) before pip runs: once is enough to see pip's error (the agent reads this).
    os.environ.setdefault("RUNTIME_ENV_RETRY_TIMES", "1")
    try:
        ensure_ray()
    finally:
        if home is None:
            os.environ.pop("RAYLINE_HOME", None)
        else:
            os.environ["RAYLINE_HOME"] = home
    yield ray
    ray.shutdown()


@pytest.fixture
def postgres_url():
    """A fresh PostgreSQL schema-isolated database URL on the machine's server."""
    with postgres_database() as url:
        yield url


@contextlib.contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh database on the machine's PostgreSQL for the block (its URL), dropped after it
    (with this process's pooled connections to it): for fixtures of any scope."""
    import sqlalchemy as sa

    name = f"rayline_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(
        POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT"
    )
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # pragma: no cover - depends on the machine
        pytest.fail(f"PostgreSQL at {POSTGRES_URL} is not reachable: {exc}")
    base = POSTGRES_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        from rayline.store.db import _open

        for url, db in list(_open.items()):
            if name in url:
                db.dispose()
                del _open[url]
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def pytest_collection_modifyitems(config, items):
    """Run tests/unit first: they are fast, and they must run before anything imports Ray
    (tests/unit/conftest.py fails a unit test that loads it)."""
    unit = f"{os.sep}tests{os.sep}unit{os.sep}"
    items.sort(key=lambda item: unit not in str(item.path))
