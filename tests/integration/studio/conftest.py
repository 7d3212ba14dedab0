"""Fixtures for Studio's tests: the server with Studio mounted, in a thread of the test process
(authentication on, the test's RAYLINE_HOME), tokens of each role, and a headless Chromium.

The browser is Debian's ``chromium`` (``make test`` installs it when it is missing) driven by
Playwright; Playwright's own browser download is not needed.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
    token per role (``tokens["viewer"]``, ``"operator"``, ``"approver"``, ``"admin"``; each
    token's name is ``<role>-user``)."""
    from rayline.auth.roles import Role
    from rayline.auth.tokens import create_token
    from rayline.server.app import create_app
    from rayline.studio import mount

    monkeypatch.setenv("RAYLINE_SERVER_AUTH", "on")
    monkeypatch.delenv("RAYLINE_SERVER_URL", raising=False)
    tokens = {role.label: create_token(name=f"{role.label}-user", role=role)[1] for role in Role}
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


class Shots:
    """Screenshots of every page, numbered in the order taken, under the test's tmp_path."""

    def __init__(self, page: Any, folder: Path) -> None:
        self.page, self.folder, self.n = page, folder, 0
        folder.mkdir(exist_ok=True)

    def __call__(self, name: str) -> None:
        self.n += 1
        self.page.screenshot(path=self.folder / f"{self.n:02d}-{name}.png", full_page=True)


@dataclass
class StudioBrowser:
    """A browser tab on the Studio server: ``page`` (Playwright's), ``shot(name)`` for a
    screenshot, ``sign_in(role)``, and the console's errors (checked when the test ends).

    ``allow(path, status)``: a page the test expects to answer with an error status (Chromium
    logs those as "Failed to load resource"); any other console error fails the test."""

    page: Any
    shot: Shots
    base: str
    tokens: dict[str, str]
    console: list[str] = field(default_factory=list)
    allowed: set[tuple[str, int]] = field(default_factory=set)

    def allow(self, path: str, status: int) -> None:
        self.allowed.add((f"{self.base}{path}", status))

    def url(self, path: str) -> str:
        return f"{self.base}{path}"

    def goto(self, path: str) -> Any:
        return self.page.goto(self.url(path))

    def sign_in(self, role: str, *, path: str = "/studio/pipelines") -> None:
        """Sign out if signed in, then sign in with ``role``'s token and open ``path``."""
        from playwright.sync_api import expect

        self.page.context.clear_cookies()
        self.goto(path)
        self.page.fill("#token", self.tokens[role])
        self.page.click("#signin")
        expect(self.page.locator("#identity")).to_have_text(f"{role}-user ({role})")

    def _on_console(self, message: Any) -> None:
        if message.type != "error":
            return
        status = re.search(r"status of (\d{3})", message.text)
        if status and (message.location.get("url"), int(status.group(1))) in self.allowed:
            return
        self.console.append(f"{message.text} ({message.location.get('url')})")


@contextlib.contextmanager
def open_studio(
    chromium: Any, url: str, tokens: dict[str, str], folder: Path
) -> Iterator[StudioBrowser]:
    """A fresh browser context (1400x900) on the Studio at ``url``; screenshots go to
    ``folder``; fails if the console showed an error the test did not ``allow``."""
    context = chromium.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    browser = StudioBrowser(page, Shots(page, folder), url, tokens)
    page.on("console", browser._on_console)
    page.on("pageerror", lambda e: browser.console.append(str(e)))
    try:
        yield browser
    finally:
        context.close()
    assert browser.console == [], browser.console


@pytest.fixture
def studio(studio_server, chromium, tmp_path) -> Iterator[StudioBrowser]:
    """``open_studio`` on ``studio_server``; screenshots go to ``tmp_path/screenshots``."""
    with open_studio(
        chromium, studio_server.url, studio_server.tokens, tmp_path / "screenshots"
    ) as browser:
        yield browser
