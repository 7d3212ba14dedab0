"""Fixtures for the server's tests: a real server on loopback, over real HTTP.

- ``api_server``: uvicorn serving ``create_app()`` in a thread of the test process, with the
  test's ``RAYLINE_HOME`` and the session's Ray (cheap: most API tests use it).
- ``start_server_process``: ``rayline server`` as a process of its own (for kill -9, SIGSTOP and
  two servers on one database), connected to the session's Ray by its address.
- ``production_server``: one ``rayline server`` process for the session as a team runs it
  (PostgreSQL, S3 on the local S3 server, Redis, authentication on, a token per role), for the
  tests of remote clients on another machine.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from tests.conftest import free_port, serve_in_thread


def wait_healthy(url: str, *, timeout: float = 60.0, process: subprocess.Popen | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        try:
            if httpx.get(f"{url}/api/v1/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"no server answered at {url} within {timeout} s")


@dataclass
class ApiServer:
    """A running server: its base ``url`` and a client of it (``client``, with ``token`` when
    authentication is on)."""

    url: str
    token: str | None = None
    client: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        self.client = httpx.Client(base_url=f"{self.url}/api/v1", headers=headers, timeout=60)

    def as_token(self, token: str | None) -> httpx.Client:
        """A client of this server presenting ``token`` (None: none)."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=f"{self.url}/api/v1", headers=headers, timeout=60)


@pytest.fixture
def api_server(rayline_home, ray_session, monkeypatch) -> Iterator[ApiServer]:
    """The server in a thread of this process, on a free loopback port, authentication off
    (loopback, no tokens); its background services run."""
    from rayline.server.app import create_app

    monkeypatch.setenv("RAYLINE_SERVER_AUTH", "off")
    monkeypatch.delenv("RAYLINE_SERVER_URL", raising=False)
    with serve_in_thread(create_app()) as url:
        wait_healthy(url)
        running = ApiServer(url)
        try:
            yield running
        finally:
            running.client.close()


@dataclass
class ServerProcess:
    url: str
    process: subprocess.Popen
    log: Path

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(30)

    def pause(self) -> None:
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(30)


