"""Studio: rayline's web UI, served by the rayline server under ``/studio``.

Server-rendered HTML (Jinja2 templates in ``templates/``) with a little JavaScript of our own
(``static/``): no Node toolchain, nothing fetched at run time. ``mount(app)`` adds it to the app
``rayline.server.app.create_app()`` makes; it reads and writes through the same Python API and
repositories as the REST API and respects the same roles (see ``pages``). Sign-in and CSRF:
``session``; the DAG's layout: ``layout``, and its collapsing into groups: ``grouping``.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse


def mount(app: FastAPI) -> FastAPI:
    """Add Studio to ``app`` (its pages under ``/studio``, ``/`` redirecting there); returns
    ``app``."""
    from fastapi.staticfiles import StaticFiles

    from rayline.studio.pages import router
    from rayline.studio.web import HERE, PREFIX, SignInRequired, sign_in_url

    app.include_router(router)
    app.mount(f"{PREFIX}/static", StaticFiles(directory=HERE / "static"), name="studio-static")

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse(f"{PREFIX}/pipelines", status_code=303)

    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, exc: Any) -> Any:
        if exc.api:
            return JSONResponse({"detail": "sign in to Studio first"}, status_code=401)
        return RedirectResponse(sign_in_url(exc.next_url), status_code=303)

    return app
