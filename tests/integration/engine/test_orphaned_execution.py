"""A real orphan: an execution started by ``rayline pipeline start`` (a detached driver) whose
driver is killed with ``kill -9`` is shown as such by ``execution describe`` / ``list``, with the
retry to run; waiting on it says so instead of hanging; the retry resumes it."""

from __future__ import annotations

import json
import os
import signal

import pytest
from tests.conftest import wait_for

from rayline import Pipeline
from rayline.cli.main import main
from rayline.definition.steps import ProcessingStep
from rayline.errors import ExecutionFailedError
from rayline.executions import Execution, is_orphaned

pytestmark = pytest.mark.ray

# Runs until the test releases it: long enough to kill its driver meanwhile.
SLOW = """
import sys, time
from pathlib import Path
started, release = Path(sys.argv[1]), Path(sys.argv[2])
started.write_text("started")
deadline = time.time() + 120
while not release.exists() and time.time() < deadline:
    time.sleep(0.1)
"""


def _json(capsys, *argv: str):
    assert main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_killed_driver_is_shown_with_the_retry_to_run(
    ray_session, rayline_home, tmp_path, monkeypatch, capsys
):
    script = tmp_path / "slow.py"
    script.write_text(SLOW)
    started, release = tmp_path / "started", tmp_path / "release"
    slow = ProcessingStep("Slow", code=str(script), arguments=[str(started), str(release)])
    Pipeline("orphaned", steps=[slow]).upsert()
    # The detached driver joins this session's Ray cluster.
    monkeypatch.setenv("RAY_ADDRESS", ray_session.get_runtime_context().gcs_address)

    execution_id = _json(capsys, "pipeline", "start", "orphaned")["execution_id"]
    # Claimed for the detached driver at once: not taken for an orphan while it starts up.
    assert _json(capsys, "execution", "describe", execution_id)["driver_alive"] is True

    wait_for(started.is_file)  # the step really runs
    execution = Execution(execution_id)
    assert _json(capsys, "execution", "describe", execution_id)["driver_alive"] is True
    os.kill(int(execution.describe().driver.rsplit(":", 1)[1]), signal.SIGKILL)
    wait_for(lambda: is_orphaned(execution.describe()), timeout=10)

    assert main(["execution", "describe", execution_id]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "status Executing (driver gone)" in out
    assert f"rayline execution retry {execution_id}" in out
    (listed,) = _json(capsys, "execution", "list")
    assert (listed["status"], listed["driver_alive"]) == ("Executing", False)
    assert f"rayline execution retry {execution_id}" in listed["hint"]
    assert main(["execution", "list"]) == 0
    assert "Executing (driver gone)" in capsys.readouterr().out
    # Waiting on it would never end: wait() and `execution wait` say so and how to go on.
    with pytest.raises(ExecutionFailedError, match=r"driver .* is gone; resume it"):
        execution.wait(timeout=30)
    assert main(["execution", "wait", execution_id]) == 1
    assert f"rayline execution retry {execution_id}" in " ".join(capsys.readouterr().out.split())

    # What the hint says to run resumes it, with the parallelism it is given.
    release.touch()
    assert main(["execution", "retry", execution_id, "--max-parallel", "3"]) == 0
    assert execution.describe().max_parallel_steps == 3
    capsys.readouterr()
    assert execution.wait(timeout=120).status == "Succeeded"
    described = _json(capsys, "execution", "describe", execution_id)
    assert (described["driver_alive"], described["hint"]) == (None, None)
