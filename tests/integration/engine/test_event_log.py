"""The event log's vocabulary (statuses in ``status``, what happened in ``kind``), the listeners
that react to recorded events, and the migration of event logs written before ``kind`` existed.
Run on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

import rayline.store.db as store_db
from rayline import Pipeline, step
from rayline.engine import listeners
from rayline.engine.records import EventKind, ExecutionStatus, StepStatus
from rayline.engine.repository import PipelineRepository
from rayline.store.db import Database, open_database

MIGRATIONS = Path(store_db.__file__).parent / "migrations"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'meta.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def repo(db_url):
    repo = PipelineRepository(open_database(db_url))
    repo.upsert_pipeline("p", "{}")
    repo.create_execution("e1", "p", 1, {}, max_parallel_steps=None)
    return repo


def test_statuses_and_event_kinds_are_separate(repo):
    repo.record_step(
        "e1", "A", StepStatus.STARTING, create={"pipeline_name": "p", "step_type": "Function"}
    )
    repo.add_event("e1", EventKind.ATTEMPT_FAILED, step_name="A", detail="attempt 1 failed")
    ended = repo.set_execution_status("e1", ExecutionStatus.FAILED, failure_reason="boom")
    assert ended is not None and ended.kind == EventKind.EXECUTION_ENDED
    assert ended.status == ExecutionStatus.FAILED and ended.detail == "boom"
    assert [(e.step_name, e.kind, e.status) for e in repo.list_events("e1")] == [
        (None, EventKind.EXECUTION_STATUS, "Executing"),
        ("A", EventKind.STEP_STATUS, "Starting"),
        ("A", EventKind.ATTEMPT_FAILED, None),
        (None, EventKind.EXECUTION_ENDED, "Failed"),
    ]
    assert repo.list_events("e1")[-1] == ended


def test_listeners_hear_the_kinds_they_subscribe_to_and_never_change_the_outcome(repo, monkeypatch):
    heard.clear()
    monkeypatch.setattr(
        listeners,
        "LISTENERS",
        {EventKind.EXECUTION_ENDED: (f"{__name__}:_record", f"{__name__}:_explode")},
    )
    started = repo.list_events("e1")[0]
    listeners.notify(started, repo)  # nobody subscribes to status changes here
    assert heard == []
    ended = repo.set_execution_status("e1", ExecutionStatus.SUCCEEDED)
    listeners.notify(ended, repo)
    assert heard == [("e1", "Succeeded")]
    failed = repo.list_events("e1", after_id=ended.id)
    assert [(e.kind, e.status) for e in failed] == [(EventKind.LISTENER_FAILED, None)]
    assert failed[0].detail == f"{__name__}:_explode: RuntimeError: the webhook is down"
    assert repo.execution_status("e1") == ExecutionStatus.SUCCEEDED


heard: list[tuple[str, str | None]] = []


def _record(event, repository) -> None:
    heard.append((event.execution_id, repository.get_execution(event.execution_id).status))


def _explode(event, repository) -> None:
    raise RuntimeError("the webhook is down")


@pytest.mark.ray
def test_the_scheduler_hands_every_event_it_records_to_the_listeners(
    ray_session, rayline_home, monkeypatch
):
    heard.clear()
    hear = (f"{__name__}:_hear",)
    monkeypatch.setattr(
        listeners,
        "LISTENERS",
        {EventKind.STEP_STATUS: hear, EventKind.EXECUTION_ENDED: hear},
    )

    @step
    def one():
        return 1

    execution = Pipeline("heard", steps=[one()]).start()
    execution.wait()
    recorded = execution.events()
    assert recorded[0].status == "Executing"  # recorded by start(), before the scheduler runs
    assert heard == [(e.step_name, e.status) for e in recorded[1:]]
    assert heard[-1] == (None, "Succeeded")


def _hear(event, repository) -> None:
    heard.append((event.step_name, event.status))


def test_migration_moves_event_kinds_out_of_the_status_column(db_url):
    db = Database(db_url)  # not open_database: that would upgrade to head at once
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with db.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0005")  # the revision before 0006
    with db.begin() as conn:
        conn.execute(sa.text("INSERT INTO pipelines VALUES ('p', '', 1, 0, 0)"))
        conn.execute(
            sa.text(
                "INSERT INTO executions (id, pipeline_name, pipeline_version, status, parameters,"
                " created_at) VALUES ('e1', 'p', 1, 'Succeeded', '{}', 0)"
            )
        )
        for n, (step, status) in enumerate(
            [
                (None, "Executing"),
                ("Check", "Succeeded"),
                ("Train", "AttemptFailed"),
                (None, "Succeeded"),
                (None, "TrackingFailed"),
            ]
        ):
            conn.execute(
                sa.text(
                    "INSERT INTO events (execution_id, step_name, status, at) "
                    "VALUES ('e1', :step, :status, :at)"
                ),
                {"step": step, "status": status, "at": float(n)},
            )
        for step, outcome in (("Check", "true"), ("Other", "false")):
            conn.execute(
                sa.text(
                    "INSERT INTO step_runs (execution_id, pipeline_name, step_name, step_type,"
                    " status, attempts, properties) VALUES ('e1', 'p', :step, 'Condition',"
                    f" 'Succeeded', 1, '{{\"Outcome\": {outcome}}}')"
                ),
                {"step": step},
            )
    db.upgrade()
    repo = PipelineRepository(db)
    assert [(e.step_name, e.kind, e.status) for e in repo.list_events("e1")] == [
        (None, EventKind.EXECUTION_STATUS, "Executing"),
        ("Check", EventKind.STEP_STATUS, "Succeeded"),
        ("Train", EventKind.ATTEMPT_FAILED, None),
        (None, EventKind.EXECUTION_ENDED, "Succeeded"),
        (None, EventKind.LISTENER_FAILED, None),
    ]
    assert {r.step_name: r.branch for r in repo.list_step_runs("e1")} == {
        "Check": "if true",
        "Other": "if false",
    }
    db.dispose()
