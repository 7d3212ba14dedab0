"""Errors as problem details (RFC 9457, ``application/problem+json``).

rayline's error hierarchy maps to statuses: what the caller got wrong is a 4xx whose ``detail``
is the error's message (it says what is wrong and how to fix it); a failure of the server is a
500 that names no internals (the log has the traceback).
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from rayline import errors

log = logging.getLogger("rayline.server")

MEDIA_TYPE = "application/problem+json"

#: The status of each error class; the first class an error is an instance of wins.
STATUSES: tuple[tuple[type[Exception], int], ...] = (
    (errors.TooLargeError, 413),
    (errors.ParameterError, 422),
    (errors.SchemaError, 422),
    (errors.UserInputError, 400),
    (errors.AuthenticationError, 401),
    (errors.PermissionDeniedError, 403),
    (errors.NotFoundError, 404),
    (errors.ConflictError, 409),
    (errors.StepFailedError, 409),
    (errors.ExecutionFailedError, 409),
    (errors.BackendError, 503),
)


def problem(status: int, detail: str, *, title: str | None = None, **extra: Any) -> JSONResponse:
    """A problem-details response."""
    body = {
        "type": "about:blank",
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        **extra,
    }
    headers = {"WWW-Authenticate": 'Bearer realm="rayline"'} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def status_of(exc: Exception) -> int:
    for cls, status in STATUSES:
        if isinstance(exc, cls):
            return status
    return 500


def install(app: FastAPI) -> None:
    """Answer every error as problem details."""

    @app.exception_handler(errors.RaylineError)
    async def _rayline(request: Request, exc: errors.RaylineError) -> JSONResponse:
        status = status_of(exc)
        if status >= 500:
            log.error("%s %s failed: %s", request.method, request.url.path, exc, exc_info=exc)
        return problem(status, str(exc), title=type(exc).__name__, instance=request.url.path)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {
                "loc": [str(part) for part in e.get("loc", ())],
                "msg": e.get("msg", ""),
                "type": e.get("type", ""),
            }
            for e in exc.errors()
        ]
        detail = "; ".join(f"{'.'.join(p['loc'])}: {p['msg']}" for p in problems)
        return problem(422, detail or "invalid request", instance=request.url.path, errors=problems)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        return problem(exc.status_code, str(exc.detail), instance=request.url.path)

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        return problem(
            500,
            "the server failed to handle this request; its log has the details",
            instance=request.url.path,
        )
