"""MLflow links on rayline's records, on SQLite and PostgreSQL metadata DBs: one execution run
however many steps ask for it, step runs nested under it, the run ended with the execution (by
tracking's listener on the engine's ``ExecutionEnded`` event)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from rayline.engine.listeners import notify
from rayline.engine.records import EventKind, ExecutionStatus, StepStatus
from rayline.engine.repository import PipelineRepository
from rayline.engine.schema import executions, step_runs
from rayline.store.db import open_database
from rayline.tracking import background
from rayline.tracking.runs import (
    client,
    ensure_execution_run,
    finish_execution_run,
    list_runs,
    track_step,
)


def _execution(db, execution_id: str, steps: list[str]) -> None:
    now = time.time()
    with db.begin() as conn:
        conn.execute(executions.insert().values(
            id=execution_id, pipeline_name="tracked", pipeline_version=1,
            status=ExecutionStatus.EXECUTING.value,
            parameters={}, created_at=now - 5))  # fmt: skip
        for s in steps:
            conn.execute(step_runs.insert().values(
                execution_id=execution_id, pipeline_name="tracked", step_name=s,
                step_type="Training", status=StepStatus.EXECUTING.value, attempts=1))  # fmt: skip


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_execution_and_step_runs_are_linked(backend, rayline_home, request):
    url = request.getfixturevalue("postgres_url") if backend == "postgres" else None
    db = open_database(url)
    _execution(db, "exec-1", ["A", "B"])

    # Parallel steps race to create the execution's run: all of them get the same one.
    with ThreadPoolExecutor(4) as pool:
        ids = set(pool.map(lambda _: ensure_execution_run(
            pipeline_name="tracked", execution_id="exec-1", parameters={"P": 1},
            db_url=db.url), range(4)))  # fmt: skip
    assert len(ids) == 1
    (parent,) = ids
    assert client().get_run(parent).info.start_time < time.time() * 1000 - 4000
    tags = client().get_run(parent).data.tags
    assert tags["rayline.pipeline"] == "tracked" and tags["rayline.execution_id"] == "exec-1"

    for name in ("A", "B"):
        with track_step(pipeline_name="tracked", step_name=name, step_type="Training",
                        execution_id="exec-1", db_url=db.url) as tracker:  # fmt: skip
            tracker.log_params({"max_depth": 3})
            tracker.log_metrics({"validation:rmse": 1.5})
            tracker.log_trial("t0", params={"eta": 0.1}, metrics={"validation-rmse": 2.0})
    with db.connect() as conn:
        rows = dict(conn.execute(step_runs.select().with_only_columns(
            step_runs.c.step_name, step_runs.c.mlflow_run_id)).all())  # fmt: skip
        linked = conn.execute(executions.select().with_only_columns(
            executions.c.mlflow_run_id)).scalar_one()  # fmt: skip
    assert linked == parent
    runs = {r.run_id: r for r in list_runs(execution_id="exec-1")}
    for name in ("A", "B"):
        run = runs[rows[name]]
        assert run.parent_run_id == parent and run.step == name
        assert run.metrics == {"validation-rmse": 1.5} and run.params == {"max_depth": "3"}
    trials = [r for r in runs.values() if r.name == "t0"]
    assert {t.parent_run_id for t in trials} == {rows["A"], rows["B"]}

    assert finish_execution_run("exec-1", "Failed", db_url=db.url) == parent
    assert client().get_run(parent).info.status == "FAILED"


def test_no_run_means_no_mlflow(rayline_home):
    db = open_database()
    _execution(db, "exec-2", [])
    assert finish_execution_run("exec-2", "Succeeded") is None


def test_the_listener_ends_the_run_when_the_execution_ends(rayline_home):
    db = open_database()
    _execution(db, "exec-3", [])
    run_id = ensure_execution_run(pipeline_name="tracked", execution_id="exec-3", db_url=db.url)
    repo = PipelineRepository(db)
    ended = repo.set_execution_status(
        "exec-3", ExecutionStatus.STOPPED, failure_reason="stopped by request"
    )
    notify(ended, repo)  # queues the run's end for tracking's worker
    background.flush(timeout=60)
    assert client().get_run(run_id).info.status == "KILLED"
    assert [e.kind for e in repo.list_events("exec-3")] == [EventKind.EXECUTION_ENDED]


def test_a_failing_tracking_store_never_changes_the_outcome(rayline_home):
    db = open_database()
    _execution(db, "exec-4", [])
    repo = PipelineRepository(db)
    assert repo.claim_mlflow_run("exec-4", "no-such-run") == "no-such-run"
    assert repo.claim_mlflow_run("exec-4", "another-run") == "no-such-run"  # first one wins
    notify(repo.set_execution_status("exec-4", ExecutionStatus.SUCCEEDED), repo)
    assert repo.execution_status("exec-4") == ExecutionStatus.SUCCEEDED
    background.flush(timeout=60)  # the run's end was queued; its failure is recorded
    *_, failed = repo.list_events("exec-4")
    assert failed.kind == EventKind.LISTENER_FAILED
    assert failed.detail.startswith("rayline.tracking.listener:close_execution_run: ")
