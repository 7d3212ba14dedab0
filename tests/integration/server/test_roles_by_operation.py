"""Refusals by role, as a table generated from the OpenAPI document: every operation the server
documents answers 403 to each role below the one it needs, and anything but 403 (or 401) to
that role and those above it. An operation that needs no role is public and is never refused.

It runs against the ``production_server`` process (PostgreSQL, S3, Redis, authentication on),
with harmless requests: path parameters that name nothing and an empty JSON object as body, so
a role that may call an operation gets a 404 or a 422 and nothing changes. The role check is a
route dependency, which FastAPI runs before it validates parameters and body: a role below gets
its 403 whatever the request holds.
"""

from __future__ import annotations

from typing import Any

import pytest

from rayline.auth.actions import Action, role_for
from rayline.auth.roles import Role
from rayline.server.routes import route_actions
from rayline.server.security import PUBLIC

pytestmark = [pytest.mark.ray, pytest.mark.server]

#: A path parameter's value per JSON-schema type: it names nothing on the server.
DUMMY = {"integer": "7", "number": "7"}
DUMMY_TEXT = "no-such-thing"


def required_role(action: Action | None) -> Role | None:
    """The least role that may call an operation declaring ``action`` (None: public), from
    the one action → role table."""
    return None if action is None else role_for(action)


def _request(path: str, operation: dict[str, Any]) -> dict[str, Any]:
    """A harmless request for ``operation``: dummy path parameters, an empty JSON body."""
    for parameter in operation.get("parameters", []):
        if parameter["in"] == "path":
            kind = parameter.get("schema", {}).get("type")
            value = DUMMY.get(kind, DUMMY_TEXT)
            path = path.replace("{" + parameter["name"] + "}", value)
    content = operation.get("requestBody", {}).get("content", {})
    return {"url": path, "json": {} if "application/json" in content else None}


def test_each_operation_refuses_the_roles_below_its_own(production_server):
    import httpx

    document = httpx.get(f"{production_server.url}/openapi.json", timeout=30).json()
    actions = route_actions()
    clients = {
        Role.parse(name): production_server.client(name) for name in production_server.tokens
    }
    table: list[tuple[str, str, Role | None]] = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            assert (method.upper(), path) in actions, f"{method.upper()} {path} declares no action"
            table.append((method.upper(), path, required_role(actions[(method.upper(), path)])))
            request = _request(path.removeprefix("/api/v1"), operation)
            for role, client in clients.items():
                response = client.request(method.upper(), **request)
                where = f"{method.upper()} {path} as {role.label} (needs {table[-1][2]!r})"
                assert response.status_code < 500, f"{where}: {response.text[:300]}"
                assert response.status_code != 401, f"{where}: {response.text[:300]}"
                needed = table[-1][2]
                if needed is not None and role < needed:
                    assert response.status_code == 403, f"{where}: {response.text[:300]}"
                    assert needed.label in response.json()["detail"], where
                else:
                    assert response.status_code != 403, f"{where}: {response.text[:300]}"
    for client in clients.values():
        client.close()

    # Every operation but the public ones states a role; the table covers all four.
    public = {(m, p) for m, p, needed in table if needed is None}
    assert public == {("GET", p) for p in PUBLIC}, public
    assert {needed for _, _, needed in table} == {None, *Role}
    assert len(table) >= 60, f"only {len(table)} operations in the OpenAPI document"
