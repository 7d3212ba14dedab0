"""A background thread that calls a function every few seconds until it is stopped: each of the
server's services (ownership, schedules, webhooks) is one. A tick that raises is logged and the
next one tries again: the database or Ray away for a moment must not end a service."""

from __future__ import annotations

import contextvars
import logging
import threading
from collections.abc import Callable


def every(
    interval_s: float,
    tick: Callable[[], None],
    *,
    name: str,
    log: logging.Logger,
    first: Callable[[], None] | None = None,
    on_stop: Callable[[], None] | None = None,
    join_s: float = 30.0,
) -> Callable[[], None]:
    """Start a daemon thread ``name`` that runs ``first()`` once (if given), then ``tick()``
    at once and every ``interval_s`` seconds. Returns the function that stops it: it waits up to
    ``join_s`` seconds for the tick under way, then calls ``on_stop()`` (if given). The thread
    runs in a copy of the caller's context (a thread does not inherit context variables): the
    server starts its services inside ``rayline.config.embedded()``, and their ticks stay so."""
    stopping = threading.Event()
    context = contextvars.copy_context()

    def run() -> None:
        if first is not None:
            try:
                first()
            except Exception:  # the first tick that needs it says what is wrong
                log.exception("%s: could not start", name)
        while not stopping.is_set():
            try:
                tick()
            except Exception:  # away for a moment: the next tick tries again
                log.exception("%s: a tick failed; trying again in %.1f s", name, interval_s)
            stopping.wait(interval_s)

    thread = threading.Thread(target=context.run, args=(run,), name=name, daemon=True)
    thread.start()

    def stop() -> None:
        stopping.set()
        thread.join(join_s)
        if on_stop is not None:
            on_stop()

    return stop