def launch_server(env: dict[str, str], *, log: Path, port: int | None = None) -> ServerProcess:
    """``rayline server`` as a process with exactly ``env`` (less ``RAYLINE_SERVER_URL``: a
    server serves its own state), on ``port`` (default a free one), its output in ``log``;
    returns once it answers its health check."""
    port = port or free_port()
    env = {k: v for k, v in env.items() if k != "RAYLINE_SERVER_URL"}
    with open(log, "ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "rayline.cli.main", "server", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    running = ServerProcess(f"http://127.0.0.1:{port}", process, log)
    try:
        wait_healthy(running.url, process=process)
    except Exception as exc:
        running.stop()
        raise RuntimeError(f"{exc}; its log:\n{log.read_text()[-3000:]}") from exc
    return running


@pytest.fixture
def start_server_process(
    rayline_home, ray_session, tmp_path
) -> Iterator[Callable[..., ServerProcess]]:
    """Start ``rayline server`` processes (``env`` adds to this test's environment); all are
    stopped at the end. They join the session's Ray by its address."""
    started: list[ServerProcess] = []
    address = ray_session.get_runtime_context().gcs_address

    def start(*, env: dict[str, str] | None = None, port: int | None = None) -> ServerProcess:
        full_env = {
            **os.environ,
            "RAY_ADDRESS": address,
            "RAYLINE_SERVER_AUTH": "off",
            **(env or {}),
        }
        log = tmp_path / f"server-{port or 'any'}-{len(started)}.log"
        running = launch_server(full_env, log=log, port=port)
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()


@dataclass(frozen=True)
class ProductionServer:
    """A ``rayline server`` process set up as a team would run it (see ``production_server``):
    its ``url``, an API token per role (``tokens["viewer"]`` ... ``tokens["admin"]``), the
    environment it runs with (``env``: its database, bucket, online store) and its ``log``."""

    url: str
    tokens: dict[str, str]
    env: dict[str, str]
    log: Path
    process: ServerProcess

    def client(self, role: str) -> httpx.Client:
        """An HTTP client of ``/api/v1`` presenting ``role``'s token."""
        return httpx.Client(
            base_url=f"{self.url}/api/v1",
            headers={"Authorization": f"Bearer {self.tokens[role]}"},
            timeout=60,
        )

    def client_env(self, role: str, *, home: Path) -> dict[str, str]:
        """The environment of a remote client on another machine acting as ``role``: this
        process's, less every storage setting, with ``RAYLINE_HOME`` at ``home`` (an empty
        directory the test can check stays empty), the server's URL and the token."""
        env = {k: v for k, v in os.environ.items() if k not in CLIENT_DROPS}
        return {
            **env,
            "RAYLINE_HOME": str(home),
            "RAYLINE_SERVER_URL": self.url,
            "RAYLINE_TOKEN": self.tokens[role],
        }


#: What a client machine does not have: the server's storage, Ray, identity settings.
CLIENT_DROPS = frozenset(
    {
        "RAYLINE_DB_URL",
        "RAYLINE_ARTIFACT_URI",
        "RAYLINE_ONLINE_STORE_URI",
        "MLFLOW_TRACKING_URI",
        "RAY_ADDRESS",
        "RAYLINE_USER",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_S3",
        "AWS_PROFILE",
        "RAYLINE_S3_ADDRESSING_STYLE",
    }
)

#: The identities ``production_server`` makes, one per role (each token's name is its role).
ROLES = ("viewer", "operator", "approver", "admin")


@pytest.fixture(scope="session")
def production_server(
    ray_session, local_s3, serve_port, tmp_path_factory
) -> Iterator[ProductionServer]:
    """One ``rayline server`` process for the session, run as a team runs it: metadata on a
    PostgreSQL database of its own, artifacts in ``s3://BUCKET/artifacts`` on the local S3
    server, the online store in Redis (its own key prefix), authentication on, its background
    services on, joined to the session's Ray (and its Serve). Tokens of the four roles exist.
    At the end the process is stopped, the database dropped and the Redis keys deleted (the
    bucket goes with the local S3 server)."""
    import redis
    from tests.conftest import REDIS_URL, postgres_database

    from rayline.auth import Role, create_token

    home = tmp_path_factory.mktemp("production-server-home")
    bucket = f"rayline-prod-{uuid.uuid4().hex[:12]}"
    local_s3.create_bucket(bucket)
    prefix = f"rayline-prod-{uuid.uuid4().hex[:8]}:"
    keep = {k: v for k, v in os.environ.items() if k not in CLIENT_DROPS}
    keep.pop("RAYLINE_TOKEN", None)
    keep.pop("RAYLINE_ALLOW_SELF_APPROVAL", None)
    with postgres_database() as db_url:
        env = {
            **keep,
            **local_s3.environment(),
            "RAYLINE_HOME": str(home),
            "RAYLINE_DB_URL": db_url,
            "RAYLINE_ARTIFACT_URI": f"s3://{bucket}/artifacts",
            "RAYLINE_ONLINE_STORE_URI": f"{REDIS_URL}?prefix={prefix}",
            "RAY_ADDRESS": ray_session.get_runtime_context().gcs_address,
            "RAYLINE_SERVE_PORT": str(serve_port),
            "RAYLINE_SERVER_AUTH": "on",
        }
        # The tokens are made on the server's own machine, as an admin makes the first one.
        with pytest.MonkeyPatch.context() as patch:
            for key, value in env.items():
                patch.setenv(key, value)
            patch.delenv("RAYLINE_SERVER_URL", raising=False)
            tokens = {role: create_token(name=role, role=Role.parse(role))[1] for role in ROLES}
        log = home / "server.log"
        running = launch_server(env, log=log)
        try:
            yield ProductionServer(running.url, tokens, env, log, running)
        finally:
            running.stop()
            client = redis.Redis.from_url(REDIS_URL)
            keys = list(client.scan_iter(match=f"{prefix}*"))
            if keys:
                client.delete(*keys)
            client.close()
