"""Tracking's background worker: work runs in order off the caller's thread, a failure is
reported and never stops the worker, and ``flush`` waits for what was queued before it."""

from __future__ import annotations

import threading

import pytest

from rayline.tracking import background


def test_work_runs_in_order_off_the_callers_thread():
    seen: list[tuple[int, str]] = []
    gate = threading.Event()
    background.submit(gate.wait)  # holds the worker until the caller has queued everything
    for i in range(5):
        background.submit(lambda i=i: seen.append((i, threading.current_thread().name)))
    assert seen == []  # the caller never waited for the work
    gate.set()
    background.flush(timeout=10)
    assert [i for i, _ in seen] == list(range(5))
    assert {name for _, name in seen} == {"rayline-tracking"}


def test_a_failure_is_reported_and_the_worker_goes_on():
    errors: list[BaseException] = []

    def boom() -> None:
        raise ValueError("store down")

    background.submit(boom, on_error=errors.append)
    assert background.run_after_queued(lambda: 42, timeout=10) == 42
    assert [str(e) for e in errors] == ["store down"]
    with pytest.raises(ValueError, match="store down"):
        background.run_after_queued(boom, timeout=10)


def test_flush_gives_up_after_its_timeout():
    gate = threading.Event()
    background.submit(gate.wait)
    try:
        with pytest.raises(TimeoutError, match=r"did not finish in 0\.2 s"):
            background.flush(timeout=0.2)
    finally:
        gate.set()
    background.flush(timeout=10)
