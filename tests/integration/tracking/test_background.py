"""Tracking's worker process: jobs run in order in another process with the caller's settings
of the moment, a failure is reported and never stops the worker, and ``flush`` waits for what
was queued before it."""

from __future__ import annotations

import os

import pytest

from rayline.errors import BackendError
from rayline.tracking import background


def _shell(script: str) -> dict:
    # subprocess.check_call(args=...) is a job with JSON arguments and a JSON result (0).
    return {"args": ["sh", "-c", script]}


def _hold_until(gate) -> None:
    """Queue a job that keeps the worker busy until ``gate`` exists."""
    background.submit(
        "subprocess:check_call", **_shell(f"while [ ! -e {gate} ]; do sleep 0.05; done")
    )


def test_jobs_run_in_order_in_the_worker_process(tmp_path):
    gate, log = tmp_path / "gate", tmp_path / "log"
    _hold_until(gate)
    for i in range(5):
        background.submit("subprocess:check_call", **_shell(f"echo {i} >> {log}"))
    assert not log.exists()  # the caller never waited for the work
    gate.touch()
    background.flush(timeout=30)
    assert log.read_text().split() == ["0", "1", "2", "3", "4"]
    assert background.call("os:getpid") != os.getpid()


def test_a_job_sees_the_settings_of_when_it_was_queued(monkeypatch):
    monkeypatch.setenv("RAYLINE_HOME", "/tmp/first-home")
    first = background.call("os:getenv", key="RAYLINE_HOME")
    monkeypatch.setenv("RAYLINE_HOME", "/tmp/second-home")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:////tmp/x.db")
    assert (first, background.call("os:getenv", key="RAYLINE_HOME")) == (
        "/tmp/first-home",
        "/tmp/second-home",
    )
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    assert background.call("os:getenv", key="MLFLOW_TRACKING_URI") is None


def test_a_failure_is_reported_and_the_worker_goes_on():
    errors: list[str] = []
    background.submit("json:loads", s="{", on_error=errors.append)
    assert background.call("posixpath:basename", p="/a/b") == "b"
    assert len(errors) == 1 and errors[0].startswith("JSONDecodeError: Expecting property name")
    with pytest.raises(BackendError, match="tracking work json:loads failed: JSONDecodeError"):
        background.call("json:loads", s="{")


def test_flush_gives_up_after_its_timeout(tmp_path):
    gate = tmp_path / "gate"
    _hold_until(gate)
    try:
        with pytest.raises(TimeoutError, match=r"did not finish in 0\.2 s"):
            background.flush(timeout=0.2)
    finally:
        gate.touch()
    background.flush(timeout=30)


def test_the_worker_finishes_its_queue_when_the_driver_exits(tmp_path):
    """Work queued right before the driver's interpreter exits is still done."""
    import subprocess
    import sys

    log = tmp_path / "log"
    job = ["sh", "-c", f"sleep 1; echo done > {log}"]
    script = (
        "from rayline.tracking import background\n"
        f"background.submit('subprocess:check_call', args={job!r})\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
    assert log.read_text().strip() == "done"
