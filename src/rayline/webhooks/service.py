"""The server's webhooks service: a thread that ticks the dispatcher every
``RAYLINE_WEBHOOK_POLL_S`` seconds (default 1): collect new events into deliveries, send the
due ones (``rayline.webhooks.dispatcher``)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rayline.webhooks.dispatcher import Options

log = logging.getLogger("rayline.webhooks")


def start() -> Callable[[], None]:
    """Start the thread; returns the function that stops it (waiting for the current tick)."""
    from rayline.webhooks.dispatcher import Options

    options = Options.from_env()  # a bad setting fails the server's start, saying which
    stopping = threading.Event()
    thread = threading.Thread(
        target=_run, args=(stopping, options), name="rayline-webhooks", daemon=True
    )
    thread.start()

    def stop() -> None:
        stopping.set()
        thread.join(options.timeout_s + 30)

    return stop


def _run(stopping: threading.Event, options: Options) -> None:
    from rayline.webhooks.dispatcher import Dispatcher
    from rayline.webhooks.repository import open_webhooks

    dispatcher: Dispatcher | None = None
    try:
        while not stopping.is_set():
            try:
                dispatcher = dispatcher or Dispatcher(open_webhooks(), options=options)
                dispatcher.tick()
            except Exception:  # the DB away for a moment: the next tick tries again
                log.exception("webhooks: a tick failed; trying again in %.1f s", options.poll_s)
            stopping.wait(options.poll_s)
    finally:
        if dispatcher is not None:
            dispatcher.close()
