"""Cron schedules run by the server: created and changed over real HTTP (and the CLI), checked
against the stored pipeline, taken once per scheduled time by compare-and-set, and fired by the
server's schedules service into an execution that succeeds."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from croniter import croniter

from rayline import ParameterInteger, Pipeline, step

YEARLY = "0 0 1 1 *"  # due once a year: the test controls the only time it comes due


def doubling_pipeline(name: str) -> Pipeline:
    n = ParameterInteger("n", default_value=1)

    @step
    def double(value):
        return value * 2

    return Pipeline(name, parameters=[n], steps=[double(n)])


def wait_for(predicate, *, timeout: float = 30.0, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def last_due_time(expression: str, timezone: str = "UTC") -> float:
    return croniter(expression, datetime.now(ZoneInfo(timezone))).get_prev(float)


@pytest.mark.ray
@pytest.mark.server
def test_a_due_schedule_starts_its_pipeline_through_the_server(api_server, monkeypatch):
    from rayline.executions import Execution
    from rayline.pipelines import delete_pipeline
    from rayline.schedules.repository import open_schedules

    doubling_pipeline("doubling").upsert()
    client = api_server.client
    body = {"name": "yearly", "pipeline": "doubling", "cron": YEARLY, "parameters": {"n": 21}}

    # What the caller got wrong is refused, saying what.
    bad_cron = client.post("/schedules", json={**body, "cron": "61 * * * *"})
    assert bad_cron.status_code == 422 and "cron expression" in bad_cron.json()["detail"]
    bad_zone = client.post("/schedules", json={**body, "timezone": "Mars/Olympus"})
    assert bad_zone.status_code == 422 and "time zone" in bad_zone.json()["detail"]
    unknown = client.post("/schedules", json={**body, "parameters": {"m": 1}})
    assert unknown.status_code == 422 and "unknown parameter(s) 'm'" in unknown.json()["detail"]
    mistyped = client.post("/schedules", json={**body, "parameters": {"n": "many"}})
    assert mistyped.status_code == 422 and "'n' (Integer)" in mistyped.json()["detail"]
    missing = client.post("/schedules", json={**body, "pipeline": "nope"})
    assert missing.status_code == 404 and "nope" in missing.json()["detail"]
    assert client.post("/schedules", json={**body, "missed": "always"}).status_code == 422
    assert client.post("/schedules", json={**body, "name": "a b"}).status_code == 422

    created = client.post("/schedules", json={**body, "missed": "catch_up"})
    assert created.status_code == 201, created.text
    schedule = created.json()
    assert schedule["parameters"] == {"n": 21} and schedule["pipeline_version"] is None
    assert schedule["created_by"] == "local" and schedule["last_fired_at"] is None
    assert len(schedule["next_runs"]) == 5 and schedule["next_runs"][0] > time.time()
    assert client.post("/schedules", json=body).status_code == 409
    listed = client.get("/schedules", params={"pipeline": "doubling"}).json()
    assert [s["name"] for s in listed["items"]] == ["yearly"] and listed["next_token"] is None
    assert client.get("/schedules", params={"pipeline": "other"}).json()["items"] == []

    # The service starts nothing for a time before the schedule existed ...
    time.sleep(1.5)
    assert client.get("/schedules/yearly").json()["last_execution_id"] is None
    # ... until its last fire is set before the latest due time: that one time is missed
    # (catch_up), so the service takes it and starts the pipeline with the parameters.
    due_at = last_due_time(YEARLY)
    open_schedules().rewind("yearly", due_at - 60)
    fired = wait_for(
        lambda: (s := client.get("/schedules/yearly").json())["last_execution_id"] and s,
        what="the schedule to start an execution",
    )
    assert fired["last_fired_at"] == due_at and fired["last_error"] is None
    execution = Execution(fired["last_execution_id"])
    assert execution.wait(timeout=60).status == "Succeeded"
    assert execution.result("double") == 42
    record = execution.describe()
    assert record.parameters == {"n": 21}
    executions = client.get("/executions", params={"pipeline": "doubling"})
    assert executions.status_code == 200
    assert [e["id"] for e in executions.json()["items"]] == [execution.id]

    # Paused, it shows no next runs; resumed, the paused period is not caught up.
    paused = client.post("/schedules/yearly/pause").json()
    assert paused["paused"] is True and paused["next_runs"] == []
    open_schedules().rewind("yearly", due_at - 60)  # due again, but paused: nothing starts
    time.sleep(1.5)
    assert client.get("/schedules/yearly").json()["last_execution_id"] == execution.id
    resumed = client.post("/schedules/yearly/resume").json()
    assert resumed["paused"] is False and resumed["anchor_at"] > due_at
    time.sleep(1.5)
    assert client.get("/schedules/yearly").json()["last_execution_id"] == execution.id

    # A start that fails (the pipeline is gone) is recorded; the service keeps running.
    delete_pipeline("doubling")
    open_schedules().rewind("yearly", due_at - 60)
    failed = wait_for(
        lambda: (s := client.get("/schedules/yearly").json())["last_error"] and s,
        what="the failed start to be recorded",
    )
    assert "NotFoundError" in failed["last_error"] and "doubling" in failed["last_error"]
    assert failed["last_execution_id"] == execution.id
    assert any(t.name == "rayline-schedules" and t.is_alive() for t in threading.enumerate())

    assert client.delete("/schedules/yearly").status_code == 204
    gone = client.get("/schedules/yearly")
    assert gone.status_code == 404 and "does not exist" in gone.json()["detail"]
    assert client.post("/schedules/yearly/pause").status_code == 404

    # With authentication on, viewers read and operators change; the creator is the token's.
    from rayline.auth.roles import Role
    from rayline.auth.tokens import create_token

    doubling_pipeline("doubling").upsert()
    monkeypatch.setenv("RAYLINE_SERVER_AUTH", "on")
    viewer = api_server.as_token(create_token(name="vera", role=Role.VIEWER)[1])
    operator = api_server.as_token(create_token(name="ops", role=Role.OPERATOR)[1])
    assert client.get("/schedules").status_code == 401
    assert viewer.get("/schedules").json()["items"] == []
    refused = viewer.post("/schedules", json=body)
    assert refused.status_code == 403 and "operator" in refused.json()["detail"]
    by_operator = operator.post("/schedules", json=body)
    assert by_operator.status_code == 201 and by_operator.json()["created_by"] == "ops"
    assert viewer.post("/schedules/yearly/pause").status_code == 403
    assert viewer.delete("/schedules/yearly").status_code == 403
    assert operator.post("/schedules/yearly/pause").json()["paused"] is True
    assert operator.delete("/schedules/yearly").status_code == 204


@pytest.mark.parametrize(
    "dialect", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_the_cli_manages_schedules_and_a_due_time_is_taken_once(
    dialect, rayline_home, capsys, monkeypatch, request
):
    from rayline.cli.main import main
    from rayline.schedules.firing import tick
    from rayline.schedules.repository import open_schedules

    if dialect == "postgresql":
        monkeypatch.setenv("RAYLINE_DB_URL", request.getfixturevalue("postgres_url"))
    doubling_pipeline("doubling").upsert()

    def run(*argv: str) -> dict:
        assert main(list(argv)) == 0
        return json.loads(capsys.readouterr().out)

    created = run(
        "schedule", "create", "nightly", "--pipeline", "doubling", "--cron", YEARLY,
        "-p", "n=3", "--timezone", "Europe/Berlin", "--json",
    )  # fmt: skip
    # The CLI's text values take the pipeline's types.
    assert created["parameters"] == {"n": 3} and created["timezone"] == "Europe/Berlin"
    assert created["missed"] == "skip" and created["pipeline_version"] is None
    assert [s["name"] for s in run("schedule", "list", "--json")] == ["nightly"]
    assert run("schedule", "pause", "nightly", "--json")["paused"] is True
    assert run("schedule", "resume", "nightly", "--json")["paused"] is False
    assert main(["schedule", "create", "bad", "--pipeline", "doubling", "--cron", "* * *"]) == 1
    assert "has 3 field(s); write 5" in capsys.readouterr().err

    # Two servers on one database read the same due time; the compare-and-set lets one take it.
    repo = open_schedules()
    due_at = last_due_time(YEARLY, "Europe/Berlin")
    repo.rewind("nightly", due_at - 60)
    read_by_both = repo.get("nightly")
    assert repo.take(read_by_both, due_at, notice=None) is True
    assert repo.take(read_by_both, due_at, notice=None) is False

    # Ticks at one clock value from two "servers" start the time once; a late time under
    # `skip` starts nothing and says so.
    started: list[tuple[str, float]] = []

    def record(schedule, scheduled_at):
        started.append((schedule.name, scheduled_at))
        return f"execution-{len(started)}"

    repo.rewind("nightly", due_at - 60)
    now = due_at + 5
    threads = [
        threading.Thread(target=tick, args=(repo,), kwargs={"now": now, "start": record})
        for _ in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert started == [("nightly", due_at)]
    assert repo.get("nightly").last_execution_id == "execution-1"
    repo.rewind("nightly", due_at - 60)
    assert tick(repo, now=due_at + 3600, start=record) == []
    late = repo.get("nightly")
    assert late.last_fired_at == due_at and "skipped 1 time(s)" in late.last_notice

    description = run("schedule", "describe", "nightly", "--json")
    assert description["last_execution_id"] == "execution-1" and len(description["next_runs"]) == 5
    assert main(["schedule", "describe", "nightly"]) == 0
    text = capsys.readouterr().out
    assert "0 0 1 1 * (Europe/Berlin)" in text and "n=3" in text and "skipped 1" in text
    assert main(["schedule", "list"]) == 0 and "doubling (latest)" in capsys.readouterr().out
    assert main(["schedule", "delete", "nightly"]) == 0
    capsys.readouterr()
    assert main(["schedule", "describe", "nightly"]) == 1
    assert "schedule 'nightly' does not exist" in capsys.readouterr().err
