"""The server's schedules service: a thread that ticks every second and starts the executions
of due schedules (``rayline.schedules.firing.tick``)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from rayline.periodic import every

log = logging.getLogger("rayline.schedules")

#: Seconds between ticks: how late past its time a schedule may start.
TICK_S = 1.0


def start() -> Callable[[], None]:
    """Start the thread; returns the function that stops it (waiting for the current tick)."""
    from rayline.schedules.firing import tick
    from rayline.schedules.repository import open_schedules

    return every(
        TICK_S, lambda: tick(open_schedules(), now=time.time()), name="rayline-schedules", log=log
    )
