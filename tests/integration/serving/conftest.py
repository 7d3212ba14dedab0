"""Serve on a free port for the serving tests (models come from tests/integration/conftest.py)."""

from __future__ import annotations

import os

import pytest


def free_port_block() -> int:
    """A port P with P, P+404 and P+1101 free (Serve's frontend, HAProxy stats and metrics)."""
    import socket

    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port > 60000:
            continue
        try:
            for p in (port, port + 404, port + 1101):
                with socket.socket() as s:
                    s.bind(("0.0.0.0", p))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port block")


@pytest.fixture(scope="session")
def serve_port(ray_session):
    """Serve's port for this test session (Serve is started once, by the first endpoint)."""
    port = int(os.environ.setdefault("RAYLINE_SERVE_PORT", str(free_port_block())))
    yield port
