"""The model registry's one test suite, run on every metadata DB backend (SQLite, PostgreSQL)."""

from __future__ import annotations

import json
import threading

import pytest

from rayline.errors import ConflictError, NotFoundError, SchemaError, UserInputError
from rayline.registry import ApprovalStatus, ModelRegistry
from rayline.store.artifacts import to_path


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def registry(request, rayline_home):
    if request.param == "sqlite":
        return ModelRegistry()
    return ModelRegistry(db_url=request.getfixturevalue("postgres_url"))


def _register(registry, tiny_model, group="housing", **kw):
    return registry.register(
        group,
        model=(tiny_model / "model.ubj").as_uri(),
        preprocessor=str(tiny_model / "preprocessor.json"),
        metrics=(tiny_model / "evaluation").as_uri(),
        **kw,
    )


def _known_rmse(tiny_model) -> float:
    """The RMSE train_tiny_model computed and wrote into the model's evaluation report."""
    report = json.loads((tiny_model / "evaluation" / "evaluation.json").read_text())
    return report["regression_metrics"]["rmse"]["value"]


def test_register_numbers_versions_and_copies_artifacts(registry, tiny_model):
    first = _register(registry, tiny_model, mlflow_run_id="run-1", execution_id="exec-1")
    second = _register(registry, tiny_model)
    assert (first.version, second.version) == (1, 2)
    assert first.status == ApprovalStatus.PENDING
    assert first.inference_spec.input_columns[:2] == ("YEAR_BUILT", "SQUARE_FEET")
    assert first.inference_spec.label == "PRICE"
    assert first.metric("rmse") == pytest.approx(_known_rmse(tiny_model))
    assert (first.mlflow_run_id, first.execution_id) == ("run-1", "exec-1")
    # Copied under registry/GROUP/VERSION, independent of the source files.
    assert "/registry/housing/1/" in first.model_uri
    assert to_path(first.model_uri).read_bytes() == (tiny_model / "model.ubj").read_bytes()
    assert first.sources["metrics"].endswith("evaluation/evaluation.json")
    group = registry.describe_group("housing")
    assert (group.version_count, group.latest_version) == (2, 2)
    assert [v.version for v in registry.list_versions("housing")] == [2, 1]


def test_approval_history_records_who_when_why(registry, tiny_model, monkeypatch):
    mp = _register(registry, tiny_model)
    monkeypatch.setenv("RAYLINE_USER", "alice")
    registry.approve("housing", mp.version, reason="RMSE under threshold")
    registry.update_status("housing", mp.version, "rejected", reason="drift", by="bob")
    history = registry.describe("housing", mp.version).history
    assert [(h.from_status, h.to_status) for h in history] == [
        (None, "PendingManualApproval"),
        ("PendingManualApproval", "Approved"),
        ("Approved", "Rejected"),
    ]
    assert [h.by for h in history[1:]] == ["alice", "bob"]
    assert history[1].reason == "RMSE under threshold"
    assert history[1].at <= history[2].at
    with pytest.raises(ConflictError, match="Rejected already"):
        registry.reject("housing", mp.version)
    with pytest.raises(UserInputError, match="not one of"):
        registry.update_status("housing", mp.version, "Maybe")


def test_latest_approved_and_filters(registry, tiny_model):
    for _ in range(3):
        _register(registry, tiny_model)
    with pytest.raises(NotFoundError, match="approve one"):
        registry.latest("housing")
    registry.approve("housing", 1)
    registry.approve("housing", 2)
    assert registry.latest("housing").version == 2
    assert [v.version for v in registry.list_versions("housing", status="Approved")] == [2, 1]
    assert [v.version for v in registry.list_versions(status="PendingManualApproval")] == [3]


def test_not_found_messages_name_what_exists(registry, tiny_model):
    _register(registry, tiny_model)
    with pytest.raises(NotFoundError, match=r"no version 9; it has 1"):
        registry.describe("housing", 9)
    with pytest.raises(NotFoundError, match=r"'nope' does not exist \(groups: 'housing'\)"):
        registry.describe_group("nope")


def test_bad_inputs_are_refused(registry, tiny_model, tmp_path):
    with pytest.raises(UserInputError, match="does not exist"):
        registry.register("housing", model=str(tmp_path / "missing.ubj"))
    (tmp_path / "bad.json").write_text('{"columns": ["a"], "means": [], "stds": [1]}')
    with pytest.raises(SchemaError, match="same length"):
        registry.register(
            "housing", model=str(tiny_model / "model.ubj"), preprocessor=str(tmp_path / "bad.json")
        )
    with pytest.raises(SchemaError, match="cannot tell the input columns"):
        registry.register("housing", model=str(tiny_model / "model.ubj"))
    with pytest.raises(UserInputError, match="not valid"):
        registry.create_group("bad name!")
    with pytest.raises(UserInputError, match="content type"):
        _register(registry, tiny_model, content_types=("text/plain",))


def test_delete_versions_and_groups(registry, tiny_model):
    a = _register(registry, tiny_model)
    _register(registry, tiny_model)
    registry.delete_version("housing", a.version)
    assert not to_path(a.model_uri).exists()
    assert [v.version for v in registry.list_versions("housing")] == [2]
    # Numbers are never reused.
    assert _register(registry, tiny_model).version == 3
    with pytest.raises(ConflictError, match="still holds 2 version"):
        registry.delete_group("housing")
    assert registry.delete_group("housing", force=True) == 2
    assert registry.list_groups() == []
    registry.create_group("empty", description="nothing yet")
    with pytest.raises(ConflictError, match="exists already"):
        registry.create_group("empty")
    assert registry.delete_group("empty") == 0


