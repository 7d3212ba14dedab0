"""The model registry and endpoints through a server: with ``RAYLINE_SERVER_URL`` and
``RAYLINE_TOKEN``, ``ModelRegistry``, ``Endpoints`` and ``rayline model`` / ``rayline endpoint``
call its REST API, as the token's identity, and write nothing under the client's home.

The server runs in a thread of this process (with authentication on), its state pinned to its
own home by ``RAYLINE_DB_URL`` / ``RAYLINE_ARTIFACT_URI``; the client's ``RAYLINE_HOME`` is
another, empty directory. Endpoints run on the session's Ray Serve.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.conftest import serve_in_thread
from tests.integration.server.conftest import wait_healthy

from rayline.errors import ConflictError, NotFoundError, PermissionDeniedError, UserInputError
from rayline.registry import ApprovalStatus, ModelRegistry
from rayline.serving import Endpoints

pytestmark = [pytest.mark.ray, pytest.mark.server, pytest.mark.slow]

ROW = "2008,3063.66,2,1.0,1.37,2,0,0"


@dataclass
class Remote:
    url: str
    tokens: dict[str, str]
    server_home: Path
    client_home: Path
    monkeypatch: pytest.MonkeyPatch

    def act_as(self, name: str) -> None:
        """Present ``name``'s token from now on (new facades pick it up)."""
        self.monkeypatch.setenv("RAYLINE_TOKEN", self.tokens[name])


@pytest.fixture
def remote(rayline_home, ray_session, serve_port, tmp_path, monkeypatch) -> Iterator[Remote]:
    """A server in a thread (authentication on; tokens for an operator and an approver) and
    this process as its client, with an empty home of its own."""
    from rayline.auth import Role, create_token
    from rayline.config import settings
    from rayline.server.app import create_app

    monkeypatch.setenv("RAYLINE_SERVER_AUTH", "on")
    monkeypatch.delenv("RAYLINE_SERVER_URL", raising=False)
    tokens = {
        name: create_token(name=name, role=role)[1]
        for name, role in (("otto", Role.OPERATOR), ("bob", Role.APPROVER))
    }
    server = settings()
    # The server keeps its state where it is while this process's home moves elsewhere.
    monkeypatch.setenv("RAYLINE_DB_URL", server.db_url)
    monkeypatch.setenv("RAYLINE_ARTIFACT_URI", server.artifact_uri)
    monkeypatch.setenv("RAYLINE_ONLINE_STORE_URI", server.online_store_uri)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server.mlflow_tracking_uri)
    client_home = tmp_path / "client-home"
    with serve_in_thread(create_app(services=False)) as url:
        wait_healthy(url)
        monkeypatch.setenv("RAYLINE_HOME", str(client_home))
        monkeypatch.setenv("RAYLINE_SERVER_URL", url)
        running = Remote(url, tokens, rayline_home, client_home, monkeypatch)
        running.act_as("otto")
        try:
            yield running
        finally:
            monkeypatch.delenv("RAYLINE_SERVER_URL")
            endpoints = Endpoints(db_url=server.db_url)
            for endpoint in endpoints.list():  # a failed test leaves no endpoint behind
                endpoints.delete(endpoint.name)


def _register(registry: ModelRegistry, model_dir: Path, **options):
    return registry.register(
        "housing",
        model=str(model_dir / "model.ubj"),
        preprocessor=str(model_dir / "preprocessor.json"),
        metrics=str(model_dir / "evaluation"),
        **options,
    )


def _prediction(answer: tuple[bytes, str]) -> float:
    body, media = answer
    assert media == "text/csv", answer
    return float(body.decode().strip())


