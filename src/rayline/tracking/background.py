"""One background thread per process that does tracking's MLflow work in order, off the
scheduler's thread.

The engine hands every event to its listeners synchronously, between scheduling steps; an
MLflow call (and MLflow's import, seconds on a small machine) there would slow every step.
Tracking's listeners only enqueue work here; the execution's end waits for its queued work
(:func:`flush`), so nothing is lost when the driver exits right after.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

#: How long the end of an execution waits for its tracking work before giving up on it.
FLUSH_TIMEOUT_S = 120.0


@dataclass
class _Job:
    work: Callable[[], None]
    # Called with the exception when ``work`` raises (it must not raise itself).
    on_error: Callable[[BaseException], None] | None = None
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None


_queue: queue.Queue[_Job] = queue.Queue()
_thread: threading.Thread | None = None
_lock = threading.Lock()


def _run() -> None:
    while True:
        job = _queue.get()
        try:
            job.work()
        except BaseException as exc:  # one job's failure never stops the worker
            job.error = exc
            if job.on_error is not None:
                with contextlib.suppress(Exception):  # reporting is best effort
                    job.on_error(exc)
        finally:
            job.done.set()
            _queue.task_done()


def _ensure_thread() -> None:
    global _thread
    with _lock:
        if _thread is None or not _thread.is_alive():
            _thread = threading.Thread(target=_run, daemon=True, name="rayline-tracking")
            _thread.start()


def submit(
    work: Callable[[], None], *, on_error: Callable[[BaseException], None] | None = None
) -> threading.Event:
    """Queue ``work``; returns an event set once it ran (or failed)."""
    _ensure_thread()
    job = _Job(work, on_error)
    _queue.put(job)
    return job.done


def run_after_queued(work: Callable[[], Any], *, timeout: float = FLUSH_TIMEOUT_S) -> Any:
    """Run ``work`` on the worker after everything queued before it, wait for it and return
    its result (or raise its error); ``TimeoutError`` when the queue did not get to it in
    ``timeout`` seconds."""
    result: list[Any] = []
    _ensure_thread()
    job = _Job(lambda: result.append(work()))
    _queue.put(job)
    if not job.done.wait(timeout):
        raise TimeoutError(
            f"the MLflow tracking work queued in this process did not finish in {timeout:g} s; "
            "check that the tracking store (MLFLOW_TRACKING_URI) answers"
        )
    if job.error is not None:
        raise job.error
    return result[0]


def flush(timeout: float = FLUSH_TIMEOUT_S) -> None:
    """Wait until everything queued so far has run."""
    run_after_queued(lambda: None, timeout=timeout)