def test_a_deployed_version_is_not_deleted(registry, tiny_model):
    """Serving records which endpoint serves which version through the registry (in its own
    transaction); the registry then refuses to delete it, naming the endpoint, without reading
    serving's tables, and the database's ON DELETE RESTRICT refuses it too."""
    import sqlalchemy as sa

    from rayline.registry.schema import model_packages

    a = _register(registry, tiny_model)
    b = _register(registry, tiny_model)
    embedded = registry._backend  # what serving writes through, in its own transactions
    with embedded.db.begin() as conn:
        embedded.record_deployment(conn, "prod", a)
        embedded.record_deployment(conn, "prod", b)  # an update moves the hold
        embedded.record_deployment(conn, "canary", b)
    registry.delete_version("housing", a.version)
    with pytest.raises(ConflictError, match=r"canary \(serves housing/2\), prod \(serves"):
        registry.delete_version("housing", b.version)
    with pytest.raises(ConflictError, match="still serve this model"):
        registry.delete_group("housing", force=True)
    with pytest.raises(sa.exc.IntegrityError), embedded.db.begin() as conn:
        conn.execute(model_packages.delete().where(model_packages.c.version == b.version))
    with embedded.db.begin() as conn:
        embedded.release_deployment(conn, "prod")
        embedded.release_deployment(conn, "canary")
    registry.delete_version("housing", b.version)
    assert registry.list_versions("housing") == []


def test_registered_by_lists_an_executions_versions(registry, tiny_model):
    _register(registry, tiny_model, execution_id="exec-1")
    _register(registry, tiny_model, execution_id="exec-2")
    _register(registry, tiny_model, execution_id="exec-1")
    assert sorted(p.version for p in registry.registered_by("exec-1")) == [1, 3]
    assert registry.registered_by("exec-3") == []


def test_concurrent_registrations_get_distinct_versions(registry, tiny_model):
    registry.create_group("housing")
    versions, errors = [], []

    def worker():
        try:
            versions.append(_register(registry, tiny_model).version)
        except Exception as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(versions) == [1, 2, 3, 4]


def _started_by(registry, user: str) -> str:
    """An execution record started by ``user`` (no Ray: the four-eyes rule reads only this)."""
    from rayline.engine.repository import PipelineRepository

    execution_id = f"exec-{user}"
    PipelineRepository(registry._backend.db).create_execution(
        execution_id, "housing-pipe", 1, {}, max_parallel_steps=None, started_by=user
    )
    return execution_id


def test_four_eyes_on_a_version_an_execution_registered(registry, tiny_model, monkeypatch):
    from rayline.errors import PermissionDeniedError

    monkeypatch.delenv("RAYLINE_ALLOW_SELF_APPROVAL", raising=False)
    mine = _register(registry, tiny_model, execution_id=_started_by(registry, "alice"))
    by_hand = _register(registry, tiny_model)
    # alice (the acting user, as the CLI or the server's request sets it) started the execution.
    monkeypatch.setenv("RAYLINE_USER", "alice")
    with pytest.raises(PermissionDeniedError, match="four eyes") as refused:
        registry.approve("housing", mine.version, reason="mine")
    assert "'alice' started execution exec-alice" in str(refused.value)
    assert "RAYLINE_ALLOW_SELF_APPROVAL=true" in str(refused.value)
    with pytest.raises(PermissionDeniedError, match="four eyes"):
        registry.update_status("housing", mine.version, "Approved")
    assert registry.describe("housing", mine.version).status == ApprovalStatus.PENDING
    # She may approve a version no execution registered, and reject her own.
    assert registry.approve("housing", by_hand.version).history[-1].by == "alice"
    registry.reject("housing", mine.version, reason="regressed")
    # Another identity may approve it; so may she once self-approval is allowed.
    assert registry.approve("housing", mine.version, by="bob").history[-1].by == "bob"
    registry.reject("housing", mine.version, reason="again")
    monkeypatch.setenv("RAYLINE_ALLOW_SELF_APPROVAL", "true")
    assert registry.approve("housing", mine.version).history[-1].by == "alice"


def test_a_rejection_needs_a_reason(registry, tiny_model):
    mp = _register(registry, tiny_model)
    for blank in ("", "   \n"):
        with pytest.raises(UserInputError, match="give the reason for the rejection"):
            registry.reject("housing", mp.version, reason=blank)
        with pytest.raises(UserInputError, match="give the reason for the rejection"):
            registry.update_status("housing", mp.version, "Rejected", reason=blank)
    assert registry.describe("housing", mp.version).status == ApprovalStatus.PENDING
    rejected = registry.reject("housing", mp.version, reason="  drift  ")
    assert (rejected.status, rejected.history[-1].reason) == (ApprovalStatus.REJECTED, "drift")


@pytest.mark.parametrize(
    "content",
    [b"not a model at all", b"\x89PNG\r\n\x1a\n" + bytes(20)],
    ids=["text", "bytes-xgboost-cannot-decode"],
)
def test_a_file_that_is_no_xgboost_model_is_refused_by_name(registry, tmp_path, content):
    # The second: XGBoost quotes the bytes in its error and fails to decode them (a 500 the
    # fuzzer found through the register route).
    bogus = tmp_path / "model.ubj"
    bogus.write_bytes(content)
    with pytest.raises(SchemaError, match="is not an XGBoost model file"):
        registry.register("housing", model=str(bogus))
    assert registry.list_groups() == [] or registry.list_versions("housing") == []
