"""Authentication over real HTTP: API tokens and their roles, the audit log, the auth modes, and
the refusal to listen beyond loopback without authentication.

The server runs in a thread of the test process (uvicorn, loopback) without its background
services: what is checked here is the middleware and the token routes, not executions. The auth
mode is read per request, so each test sets ``RAYLINE_SERVER_AUTH`` and the server sees it.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

import httpx
import pytest
import sqlalchemy as sa
from fastapi import APIRouter, Depends, WebSocket
from tests.conftest import serve_in_thread

from rayline.auth import (
    Action,
    Role,
    any_token_exists,
    create_token,
    list_audit,
    list_tokens,
    verify_token,
)
from rayline.config import settings
from rayline.errors import AuthenticationError, ConfigError
from rayline.server.security import Identity, check_listen, requires

# Each test its own RAYLINE_HOME: its own database, hence its own tokens and audit log.
pytestmark = [pytest.mark.server, pytest.mark.usefixtures("rayline_home")]


@dataclass
class AuthServer:
    """The server's base URL; ``client`` presents no token, ``as_token`` one."""

    url: str

    @property
    def client(self) -> httpx.Client:
        return self.as_token(None)

    def as_token(self, token: str | None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=f"{self.url}/api/v1", headers=headers, timeout=30)


def _probe_router() -> APIRouter:
    """Routes that say who the server thinks is acting: in a sync route (the threadpool) and an
    async one, as ``settings().user`` (what registry, endpoints and executions record)."""
    router = APIRouter()

    @router.get("/probe/whoami")
    def whoami(identity: Annotated[Identity, Depends(requires(Action.READ))]) -> dict[str, str]:
        return {"user": settings().user, "role": identity.role.label}

    @router.post("/probe/operate", dependencies=[Depends(requires(Action.START_EXECUTION))])
    async def operate() -> dict[str, str]:
        return {"user": settings().user}

    @router.websocket("/probe/ws")
    async def ws(socket: WebSocket) -> None:
        await socket.accept()
        await socket.send_text(settings().user)
        await socket.close()

    return router


def _websocket_user(server: AuthServer, token: str | None) -> str:
    """What the WebSocket probe says (``refused`` when the server refuses the handshake)."""
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    url = server.url.replace("http://", "ws://") + "/api/v1/probe/ws"
    try:
        with connect(url, additional_headers=headers, open_timeout=10) as socket:
            return str(socket.recv(timeout=10))
    except InvalidStatus as exc:
        assert exc.response.status_code == 403
        return "refused"


@pytest.fixture
def server(monkeypatch) -> Iterator[AuthServer]:
    from rayline.server.app import create_app

    monkeypatch.setenv("RAYLINE_SERVER_AUTH", "on")
    monkeypatch.delenv("RAYLINE_SERVER_URL", raising=False)
    app = create_app(services=False)
    app.include_router(_probe_router(), prefix="/api/v1")
    with serve_in_thread(app, name="rayline-auth-test-server") as url:
        yield AuthServer(url)


