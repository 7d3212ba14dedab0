"""The server's webhooks service: a thread that ticks the dispatcher every
``RAYLINE_WEBHOOK_POLL_S`` seconds (default 1): collect new events into deliveries, send the
due ones (``rayline.webhooks.dispatcher``)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from rayline.periodic import every

log = logging.getLogger("rayline.webhooks")


def start() -> Callable[[], None]:
    """Start the thread; returns the function that stops it (waiting for the current tick)."""
    from rayline.webhooks.dispatcher import Dispatcher, Options
    from rayline.webhooks.repository import open_webhooks

    options = Options.from_env()  # a bad setting fails the server's start, saying which
    dispatcher: Dispatcher | None = None

    def tick() -> None:
        nonlocal dispatcher
        dispatcher = dispatcher or Dispatcher(open_webhooks(), options=options)
        dispatcher.tick()

    def close() -> None:
        if dispatcher is not None:
            dispatcher.close()

    return every(
        options.poll_s,
        tick,
        name="rayline-webhooks",
        log=log,
        on_stop=close,
        join_s=options.timeout_s + 30,
    )
