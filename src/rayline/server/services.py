"""The server's background services: each is a ``start()`` function (``module:attribute``)
that starts its threads and returns the function that stops them. They start with the server
and stop, in reverse order, when it shuts down. A new service is one line in ``SERVICES``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rayline.config import embedded
from rayline.step_kinds import load

SERVICES = (
    # Drives the executions whose owner is gone (their lease lapsed): at start-up, then often.
    "rayline.server.ownership:start",
    # Starts the executions of due cron schedules.
    "rayline.schedules.service:start",
    # Sends the webhooks' deliveries: execution and model package status changes.
    "rayline.webhooks.service:start",
)


def start_services(app: Any) -> list[Callable[[], None]]:
    """Start every service; the functions that stop them, in start order. Each starts (and its
    threads tick) embedded: a server serves its own state, whatever ``RAYLINE_SERVER_URL``
    says."""
    stops: list[Callable[[], None]] = []
    try:
        for target in SERVICES:
            with embedded():
                stops.append(load(target)())
    except BaseException:
        for stop in reversed(stops):
            stop()
        raise
    app.state.services = stops
    return stops