def _problem(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    return response.json()


def test_tokens_roles_revocation_and_audit(server):
    anonymous = server.client
    admin: httpx.Client
    # Health and version are public; everything else under /api/ needs a token.
    assert anonymous.get("/health").status_code == 200
    assert anonymous.get("/version").status_code == 200
    body = _problem(anonymous.get("/tokens"), 401)
    assert "rayline token create" in body["detail"]
    assert anonymous.get("/tokens").headers["www-authenticate"].startswith("Bearer")
    # An unknown route answers 401 too: no token, no map of the API.
    _problem(anonymous.get("/no-such-route"), 401)
    _problem(server.as_token("rl_" + "x" * 43).get("/tokens"), 401)
    _problem(server.as_token("not-a-rayline-token").get("/tokens"), 401)
    basic = anonymous.get("/tokens", headers={"Authorization": "Basic YWRtaW46YWRtaW4="})
    _problem(basic, 401)
    _problem(anonymous.post("/tokens", json={"name": "eve", "role": "admin"}), 401)

    # The first admin token comes from the machine itself (what `rayline token create` calls).
    root_record, root_secret = create_token(name="root", role=Role.ADMIN)
    admin = server.as_token(root_secret)
    listed = admin.get("/tokens").json()
    assert [t["name"] for t in listed["items"]] == ["root"]
    assert listed["items"][0]["role"] == "admin" and "secret" not in listed["items"][0]

    made = admin.post("/tokens", json={"name": "vera", "role": "viewer"})
    assert made.status_code == 201, made.text
    viewer_secret = made.json()["secret"]
    viewer_id = made.json()["token"]["id"]
    assert viewer_secret.startswith("rl_") and made.json()["token"]["created_by"] == "root"
    op_secret = admin.post("/tokens", json={"name": "otto", "role": "operator"}).json()["secret"]
    duplicate = _problem(admin.post("/tokens", json={"name": "vera", "role": "admin"}), 409)
    assert viewer_id in duplicate["detail"]
    _problem(admin.post("/tokens", json={"name": "x", "role": "overlord"}), 400)

    # Roles: a viewer reads, and is refused what needs more; the identity acts in the routes.
    viewer = server.as_token(viewer_secret)
    assert viewer.get("/probe/whoami").json() == {"user": "vera", "role": "viewer"}
    assert "operator" in _problem(viewer.post("/probe/operate"), 403)["detail"]
    _problem(viewer.post("/tokens", json={"name": "vera2", "role": "admin"}), 403)
    _problem(viewer.get("/tokens"), 403)
    _problem(viewer.get("/audit"), 403)
    assert _websocket_user(server, None) == "refused"
    assert _websocket_user(server, viewer_secret) == "vera"
    operator = server.as_token(op_secret)
    assert operator.post("/probe/operate").json() == {"user": "otto"}
    assert admin.get("/probe/whoami").json() == {"user": "root", "role": "admin"}

    # Revoked: refused at once, and its name is free again.
    assert admin.delete(f"/tokens/{viewer_id}").status_code == 204
    assert "revoked" in _problem(viewer.get("/probe/whoami"), 401)["detail"]
    _problem(admin.delete("/tokens/nosuchid"), 404)
    assert admin.post("/tokens", json={"name": "vera", "role": "viewer"}).status_code == 201
    assert [t["active"] for t in admin.get("/tokens").json()["items"] if t["name"] == "vera"] == [
        False,
        True,
    ]
    active = admin.get("/tokens", params={"active_only": True}).json()["items"]
    assert viewer_id not in {t["id"] for t in active}

    # The audit log: every state change, refused ones too, with who, the status and from where.
    rows = admin.get("/audit", params={"limit": 1000}).json()["items"]
    writes = [(r["identity"], r["method"], r["path"], r["status"]) for r in reversed(rows)]
    assert writes == [
        ("anonymous", "POST", "/api/v1/tokens", 401),
        ("root", "POST", "/api/v1/tokens", 201),
        ("root", "POST", "/api/v1/tokens", 201),
        ("root", "POST", "/api/v1/tokens", 409),
        ("root", "POST", "/api/v1/tokens", 400),
        ("vera", "POST", "/api/v1/probe/operate", 403),
        ("vera", "POST", "/api/v1/tokens", 403),
        ("otto", "POST", "/api/v1/probe/operate", 200),
        ("root", "DELETE", f"/api/v1/tokens/{viewer_id}", 204),
        ("root", "DELETE", "/api/v1/tokens/nosuchid", 404),
        ("root", "POST", "/api/v1/tokens", 201),
    ]
    assert {r["client"] for r in rows} == {"127.0.0.1"}
    revoke = next(r for r in rows if r["method"] == "DELETE" and r["status"] == 204)
    assert revoke["target"] == f"token_id={viewer_id}"
    assert revoke["role"] == "admin" and revoke["token_id"] == root_record.id
    by_vera = admin.get("/audit", params={"identity": "vera"}).json()["items"]
    assert {r["identity"] for r in by_vera} == {"vera"} and len(by_vera) == 2
    assert admin.get("/audit", params={"since": time.time() + 60}).json()["items"] == []
    iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 3600))
    assert len(admin.get("/audit", params={"since": iso}).json()["items"]) == len(rows)
    assert "ISO 8601" in _problem(admin.get("/audit", params={"since": "yesterday"}), 400)["detail"]
    page = admin.get("/audit", params={"limit": 4}).json()
    assert len(page["items"]) == 4 and page["next_token"]
    assert len(list_audit()) == len(rows)

    # Used tokens say so; the database holds hashes, never a secret.
    assert next(t for t in list_tokens() if t.name == "root").last_used_at is not None
    engine = sa.create_engine(settings().db_url)
    with engine.connect() as conn:
        stored = [tuple(map(str, row)) for row in conn.execute(sa.text("SELECT * FROM api_tokens"))]
    engine.dispose()
    text = json.dumps(stored)
    db_bytes = (settings().home / "rayline.db").read_bytes()
    for secret in (root_secret, viewer_secret, op_secret):
        assert secret not in text and secret.encode() not in db_bytes
    assert hashlib.sha256(root_secret.encode()).hexdigest() in text


def test_auto_mode_turns_on_with_the_first_token(server, monkeypatch):
    monkeypatch.setenv("RAYLINE_SERVER_AUTH", "auto")
    # Loopback and no token: the caller is the local admin.
    assert server.client.get("/probe/whoami").json() == {"user": "local", "role": "admin"}
    _, secret = create_token(name="first", role=Role.OPERATOR)
    # A token created (even in another process) counts within a second.
    deadline = time.monotonic() + 1.0
    while server.client.get("/probe/whoami").status_code != 401:
        assert time.monotonic() < deadline, "auth did not turn on within a second"
        time.sleep(0.05)
    assert server.as_token(secret).get("/probe/whoami").json()["user"] == "first"
    monkeypatch.setenv("RAYLINE_SERVER_AUTH", "off")
    assert server.client.post("/probe/operate").json() == {"user": "local"}


