"""Schedules, webhooks, API tokens and the audit log through a server: with
``RAYLINE_SERVER_URL`` and an admin's ``RAYLINE_TOKEN``, the Python API and the CLI of a client
with an empty ``RAYLINE_HOME`` work on the server's state and write nothing on the client.

The server runs in a thread of this process (authentication on, services off: nothing here
needs them), on a metadata DB named by ``RAYLINE_DB_URL`` in the server's own directory; this
process, the client, has an empty home of its own. What the server records shows the calls went
through it: the admin token's identity as creator, and the audit log of its requests. The CLI
runs as subprocesses with only the client's home, the URL and the token (no DB setting at all).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.conftest import serve_in_thread

from rayline import ParameterInteger, Pipeline, step
from rayline.auth import Role, create_token, get_token, list_audit, list_tokens, revoke_token
from rayline.errors import (
    AuthenticationError,
    ConflictError,
    NotFoundError,
    ParameterError,
    PermissionDeniedError,
    UserInputError,
)
from rayline.schedules.api import (
    create_schedule,
    delete_schedule,
    get_schedule,
    list_schedules,
    pause_schedule,
    resume_schedule,
)
from rayline.webhooks.api import (
    create_webhook,
    delete_webhook,
    get_webhook,
    list_deliveries,
    list_webhooks,
    ping_webhook,
    update_webhook,
)

pytestmark = [pytest.mark.server]

NIGHTLY = "0 2 * * *"


@dataclass
class Remote:
    url: str
    admin: str
    viewer: str
    client_home: Path

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        """``rayline ARGS`` in a process that has only the client's home, the URL and the
        admin's token."""
        env = {
            k: v for k, v in os.environ.items() if not k.startswith(("RAYLINE_", "AWS_", "MLFLOW_"))
        }
        env.update(
            RAYLINE_HOME=str(self.client_home),
            RAYLINE_SERVER_URL=self.url,
            RAYLINE_TOKEN=self.admin,
        )
        return subprocess.run(
            [sys.executable, "-m", "rayline.cli.main", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def cli_json(self, *args: str) -> object:
        done = self.cli(*args, "--json")
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    def client_files(self) -> list[Path]:
        return sorted(self.client_home.rglob("*")) if self.client_home.exists() else []


def doubling_pipeline() -> Pipeline:
    n = ParameterInteger("n", default_value=1)

    @step
    def double(value):
        return value * 2

    return Pipeline("doubling", parameters=[n], steps=[double(n)])


@pytest.fixture
def remote(tmp_path, monkeypatch) -> Iterator[Remote]:
    """A server (auth on, its DB and artifacts in its own directory) with an admin and a viewer
    token and a stored pipeline; this process set up as its client, with an empty home."""
    from rayline.server.app import create_app

    server_dir = tmp_path / "server"
    monkeypatch.setenv("RAYLINE_HOME", str(server_dir))
    monkeypatch.setenv("RAYLINE_DB_URL", f"sqlite:///{server_dir / 'rayline.db'}")
    monkeypatch.setenv("RAYLINE_ARTIFACT_URI", (server_dir / "artifacts").as_uri())
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("RAYLINE_SERVER_URL", raising=False)
    monkeypatch.setenv("RAYLINE_SERVER_AUTH", "on")
    _, admin = create_token(name="root", role=Role.ADMIN)
    _, viewer = create_token(name="vera", role=Role.VIEWER)
    doubling_pipeline().upsert()

    client_home = tmp_path / "client-home"
    monkeypatch.setenv("RAYLINE_HOME", str(client_home))
    with serve_in_thread(create_app(services=False), name="rayline-remote-automation") as url:
        monkeypatch.setenv("RAYLINE_SERVER_URL", url)
        monkeypatch.setenv("RAYLINE_TOKEN", admin)
        yield Remote(url, admin, viewer, client_home)


def test_the_python_api_manages_schedules_webhooks_and_tokens_through_the_server(
    remote, monkeypatch
):
    # Schedules: made by the server (the admin token's identity), checked against its pipeline.
    nightly = create_schedule("nightly", pipeline="doubling", cron=NIGHTLY, parameters={"n": 3})
    assert nightly.created_by == "root" and nightly.parameters == {"n": 3}
    assert len(nightly.next_runs) == 5 and isinstance(nightly.next_runs, tuple)
    create_schedule("weekly", pipeline="doubling", cron="0 3 * * 1", version=1)
    with pytest.raises(ConflictError, match="exists already"):
        create_schedule("nightly", pipeline="doubling", cron=NIGHTLY)
    with pytest.raises(NotFoundError, match="nope"):
        create_schedule("other", pipeline="nope", cron=NIGHTLY)
    with pytest.raises(ParameterError, match="unknown parameter"):
        create_schedule("other", pipeline="doubling", cron=NIGHTLY, parameters={"m": 1})
    with pytest.raises(UserInputError, match="cron expression"):
        create_schedule("other", pipeline="doubling", cron="61 * * * *")
    assert [s.name for s in list_schedules()] == ["nightly", "weekly"]
    assert [s.name for s in list_schedules(offset=1)] == ["weekly"]
    assert [s.name for s in list_schedules(limit=1)] == ["nightly"]
    assert list_schedules(pipeline="other") == []
    assert get_schedule("weekly").pipeline_version == 1
    paused = pause_schedule("nightly")
    assert paused.paused and paused.next_runs == ()
    resumed = resume_schedule("nightly")
    assert not resumed.paused and len(resumed.next_runs) == 5
    delete_schedule("weekly")
    with pytest.raises(NotFoundError):
        get_schedule("weekly")

    # Webhooks: the server makes the secret and returns it this once.
    webhook, secret = create_webhook(
        "https://ci.example.com/hooks/rayline", events=["execution.status_changed"]
    )
    assert secret.startswith("whsec_") and webhook.created_by == "root"
    assert webhook.events == ("execution.status_changed",)
    assert [w.id for w in list_webhooks()] == [webhook.id]
    assert not update_webhook(webhook.id, active=False).active
    with pytest.raises(ConflictError, match="inactive"):
        ping_webhook(webhook.id)
    changed = update_webhook(webhook.id, active=True, events="*", description="CI")
    assert changed.active and changed.events == ("*",) and changed.description == "CI"
    ping = ping_webhook(webhook.id)
    assert ping.event_type == "ping" and ping.status.value == "pending"
    assert [d.id for d in list_deliveries(webhook.id)] == [ping.id]
    assert get_webhook(webhook.id).url == "https://ci.example.com/hooks/rayline"
    with pytest.raises(UserInputError, match="not an http"):
        create_webhook("ftp://example.com")
    delete_webhook(webhook.id)
    with pytest.raises(NotFoundError):
        get_webhook(webhook.id)

    # Tokens: created by the admin on the server; a revoked one stops working there.
    record, token = create_token(name="ci", role=Role.OPERATOR)
    assert record.created_by == "root" and record.role is Role.OPERATOR
    assert [t.name for t in list_tokens()] == ["root", "vera", "ci"]
    assert get_token(record.id).name == "ci"
    with pytest.raises(UserInputError, match="created_by"):
        create_token(name="other", role=Role.VIEWER, created_by="someone")
    monkeypatch.setenv("RAYLINE_TOKEN", token)
    assert [s.name for s in list_schedules()] == ["nightly"]  # the operator reads
    monkeypatch.setenv("RAYLINE_TOKEN", remote.admin)
    assert not revoke_token(record.id).active
    assert [t.name for t in list_tokens(include_revoked=False)] == ["root", "vera"]
    with pytest.raises(NotFoundError):
        revoke_token("nosuchid")
    monkeypatch.setenv("RAYLINE_TOKEN", token)
    with pytest.raises(AuthenticationError, match="revoked"):
        list_schedules()

    # A viewer reads schedules but may not change them, nor see tokens or the audit log.
    monkeypatch.setenv("RAYLINE_TOKEN", remote.viewer)
    assert [s.name for s in list_schedules()] == ["nightly"]
    with pytest.raises(PermissionDeniedError):
        pause_schedule("nightly")
    with pytest.raises(PermissionDeniedError):
        list_tokens()
    with pytest.raises(PermissionDeniedError):
        list_audit()

    # The server's audit log has every change, by who made it.
    monkeypatch.setenv("RAYLINE_TOKEN", remote.admin)
    rows = list_audit(identity="root")
    assert ("POST", "/api/v1/schedules", 201) in [(r.method, r.path, r.status) for r in rows]
    newest = list_audit(limit=2)
    assert (newest[0].identity, newest[0].status) == ("vera", 403)  # the refused pause
    assert list_audit(offset=1, limit=1)[0].id == newest[1].id
    delete_schedule("nightly")

    assert remote.client_files() == []


def test_the_cli_manages_schedules_webhooks_and_tokens_through_the_server(remote):
    created = remote.cli_json(
        "schedule", "create", "nightly", "--pipeline", "doubling", "--cron", NIGHTLY, "-p", "n=3"
    )
    assert created["created_by"] == "root" and created["parameters"] == {"n": 3}
    assert [s["name"] for s in remote.cli_json("schedule", "list")] == ["nightly"]
    assert remote.cli_json("schedule", "pause", "nightly")["paused"] is True
    assert remote.cli_json("schedule", "resume", "nightly")["paused"] is False
    assert remote.cli("schedule", "delete", "nightly").returncode == 0
    assert remote.cli_json("schedule", "list") == []
    missing = remote.cli("schedule", "describe", "nightly")
    assert missing.returncode != 0 and "nightly" in missing.stderr

    made = remote.cli_json("webhook", "create", "https://ci.example.com/hooks/rayline")
    webhook_id = made["webhook"]["id"]
    assert made["secret"].startswith("whsec_") and made["webhook"]["created_by"] == "root"
    assert [w["id"] for w in remote.cli_json("webhook", "list")] == [webhook_id]
    assert remote.cli_json("webhook", "ping", webhook_id)["event_type"] == "ping"
    assert len(remote.cli_json("webhook", "deliveries", webhook_id)) == 1
    assert remote.cli("webhook", "delete", webhook_id).returncode == 0
    assert remote.cli_json("webhook", "list") == []

    token = remote.cli_json("token", "create", "--name", "ci", "--role", "operator")
    assert token["token"]["created_by"] == "root" and token["secret"].startswith("rl_")
    names = [t["name"] for t in remote.cli_json("token", "list")]
    assert names == ["root", "vera", "ci"]
    assert remote.cli_json("token", "revoke", token["token"]["id"])["active"] is False
    assert [t["name"] for t in remote.cli_json("token", "list", "--active")] == ["root", "vera"]
    shown = remote.cli("token", "list")
    assert shown.returncode == 0 and "vera" in shown.stdout

    assert remote.client_files() == []
