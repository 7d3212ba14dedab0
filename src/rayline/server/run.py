"""``serve()``: run the server on uvicorn (what ``rayline server`` calls)."""

from __future__ import annotations

import logging
from typing import Any

from rayline.server import security

log = logging.getLogger("rayline.server")


def serve(
    *, host: str = "127.0.0.1", port: int = 8080, log_level: str = "info", app: Any = None
) -> None:
    """Serve the API on ``host:port`` until interrupted (``app``: the application to serve,
    default ``create_app()``; the CLI passes it with Studio mounted, a layer above). Refuses to
    listen beyond loopback without authentication (``security.check_listen``)."""
    import os

    import uvicorn

    from rayline.server.app import create_app

    security.check_listen(host)
    # The server is where the API leads: it never forwards to a server itself. Its requests
    # and services run embedded (``rayline.config.embedded()``); the variable goes too, so the
    # processes it starts (Ray workers, detached drivers) do not inherit it.
    ignored = os.environ.pop("RAYLINE_SERVER_URL", None)
    if ignored:
        log.warning(
            "RAYLINE_SERVER_URL=%s is set; this server serves its own state and ignores it",
            ignored,
        )
    uvicorn.run(app or create_app(), host=host, port=port, log_level=log_level, access_log=False)
