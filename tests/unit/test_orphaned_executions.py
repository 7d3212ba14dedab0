"""An execution whose driver died is shown as such, with what to run, by ``rayline execution
describe`` and ``list`` (table and ``--json``); its stored status stays Executing."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from rayline.cli.main import main
from rayline.engine.lease import driver_id
from rayline.engine.records import ExecutionStatus
from rayline.engine.repository import open_repository
from rayline.executions import Execution, is_orphaned


@pytest.fixture
def dead_driver() -> str:
    """The driver id of a process of this host that has exited."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return f"{driver_id().rpartition(':')[0]}:{proc.pid}"


def _execution(execution_id: str, driver: str) -> str:
    repo = open_repository()
    repo.create_execution(execution_id, "p", 1, {}, max_parallel_steps=None)
    repo.claim(execution_id, driver, expected_token=0, lease_s=30.0)
    return execution_id


def test_describe_shows_the_driver_is_gone_and_the_retry(rayline_home, dead_driver, capsys):
    _execution("orphan", dead_driver)
    assert is_orphaned(Execution("orphan").describe())

    assert main(["execution", "describe", "orphan"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "status Executing (driver gone)" in out
    assert f"its driver ({dead_driver}) is gone" in out
    assert "rayline execution retry orphan" in out

    assert main(["execution", "describe", "orphan", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["status"] == "Executing"  # stored as it was: retry reads it
    assert record["driver_alive"] is False
    assert "rayline execution retry orphan" in record["hint"]
    assert open_repository().execution_status("orphan") == ExecutionStatus.EXECUTING


def test_an_orphan_that_was_stopping_says_retry_then_stop(rayline_home, dead_driver, capsys):
    _execution("halting", dead_driver)
    open_repository().set_execution_status("halting", ExecutionStatus.STOPPING)
    record = json.loads(_out(capsys, "execution", "describe", "halting", "--json"))
    assert (record["status"], record["driver_alive"]) == ("Stopping", False)
    assert "retry halting (then stop it again)" in record["hint"]
    assert "Stopping (driver gone)" in _out(capsys, "execution", "describe", "halting")


def _out(capsys, *argv: str) -> str:
    assert main(list(argv)) == 0
    return capsys.readouterr().out


def test_a_live_or_finished_execution_is_no_orphan(rayline_home, capsys):
    _execution("live", driver_id())  # this process: alive, heartbeat just now
    _execution("done", driver_id())
    open_repository().set_execution_status("done", ExecutionStatus.SUCCEEDED)

    assert main(["execution", "describe", "live", "--json"]) == 0
    live = json.loads(capsys.readouterr().out)
    assert (live["driver_alive"], live["hint"]) == (True, None)
    assert main(["execution", "describe", "done", "--json"]) == 0
    done = json.loads(capsys.readouterr().out)
    assert (done["status"], done["driver_alive"], done["hint"]) == ("Succeeded", None, None)
    assert main(["execution", "describe", "live"]) == 0
    assert "driver gone" not in capsys.readouterr().out


def test_list_marks_orphans_and_says_what_to_run(rayline_home, dead_driver, capsys):
    _execution("orphan", dead_driver)
    _execution("live", driver_id())

    assert main(["execution", "list"]) == 0
    out = capsys.readouterr().out
    rows = {
        line.split()[1]: line
        for line in out.splitlines()
        if line.split()[1:2] in (["orphan"], ["live"])
    }
    assert "Executing (driver gone)" in rows["orphan"]
    assert "driver gone" not in rows["live"]
    assert "rayline execution retry ID (e.g. orphan)" in " ".join(out.split())

    assert main(["execution", "list", "--json"]) == 0
    by_id = {r["id"]: r for r in json.loads(capsys.readouterr().out)}
    assert by_id["orphan"]["driver_alive"] is False and "retry orphan" in by_id["orphan"]["hint"]
    assert by_id["live"]["driver_alive"] is True and by_id["live"]["hint"] is None