def test_registry_and_endpoints_through_the_server(remote: Remote, tiny_models):
    registry = ModelRegistry()
    group = registry.create_group("housing", description="through the server")
    assert (group.name, group.description, group.created_by) == (
        "housing",
        "through the server",
        "otto",
    )
    with pytest.raises(ConflictError):
        registry.create_group("housing")
    assert registry.create_group("housing", exist_ok=True).name == "housing"

    # Registering uploads the local files; the server copies them into its artifact store.
    first = _register(registry, tiny_models[0], description="first")
    second = _register(registry, tiny_models[1])
    assert (first.ref, first.created_by, first.status) == (
        "housing/1",
        "otto",
        ApprovalStatus.PENDING,
    )
    assert second.version == 2
    assert first.model_uri.startswith((remote.server_home / "artifacts").as_uri())
    report = json.loads((tiny_models[0] / "evaluation" / "evaluation.json").read_text())
    assert first.inference_spec.input_columns
    assert first.metric("rmse") == pytest.approx(report["regression_metrics"]["rmse"]["value"])
    assert first.history[0].by == "otto"
    assert registry.describe("housing", 1).description == "first"
    assert registry.describe("housing").version == 2
    assert [(g.name, g.version_count, g.latest_version) for g in registry.list_groups()] == [
        ("housing", 2, 2)
    ]
    assert registry.describe_group("housing").version_count == 2
    assert [v.version for v in registry.list_versions("housing")] == [2, 1]
    assert [v.ref for v in registry.list_versions()] == ["housing/2", "housing/1"]
    assert registry.list_versions(status="approved") == []
    assert registry.latest("housing", status=None).version == 2
    with pytest.raises(NotFoundError, match="approve one with"):
        registry.latest("housing")
    with pytest.raises(NotFoundError, match="no version 9"):
        registry.describe("housing", 9)
    assert registry.registered_by("no-such-execution") == []

    # An operator may not approve; an approver may, and the history names the token's identity.
    with pytest.raises(PermissionDeniedError, match="approver"):
        registry.approve("housing", 1)
    remote.act_as("bob")
    registry = ModelRegistry()
    with pytest.raises(UserInputError, match="RAYLINE_TOKEN"):
        registry.approve("housing", 1, by="someone-else")
    with pytest.raises(UserInputError):
        registry.reject("housing", 1)  # a rejection needs its reason
    with pytest.raises(UserInputError, match="approved or rejected"):
        registry.update_status("housing", 1, "PendingManualApproval")
    approved = registry.approve("housing", 1, reason="metrics ok")
    assert approved.status == ApprovalStatus.APPROVED
    change = registry.history("housing", 1)[-1]
    assert (change.to_status, change.by, change.reason) == ("Approved", "bob", "metrics ok")
    assert registry.latest("housing").version == 1

    # Endpoints: deployed on the server's Ray, invoked through the server.
    remote.act_as("otto")
    endpoints = Endpoints()
    with pytest.raises(ConflictError, match="housing/2 is PendingManualApproval"):
        endpoints.create("housing-remote", "housing/2")
    endpoint = endpoints.create("housing-remote", "housing/1")
    assert (endpoint.status, endpoint.model_version) == ("InService", "housing/1")
    assert endpoint.events[0].by == "otto"
    first_prediction = _prediction(endpoints.invoke("housing-remote", ROW + "\n"))
    answer, media = endpoints.invoke(
        "housing-remote",
        json.dumps({"instances": [[float(x) for x in ROW.split(",")]]}),
        content_type="application/json",
        accept="application/json",
    )
    assert media == "application/json" and json.loads(answer)
    with pytest.raises(UserInputError):
        endpoints.invoke("housing-remote", "not,a,row\n")
    assert endpoints.describe("housing-remote").live is True
    assert [e.name for e in endpoints.list()] == ["housing-remote"]
    assert [e.name for e in endpoints.serving("housing", 1)] == ["housing-remote"]
    assert endpoints.serving("housing", 2) == []
    with pytest.raises(UserInputError, match="does not expose"):
        endpoints.replica_nodes("housing-remote")
    with pytest.raises(UserInputError, match="does not expose"):
        endpoints.redeploy_all()

    remote.act_as("bob")
    ModelRegistry().approve("housing", 2, reason="better")
    remote.act_as("otto")
    updated = endpoints.update("housing-remote", "housing/2")
    assert updated.model_version == "housing/2"
    assert _prediction(endpoints.invoke("housing-remote", ROW)) != first_prediction
    with pytest.raises(ConflictError, match="housing-remote"):
        registry.delete_version("housing", 2)
    endpoints.delete("housing-remote")
    assert endpoints.list() == []
    with pytest.raises(NotFoundError):
        endpoints.describe("housing-remote")

    registry.delete_version("housing", 2)
    assert [v.version for v in registry.list_versions("housing")] == [1]
    with pytest.raises(ConflictError):
        registry.delete_group("housing")
    assert registry.delete_group("housing", force=True) == 1
    assert registry.list_groups() == []
    assert not remote.client_home.exists() or list(remote.client_home.rglob("*")) == []


def test_cli_through_the_server(remote: Remote, tiny_models, capsys):
    from rayline.cli.main import main

    def rayline(*args: str) -> str:
        capsys.readouterr()
        assert main(list(args)) == 0, capsys.readouterr()
        return capsys.readouterr().out

    model = tiny_models[0]
    registered = json.loads(
        rayline(
            "model", "register", "housing", "--model", str(model / "model.ubj"),
            "--preprocessor", str(model / "preprocessor.json"),
            "--metrics", str(model / "evaluation"), "--json",
        )
    )  # fmt: skip
    assert registered["ModelPackageVersion"] == 1
    groups = json.loads(rayline("model", "groups", "--json"))
    assert [(g["name"], g["version_count"]) for g in groups] == [("housing", 1)]
    listed = json.loads(rayline("model", "list", "housing", "--json"))
    assert [v["ModelApprovalStatus"] for v in listed] == ["PendingManualApproval"]
    assert "Approval history" in rayline("model", "describe", "housing/1")

    # --by does not apply through the server: its token's identity is who approved.
    remote.act_as("bob")
    assert main(["model", "approve", "housing/1", "--by", "mallory"]) != 0
    assert "RAYLINE_TOKEN" in capsys.readouterr().err
    assert "Approved" in rayline("model", "approve", "housing/1", "--reason", "ok")
    history = json.loads(rayline("model", "history", "housing/1", "--json"))
    assert (history[-1]["To"], history[-1]["By"]) == ("Approved", "bob")

    remote.act_as("otto")
    created = json.loads(rayline("endpoint", "create", "housing-cli", "housing/1", "--json"))
    assert created["EndpointStatus"] == "InService"
    assert float(rayline("endpoint", "invoke", "housing-cli", "--body", ROW).strip())
    assert "housing-cli" in rayline("endpoint", "list")
    assert "housing/1" in rayline("endpoint", "describe", "housing-cli")
    rayline("endpoint", "delete", "housing-cli")
    assert json.loads(rayline("endpoint", "list", "--json")) == []
    rayline("model", "delete", "housing", "--force")
    assert json.loads(rayline("model", "groups", "--json")) == []
    assert not remote.client_home.exists() or list(remote.client_home.rglob("*")) == []
