"""Fixtures for the server's tests: a real server on loopback, over real HTTP.

- ``api_server``: uvicorn serving ``create_app()`` in a thread of the test process, with the
  test's ``RAYLINE_HOME`` and the session's Ray (cheap: most API tests use it).
- ``start_server_process``: ``rayline server`` as a process of its own (for kill -9, SIGSTOP and
  two servers on one database), connected to the session's Ray by its address.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
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


@pytest.fixture
def start_server_process(
    rayline_home, ray_session, tmp_path
) -> Iterator[Callable[..., ServerProcess]]:
    """Start ``rayline server`` processes (``env`` adds to this test's environment); all are
    stopped at the end. They join the session's Ray by its address."""
    started: list[ServerProcess] = []
    address = ray_session.get_runtime_context().gcs_address

    def start(*, env: dict[str, str] | None = None, port: int | None = None) -> ServerProcess:
        port = port or free_port()
        log = tmp_path / f"server-{port}-{len(started)}.log"
        full_env = {
            **os.environ,
            "RAY_ADDRESS": address,
            "RAYLINE_SERVER_AUTH": "off",
            **(env or {}),
        }
        full_env.pop("RAYLINE_SERVER_URL", None)
        with open(log, "ab") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "rayline.cli.main", "server", "--port", str(port)],
                env=full_env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        running = ServerProcess(f"http://127.0.0.1:{port}", process, log)
        started.append(running)
        try:
            wait_healthy(running.url, process=process)
        except Exception as exc:
            raise RuntimeError(f"{exc}; its log:\n{log.read_text()[-3000:]}") from exc
        return running

    yield start
    for running in started:
        running.stop()