def test_listening_beyond_loopback_needs_authentication(monkeypatch):
    for host in ("127.0.0.1", "::1", "localhost", "[::1]"):
        check_listen(host)  # loopback: always allowed
    monkeypatch.setenv("RAYLINE_SERVER_AUTH", "off")
    with pytest.raises(ConfigError, match="RAYLINE_SERVER_AUTH=off"):
        check_listen("0.0.0.0")
    monkeypatch.setenv("RAYLINE_SERVER_AUTH", "auto")
    for host in ("0.0.0.0", "", "10.1.2.3", "example.com"):
        with pytest.raises(ConfigError, match="no API token exists"):
            check_listen(host)

    # The command refuses at once, saying how to fix it.
    started = time.monotonic()
    run = subprocess.run(
        [sys.executable, "-m", "rayline.cli.main", "server", "--host", "0.0.0.0", "--port", "1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 1, run.stdout + run.stderr
    assert "rayline token create" in run.stdout + run.stderr
    assert time.monotonic() - started < 30

    create_token(name="admin", role=Role.ADMIN)
    check_listen("0.0.0.0")  # auto with a token: auth is on
    monkeypatch.setenv("RAYLINE_SERVER_AUTH", "on")
    check_listen("0.0.0.0")


def test_token_cli_create_list_revoke(capsys):
    from rayline.cli.main import main

    assert main(["token", "create", "--name", "ci", "--role", "operator", "--json"]) == 0
    created = json.loads(capsys.readouterr().out)
    secret, token_id = created["secret"], created["token"]["id"]
    assert created["token"]["role"] == "operator"
    assert verify_token(secret).name == "ci"

    assert main(["token", "create", "--name", "ops", "--role", "admin"]) == 0
    shown = capsys.readouterr().out
    printed = next(word for word in shown.split() if word.startswith("rl_"))
    assert verify_token(printed).role is Role.ADMIN

    assert main(["token", "create", "--name", "ci", "--role", "viewer"]) == 1
    assert "exists already" in capsys.readouterr().err

    assert main(["token", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(t["name"], t["role"]) for t in listed] == [("ci", "operator"), ("ops", "admin")]
    assert secret not in json.dumps(listed)

    assert main(["token", "revoke", token_id]) == 0
    capsys.readouterr()
    with pytest.raises(AuthenticationError, match="revoked"):
        verify_token(secret)
    assert main(["token", "list", "--active", "--json"]) == 0
    assert [t["name"] for t in json.loads(capsys.readouterr().out)] == ["ops"]
    assert main(["token", "revoke", "nosuchid"]) == 1


def test_token_cli_through_the_server(server, monkeypatch, capsys):
    from rayline.cli.main import main

    _, admin_secret = create_token(name="root", role=Role.ADMIN)
    _, viewer_secret = create_token(name="vera", role=Role.VIEWER)
    monkeypatch.setenv("RAYLINE_SERVER_URL", server.url)
    monkeypatch.setenv("RAYLINE_TOKEN", admin_secret)
    assert main(["token", "create", "--name", "remote", "--role", "approver", "--json"]) == 0
    created = json.loads(capsys.readouterr().out)
    assert created["token"]["created_by"] == "root"  # made by the server, as the admin
    assert server.as_token(created["secret"]).get("/probe/whoami").json()["role"] == "approver"
    assert main(["token", "revoke", created["token"]["id"], "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["active"] is False
    assert main(["token", "list", "--active", "--json"]) == 0
    assert [t["name"] for t in json.loads(capsys.readouterr().out)] == ["root", "vera"]

    monkeypatch.setenv("RAYLINE_TOKEN", viewer_secret)
    assert main(["token", "list"]) == 1
    assert "403" in capsys.readouterr().err


@pytest.mark.postgres
def test_token_names_unique_among_active_tokens_on_postgresql(postgres_url):
    from rayline.auth import revoke_token
    from rayline.errors import ConflictError

    assert not any_token_exists(db_url=postgres_url)
    first, secret = create_token(name="ci", role=Role.OPERATOR, db_url=postgres_url)
    with pytest.raises(ConflictError, match=first.id):
        create_token(name="ci", role=Role.VIEWER, db_url=postgres_url)
    revoke_token(first.id, db_url=postgres_url)
    with pytest.raises(AuthenticationError, match="revoked"):
        verify_token(secret, db_url=postgres_url)
    second, secret = create_token(name="ci", role=Role.VIEWER, db_url=postgres_url)
    assert verify_token(secret, db_url=postgres_url).id == second.id
    assert any_token_exists(db_url=postgres_url)
