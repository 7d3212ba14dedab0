"""The server answers over real HTTP: health, version, OpenAPI and its docs, and errors as
problem details (RFC 9457)."""

from __future__ import annotations

import platform

import pytest

from rayline._version import __version__

pytestmark = [pytest.mark.ray, pytest.mark.server]


def test_health_version_openapi_and_docs(api_server):
    assert api_server.client.get("/health").json() == {"status": "ok"}
    assert api_server.client.get("/version").json() == {
        "rayline": __version__,
        "python": platform.python_version(),
    }
    import httpx

    spec = httpx.get(f"{api_server.url}/openapi.json").json()
    assert spec["info"]["title"] == "rayline"
    assert all(path.startswith("/api/v1/") for path in spec["paths"])
    docs = httpx.get(f"{api_server.url}/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


def test_unknown_route_is_a_problem_document(api_server):
    response = api_server.client.get("/no-such-thing")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == 404 and body["title"] == "Not Found"
    assert body["instance"] == "/api/v1/no-such-thing"
