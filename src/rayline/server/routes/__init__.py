"""The REST API's routers, one module per resource, each with a ``router`` (a FastAPI
``APIRouter``); the app mounts them under ``API_PREFIX``. A new resource is a module here and
one line in ``ROUTERS``."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rayline.auth.actions import Action

API_PREFIX = "/api/v1"

#: The largest whole number a route takes for a version, an id or a count: what the metadata
#: DB's INTEGER columns hold (a larger one is a 422, not an overflow deep in the driver).
MAX_INT = 2**31 - 1

ROUTERS = (
    "system",
    "pipelines",
    "code",
    "executions",
    "schedules",
    "feature_groups",
    "models",
    "model_packages",
    "endpoints",
    "lineage",
    "experiments",
    "webhooks",
    "tokens",
    "audit",
)


def route_actions() -> dict[tuple[str, str], Action | None]:
    """Every operation of the API, ``(METHOD, path)`` as the OpenAPI document writes them, with
    the ``rayline.auth.actions.Action`` it declared (None: a public route): with
    ``rayline.auth.actions.ROLES``, who may call what."""
    import importlib

    from fastapi.routing import APIRoute

    from rayline.server.security import route_action

    table: dict[tuple[str, str], Action | None] = {}
    for name in ROUTERS:
        router = importlib.import_module(f"{__name__}.{name}").router
        for route in router.routes:
            if isinstance(route, APIRoute) and route.include_in_schema:
                for method in route.methods:
                    table[(method, API_PREFIX + route.path)] = route_action(route)
    return table
