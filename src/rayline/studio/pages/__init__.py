"""Studio's pages, one module per area, each with a ``router`` (a FastAPI ``APIRouter`` with
``PREFIX``); ``router`` here includes them all. A new area is a module here and one line in
``AREAS``; its link in the navigation is one line of ``templates/base.html``."""

from __future__ import annotations

import importlib

from fastapi import APIRouter

AREAS = (
    "signin",
    "pipelines",
    "executions",
    "tuning",
    "registry",
    "endpoints",
    "feature_groups",
    "lineage",
    "automation",
)


def _router() -> APIRouter:
    combined = APIRouter()
    for area in AREAS:
        combined.include_router(importlib.import_module(f"{__name__}.{area}").router)
    return combined


router = _router()
