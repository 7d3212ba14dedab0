"""Webhooks over real HTTP: subscribed through the API, fed by a real execution and a real model
approval, POSTed to a real receiver on loopback that verifies every signature with the
``standardwebhooks`` reference library; retried with backoff, every attempt recorded; admin only.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from standardwebhooks import Webhook as Verifier
from standardwebhooks import WebhookVerificationError
from tests.conftest import serve_in_thread

from rayline import ParameterInteger, Pipeline, step

#: The backoff after a first failed attempt in these tests (the dispatcher doubles it).
BACKOFF_S = 0.3


@dataclass
class Received:
    at: float
    path: str
    headers: dict[str, str]
    body: bytes
    #: the payload if the signature verified, else None
    payload: dict | None


@dataclass
class Receiver:
    """A webhook receiver on loopback: records every POST, verifies it with ``secret`` (set it
    once the webhook exists) and answers with the codes of ``script`` in turn, then 200."""

    script: list[int] = field(default_factory=list)
    secret: str | None = None
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        body = request.rfile.read(int(request.headers.get("content-length") or 0))
        headers = {k.lower(): v for k, v in request.headers.items()}
        payload = None
        if self.secret is not None:
            try:
                payload = Verifier(self.secret).verify(body, headers)
            except WebhookVerificationError:
                payload = None
        with self.lock:
            self.received.append(Received(time.time(), request.path, headers, body, payload))
            code = self.script.pop(0) if self.script else 200
        request.send_response(code)
        if 300 <= code < 400:
            request.send_header("Location", self.url + "/redirected")
        request.send_header("Content-Length", "2")
        request.end_headers()
        request.wfile.write(b"ok")

    def posts(self, event_type: str | None = None) -> list[Received]:
        with self.lock:
            got = list(self.received)
        if event_type is None:
            return got
        return [r for r in got if json.loads(r.body)["type"] == event_type]


@pytest.fixture
def receivers() -> Iterator:
    started: list[Receiver] = []

    def start(script: list[int] | None = None) -> Receiver:
        receiver = Receiver(script=list(script or []))

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                receiver.handle(self)

            def log_message(self, *args) -> None:
                pass

        receiver.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=receiver.server.serve_forever, daemon=True).start()
        started.append(receiver)
        return receiver

    yield start
    for receiver in started:
        assert receiver.server is not None
        receiver.server.shutdown()
        receiver.server.server_close()


@pytest.fixture
def fast_webhooks(monkeypatch):
    """The dispatcher polls every 50 ms, backs off from BACKOFF_S, gives up after 3 attempts
    (set before the server starts its webhooks service)."""
    monkeypatch.setenv("RAYLINE_WEBHOOK_POLL_S", "0.05")
    monkeypatch.setenv("RAYLINE_WEBHOOK_BACKOFF_S", str(BACKOFF_S))
    monkeypatch.setenv("RAYLINE_WEBHOOK_MAX_ATTEMPTS", "3")


@pytest.fixture
def server(fast_webhooks, api_server):
    return api_server


def wait_for(predicate, *, timeout: float = 30.0, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def subscribe(client: httpx.Client, receiver: Receiver, events: list[str]) -> dict:
    created = client.post("/webhooks", json={"url": receiver.url, "events": events})
    assert created.status_code == 201, created.text
    receiver.secret = created.json()["secret"]
    return created.json()["webhook"]


def deliveries(client: httpx.Client, webhook_id: str) -> list[dict]:
    response = client.get(f"/webhooks/{webhook_id}/deliveries")
    assert response.status_code == 200, response.text
    return response.json()["items"]


def settled(client: httpx.Client, webhook_id: str, count: int) -> list[dict]:
    """The webhook's ``count`` deliveries once none is pending (a receiver has answered before
    its attempt is recorded)."""

    def ended() -> list[dict] | None:
        found = deliveries(client, webhook_id)
        done = len(found) == count and all(d["status"] != "pending" for d in found)
        return found if done else None

    return wait_for(ended, what=f"{count} deliveries of {webhook_id} to end")


def test_signatures_verify_with_the_standard_webhooks_library():
    from rayline.webhooks.dispatcher import encode
    from rayline.webhooks.signing import new_secret, signed_headers, verify

    secret = new_secret()
    assert secret.startswith("whsec_") and new_secret() != secret
    body = encode({"type": "ping", "data": {"ü": 1}})
    now = int(time.time())
    headers = signed_headers(secret, msg_id="evt_1", timestamp=now, body=body)
    assert headers["webhook-signature"].startswith("v1,")
    assert Verifier(secret).verify(body, headers) == {"type": "ping", "data": {"ü": 1}}
    assert verify(secret, headers=headers, body=body, now=now)
    # A changed body, id or secret, or a timestamp from long ago, does not verify.
    for tampered_body, tampered, key in (
        (body + b" ", headers, secret),
        (body, {**headers, "webhook-id": "evt_2"}, secret),
        (body, headers, new_secret()),
        (body, signed_headers(secret, msg_id="evt_1", timestamp=now - 600, body=body), secret),
    ):
        with pytest.raises(WebhookVerificationError):
            Verifier(key).verify(tampered_body, tampered)
        assert not verify(key, headers=tampered, body=tampered_body, now=now)


def _pipeline() -> Pipeline:
    n = ParameterInteger("n", default_value=1)

    @step
    def triple(value):
        return value * 3

    return Pipeline("hooked", parameters=[n], steps=[triple(n)])


@pytest.mark.ray
@pytest.mark.server
def test_execution_status_changes_reach_a_subscribed_receiver(server, receivers):
    from rayline.executions import Execution

    client = server.client
    receiver = receivers()

    # What the caller gets wrong is refused, saying what.
    for url in ("ftp://example.com/x", "not a url", "http://", "https://u:p@example.com/x"):
        bad = client.post("/webhooks", json={"url": url})
        assert bad.status_code == 422, (url, bad.text)
    unknown = client.post("/webhooks", json={"url": receiver.url, "events": ["model.deleted"]})
    assert unknown.status_code == 422 and "execution.status_changed" in unknown.text
    assert client.post("/webhooks", json={"url": receiver.url, "events": []}).status_code == 422

    webhook = subscribe(client, receiver, ["execution.status_changed"])
    assert webhook["events"] == ["execution.status_changed"] and webhook["active"] is True
    assert receiver.secret.startswith("whsec_") and webhook["created_by"] == "local"
    # The secret is shown at creation only.
    listed = client.get("/webhooks").json()
    assert [w["id"] for w in listed["items"]] == [webhook["id"]] and listed["next_token"] is None
    described = client.get(f"/webhooks/{webhook['id']}").json()
    assert described == webhook and receiver.secret not in json.dumps(listed)

    _pipeline().upsert()
    started = client.post("/pipelines/hooked/executions", json={"parameters": {"n": 4}})
    assert started.status_code == 201, started.text
    execution_id = started.json()["id"]
    assert Execution(execution_id).wait(timeout=120).status == "Succeeded"

    def statuses() -> list[str]:
        return [r.payload["data"]["status"] for r in receiver.posts() if r.payload]

    wait_for(lambda: "Succeeded" in statuses(), what="the Succeeded event")
    posts = receiver.posts()
    assert all(r.payload is not None for r in posts), "a POST whose signature did not verify"
    assert statuses() == ["Executing", "Succeeded"]
    last = posts[-1]
    assert last.payload["type"] == "execution.status_changed"
    assert last.payload["data"] == {
        "execution_id": execution_id,
        "pipeline": "hooked",
        "pipeline_version": 1,
        "status": "Succeeded",
        "failure_reason": None,
        "at": last.payload["data"]["at"],
    }
    assert last.headers["webhook-id"] == last.payload["id"]
    assert abs(int(last.headers["webhook-timestamp"]) - time.time()) < 60
    assert last.headers["content-type"] == "application/json"

    recorded = settled(client, webhook["id"], 2)
    assert [d["payload"]["data"]["status"] for d in recorded] == ["Succeeded", "Executing"]
    assert all(d["status"] == "succeeded" and d["attempts"] == 1 for d in recorded)
    assert all(d["last_status_code"] == 200 and len(d["history"]) == 1 for d in recorded)
    assert {d["event_id"] for d in recorded} == {r.headers["webhook-id"] for r in posts}

    # A ping reaches it whatever it subscribed to.
    ping = client.post(f"/webhooks/{webhook['id']}/ping")
    assert ping.status_code == 202 and ping.json()["status"] == "pending"
    pinged = wait_for(lambda: receiver.posts("ping"), what="the ping")
    assert pinged[0].payload["data"]["webhook_id"] == webhook["id"]

    # Changes: a bad URL is refused; deactivated, it is sent nothing and cannot be pinged.
    assert client.patch(f"/webhooks/{webhook['id']}", json={"url": "gopher://x"}).status_code == 422
    assert client.patch(f"/webhooks/{webhook['id']}", json={"nope": 1}).status_code == 422
    changed = client.patch(f"/webhooks/{webhook['id']}", json={"active": False, "events": ["*"]})
    assert changed.status_code == 200, changed.text
    assert changed.json()["active"] is False and changed.json()["events"] == ["*"]
    assert client.post(f"/webhooks/{webhook['id']}/ping").status_code == 409

    assert client.delete(f"/webhooks/{webhook['id']}").status_code == 204
    assert client.get(f"/webhooks/{webhook['id']}").status_code == 404
    assert client.get(f"/webhooks/{webhook['id']}/deliveries").status_code == 404
    assert client.delete(f"/webhooks/{webhook['id']}").status_code == 404


@pytest.mark.ray
@pytest.mark.server
def test_failed_posts_are_retried_with_backoff_and_every_attempt_recorded(server, receivers):
    client = server.client
    flaky = receivers([500, 500, 200])
    flaky_hook = subscribe(client, flaky, ["*"])
    # Redirects are not followed: a 3xx is a failed attempt; after 3 the delivery has failed.
    moved = receivers([302, 302, 302, 302])
    moved_hook = subscribe(client, moved, ["*"])

    assert client.post(f"/webhooks/{flaky_hook['id']}/ping").status_code == 202
    assert client.post(f"/webhooks/{moved_hook['id']}/ping").status_code == 202

    def ended(webhook_id: str) -> dict | None:
        (delivery,) = deliveries(client, webhook_id)
        return delivery if delivery["status"] != "pending" else None

    done = wait_for(lambda: ended(flaky_hook["id"]), what="the flaky delivery to end")
    assert done["status"] == "succeeded" and done["attempts"] == 3
    assert [a["status_code"] for a in done["history"]] == [500, 500, 200]
    assert [a["attempt"] for a in done["history"]] == [1, 2, 3]
    assert "HTTP 500" in done["history"][0]["error"] and done["history"][2]["error"] is None
    starts = [a["started_at"] for a in done["history"]]
    # Exponential backoff: at least the base after the first failure, twice it after the second.
    assert starts[1] - starts[0] >= BACKOFF_S
    assert starts[2] - starts[1] >= 2 * BACKOFF_S
    # The receiver saw the same event three times, each signed afresh and verified.
    posts = flaky.posts()
    assert len(posts) == 3 and all(p.payload is not None for p in posts)
    assert len({p.headers["webhook-id"] for p in posts}) == 1
    assert posts[0].headers["webhook-id"] == done["event_id"]

    failed = wait_for(lambda: ended(moved_hook["id"]), what="the redirected delivery to fail")
    assert failed["status"] == "failed" and failed["attempts"] == 3
    assert failed["last_status_code"] == 302 and failed["next_attempt_at"] is None
    assert [p.path for p in moved.posts()] == ["/hook"] * 3  # never the Location


@pytest.mark.ray
@pytest.mark.server
def test_a_model_approval_reaches_the_model_subscribers_only(server, receivers, tiny_model):
    from rayline.registry import ModelRegistry

    client = server.client
    registry = ModelRegistry()

    def register():
        return registry.register(
            "churn",
            model=(tiny_model / "model.ubj").as_uri(),
            preprocessor=str(tiny_model / "preprocessor.json"),
            metrics=(tiny_model / "evaluation").as_uri(),
        )

    register()  # before any webhook: no one is told
    models = receivers()
    models_hook = subscribe(client, models, ["model_package.status_changed"])
    executions = receivers()
    executions_hook = subscribe(client, executions, ["execution.status_changed"])

    version = register().version
    registry.approve("churn", version, reason="AUC above the bar", by="release-bot")

    def approved():
        return [
            r for r in models.posts() if r.payload and r.payload["data"]["status"] == "Approved"
        ]

    (post,) = wait_for(approved, what="the Approved event")
    assert post.payload["type"] == "model_package.status_changed"
    assert post.payload["data"] == {
        "group": "churn",
        "version": version,
        "status": "Approved",
        "previous_status": "PendingManualApproval",
        "reason": "AUC above the bar",
        "by": "release-bot",
        "at": post.payload["data"]["at"],
    }
    recorded = settled(client, models_hook["id"], 2)
    assert [
        (d["payload"]["data"]["version"], d["payload"]["data"]["status"]) for d in recorded
    ] == [
        (version, "Approved"),
        (version, "PendingManualApproval"),
    ]
    assert all(r.payload is not None for r in models.posts()) and len(models.posts()) == 2
    assert executions.posts() == [] and deliveries(client, executions_hook["id"]) == []


@pytest.fixture
def auth_server(rayline_home, monkeypatch) -> Iterator[str]:
    """The API with authentication on (no background services), in a thread on loopback."""
    from rayline.server.app import create_app

    monkeypatch.setenv("RAYLINE_SERVER_AUTH", "on")
    monkeypatch.delenv("RAYLINE_SERVER_URL", raising=False)
    with serve_in_thread(create_app(services=False)) as url:
        yield f"{url}/api/v1"


@pytest.mark.server
def test_only_admins_manage_webhooks(auth_server):
    from rayline.auth import Role, create_token

    def client(role: Role) -> httpx.Client:
        _, secret = create_token(name=role.label, role=role)
        return httpx.Client(
            base_url=auth_server, headers={"Authorization": f"Bearer {secret}"}, timeout=30
        )

    admin = client(Role.ADMIN)
    created = admin.post("/webhooks", json={"url": "https://ci.example.com/hook"})
    assert created.status_code == 201, created.text
    hook = created.json()["webhook"]["id"]
    routes = (
        ("GET", "/webhooks", None),
        ("POST", "/webhooks", {"url": "https://ci.example.com/other"}),
        ("GET", f"/webhooks/{hook}", None),
        ("PATCH", f"/webhooks/{hook}", {"active": False}),
        ("GET", f"/webhooks/{hook}/deliveries", None),
        ("POST", f"/webhooks/{hook}/ping", None),
        ("DELETE", f"/webhooks/{hook}", None),
    )
    for role in (Role.VIEWER, Role.OPERATOR, Role.APPROVER):
        other = client(role)
        for method, path, body in routes:
            response = other.request(method, path, json=body)
            assert response.status_code == 403, (role, method, path, response.text)
            assert "admin" in response.json()["detail"]
    assert httpx.get(f"{auth_server}/webhooks").status_code == 401
    assert admin.get(f"/webhooks/{hook}").json()["active"] is True  # nothing changed
    assert admin.delete(f"/webhooks/{hook}").status_code == 204
