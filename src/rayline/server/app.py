"""``create_app()``: the FastAPI application, its routers, error handling and services.

The routers are listed in ``rayline.server.routes.ROUTERS`` and the background services (the
schedules) in ``rayline.server.services.SERVICES``; adding either is
one module and one line.
"""

from __future__ import annotations

import contextlib
import importlib
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request

from rayline._version import __version__
from rayline.config import embedded
from rayline.server import problems, security
from rayline.server.routes import API_PREFIX, ROUTERS
from rayline.server.services import start_services


def create_app(*, services: bool = True) -> FastAPI:
    """The server's application. ``services=False`` leaves out the background services
    (the schedules): an API that only answers."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stop = start_services(app) if services else []
        try:
            yield
        finally:
            for halt in reversed(stop):
                halt()

    app = FastAPI(
        title="rayline",
        version=__version__,
        summary="Durable, cached ML pipelines on Ray: rayline's REST API.",
        lifespan=lifespan,
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
    )
    problems.install(app)
    security.install(app)
    _install_timing(app)
    for name in ROUTERS:
        module = importlib.import_module(f"rayline.server.routes.{name}")
        app.include_router(module.router, prefix=API_PREFIX)
    app.add_middleware(Embedded)  # added last: the outermost
    return app


class Embedded:
    """ASGI middleware: every request, WebSocket and the lifespan (the services) work on this
    server's own state (``rayline.config.embedded()``), even where ``RAYLINE_SERVER_URL`` is
    set in its process (a test's client in the same process, a shared environment)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        with embedded():
            await self.app(scope, receive, send)


def _install_timing(app: FastAPI) -> None:
    """Each response says how long the server took (``Server-Timing: app;dur=<ms>``): clients
    and benchmarks can tell server time from the network's."""

    @app.middleware("http")
    async def _timing(request: Request, call_next: Any) -> Any:
        start = time.perf_counter()
        response = await call_next(request)
        response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - start) * 1000:.2f}"
        return response
