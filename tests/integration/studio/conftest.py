"""Fixtures for Studio's tests: the server with Studio mounted, in a thread of the test process
(authentication on, the test's RAYLINE_HOME), tokens of each role, and a headless Chromium.

The browser is Debian's ``chromium`` (``make test`` installs it when it is missing) driven by
Playwright; Playwright's own browser download is not needed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.conftest import serve_in_thread

CHROMIUM = "/usr/bin/chromium"


@dataclass
class StudioServer:
    url: str
    tokens: dict[str, str]  # role label -> secret


@pytest.fixture
def studio_server(rayline_home, monkeypatch) -> Iterator[StudioServer]:
    """``mount(create_app())`` on a free loopback port with ``RAYLINE_SERVER_AUTH=on`` and a
    token per role (``tokens["operator"]``...)."""
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
    with serve_in_thread(mount(create_app(services=False)), name="rayline-studio-test") as url:
        yield StudioServer(url, tokens)


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
