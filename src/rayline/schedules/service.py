"""The server's schedules service: a thread that ticks every second and starts the executions
of due schedules (``rayline.schedules.firing.tick``)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger("rayline.schedules")

#: Seconds between ticks: how late past its time a schedule may start.
TICK_S = 1.0


def start() -> Callable[[], None]:
    """Start the thread; returns the function that stops it (waiting for the current tick)."""
    stopping = threading.Event()
    thread = threading.Thread(target=_run, args=(stopping,), name="rayline-schedules", daemon=True)
    thread.start()

    def stop() -> None:
        stopping.set()
        thread.join(30)

    return stop


def _run(stopping: threading.Event) -> None:
    from rayline.schedules.firing import tick
    from rayline.schedules.repository import ScheduleRepository, open_schedules

    repo: ScheduleRepository | None = None
    while not stopping.is_set():
        try:
            repo = repo or open_schedules()
            tick(repo, now=time.time())
        except Exception:  # the DB away for a moment: the next tick tries again
            log.exception("schedules: a tick failed; trying again in %.0f s", TICK_S)
        stopping.wait(TICK_S)
