"""``create_app()``: the FastAPI application, its routers, error handling and services.

The routers are listed in ``rayline.server.routes.ROUTERS`` and the background services (the
execution owner, schedules, webhooks) in ``rayline.server.services.SERVICES``; adding either is
one module and one line.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from rayline import __version__
from rayline.server import problems, security
from rayline.server.routes import API_PREFIX, ROUTERS
from rayline.server.services import start_services


def create_app(*, services: bool = True) -> FastAPI:
    """The server's application. ``services=False`` leaves out the background services
    (ownership of executions, schedules, webhook deliveries): an API that only answers."""

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
    for name in ROUTERS:
        module = importlib.import_module(f"rayline.server.routes.{name}")
        app.include_router(module.router, prefix=API_PREFIX)
    return app
