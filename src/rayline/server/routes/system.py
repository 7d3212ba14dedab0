"""/api/v1/health and /api/v1/version: is the server up, and what it runs (clients check
that their Python and rayline can run on it)."""

from __future__ import annotations

import platform

from fastapi import APIRouter

from rayline._version import __version__

router = APIRouter(tags=["system"])


@router.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/version")
def version() -> dict[str, str]:
    return {"rayline": __version__, "python": platform.python_version()}
