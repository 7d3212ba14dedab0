"""One suite for the metadata store, run against every backend: SQLite and PostgreSQL."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from rayline.engine.records import ExecutionStatus, StepStatus
from rayline.engine.repository import PipelineRepository
from rayline.errors import ConflictError, NotFoundError
from rayline.store.db import open_database


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def repo(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'meta.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    return PipelineRepository(open_database(url))


def test_migrated_schema_has_every_table(repo):
    names = set(sa.inspect(repo.db.engine).get_table_names())
    assert {
        "pipelines",
        "pipeline_versions",
        "executions",
        "step_runs",
        "events",
        "alembic_version",
    } <= names


def test_pipeline_versions(repo):
    assert repo.upsert_pipeline("p", '{"v": 1}', "first") == 1
    assert repo.upsert_pipeline("p", '{"v": 1}', "first") == 1  # unchanged: same version
    assert repo.upsert_pipeline("p", '{"v": 2}', "second") == 2
    assert repo.get_definition("p") == (2, '{"v": 2}')
    assert repo.get_definition("p", 1) == (1, '{"v": 1}')
    assert [p.name for p in repo.list_pipelines()] == ["p"]
    with pytest.raises(NotFoundError, match="pipeline 'nope' does not exist"):
        repo.get_pipeline("nope")


def test_execution_lifecycle_and_event_log(repo):
    repo.upsert_pipeline("p", "{}")
    repo.create_execution("e1", "p", 1, {"T": 1.5}, max_parallel_steps=3)
    record = repo.get_execution("e1")
    assert record.status == ExecutionStatus.EXECUTING and record.parameters == {"T": 1.5}
    repo.record_step(
        "e1",
        "A",
        StepStatus.STARTING,
        create={"pipeline_name": "p", "step_type": "Processing"},
        attempts=1,
    )
    repo.record_step("e1", "A", StepStatus.EXECUTING)
    repo.record_step(
        "e1",
        "A",
        StepStatus.SUCCEEDED,
        outputs={"out": "file:///x"},
        properties={"Return": [1, 2]},
        cache_key="k1",
    )
    assert repo.set_execution_status(
        "e1", ExecutionStatus.STOPPING, only_from=(ExecutionStatus.EXECUTING,)
    )
    assert not repo.set_execution_status(
        "e1", ExecutionStatus.STOPPING, only_from=(ExecutionStatus.EXECUTING,)
    )
    repo.set_execution_status("e1", ExecutionStatus.STOPPED, failure_reason="stopped by request")
    run = repo.get_step_run("e1", "A")
    assert run.status == StepStatus.SUCCEEDED and run.outputs == {"out": "file:///x"}
    assert run.properties == {"Return": [1, 2]} and run.ended_at >= run.started_at
    events = repo.list_events("e1")
    assert [(e.step_name, e.status) for e in events] == [
        (None, "Executing"),
        ("A", "Starting"),
        ("A", "Executing"),
        ("A", "Succeeded"),
        (None, "Stopping"),
        (None, "Stopped"),
    ]
    assert repo.list_events("e1", after_id=events[3].id)[0].status == "Stopping"
    assert repo.get_execution("e1").ended_at is not None


def test_cache_lookup_honours_key_status_and_window(repo):
    repo.upsert_pipeline("p", "{}")
    for eid, key, status in (
        ("e1", "k", StepStatus.SUCCEEDED),
        ("e2", "k", StepStatus.FAILED),
        ("e3", "other", StepStatus.SUCCEEDED),
    ):
        repo.create_execution(eid, "p", 1, {}, max_parallel_steps=None)
        repo.record_step(
            eid, "A", StepStatus.STARTING, create={"pipeline_name": "p", "step_type": "Function"}
        )
        repo.record_step(eid, "A", status, cache_key=key)
    hit = repo.find_cached("p", "A", "k", not_before=None)
    assert hit is not None and hit.execution_id == "e1"
    assert repo.find_cached("p", "A", "k", not_before=time.time() + 1) is None
    assert repo.find_cached("p", "B", "k", not_before=None) is None


def test_delete_pipeline_refuses_while_running_then_removes_everything(repo):
    repo.upsert_pipeline("p", "{}")
    repo.create_execution("e1", "p", 1, {}, max_parallel_steps=None)
    with pytest.raises(ConflictError, match="running execution"):
        repo.delete_pipeline("p")
    repo.set_execution_status("e1", ExecutionStatus.FAILED, failure_reason="x")
    repo.delete_pipeline("p")
    with pytest.raises(NotFoundError):
        repo.get_execution("e1")
    assert repo.list_pipelines() == []


@pytest.mark.postgres
def test_a_nul_character_is_the_callers_error_on_postgresql(postgres_url):
    # Found by the API fuzz: an id or name with U+0000 was psycopg's DataError (a 500).
    from rayline.errors import UserInputError

    repo = PipelineRepository(open_database(postgres_url))
    with pytest.raises(UserInputError, match=r"'a\\x00b' holds a NUL character"):
        repo.find_execution("a\x00b")
    with pytest.raises(UserInputError, match="NUL character"):
        repo.upsert_pipeline("p\x00", "{}")
    assert repo.list_pipelines() == [] and repo.find_execution("ab") is None
