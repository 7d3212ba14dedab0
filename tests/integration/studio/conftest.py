"""Fixtures for Studio's tests: the server with Studio mounted, in a thread of the test process
(authentication on, the test's RAYLINE_HOME), tokens of each role, and a headless Chromium.

The browser is Debian's ``chromium`` (``make test`` installs it when it is missing) driven by
Playwright; Playwright's own browser download is not needed.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class StudioServer:
    url: str
    tokens: dict[str, str]  # role label -> secret


@pytest.fixture
def studio_server(rayline_home, monkeypatch) -> Iterator[StudioServer]:
    """``mount(create_app())`` on a free loopback port with ``RAYLINE_SERVER_AUTH=on`` and a
    token per role (``tokens["operator"]``...)."""
    import uvicorn

    from rayline.auth.roles import Role
    from rayline.auth.tokens import create_token
    from rayline.server.app import create_app
    from rayline.studio import mount

    monkeypatch.setenv("RAYLINE_SERVER_AUTH", "on")
    monkeypatch.delenv("RAYLINE_SERVER_URL", raising=False)
    tokens = {
        role.label: create_token(name=f"{role.label}-user", role=role)[1]
        for role in (Role.VIEWER, Role.OPERATOR)
    }
    port = free_port()
    config = uvicorn.Config(
        mount(create_app(services=False)), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="rayline-studio-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.02)
    try:
        yield StudioServer(f"http://127.0.0.1:{port}", tokens)
    finally:
        server.should_exit = True
        thread.join(30)


@pytest.fixture(scope="session")
def chromium() -> Iterator[object]:
    """One headless Chromium for the session (Debian's binary)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs it (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox"], headless=True
        )
        try:
            yield browser
        finally:
            browser.close()
