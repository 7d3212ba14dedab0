"""Tracking's MLflow work, done in order by one child process per driver, off the scheduler.

The engine hands every event to its listeners synchronously, between scheduling steps. MLflow's
SQL store costs tens of milliseconds of CPU per step run (three store calls through the ORM),
which on a thread of the driver would hold the GIL the scheduler needs, and at the execution's
end would be waited for. So tracking's listeners only hand a job to a worker process
(``python -m rayline.tracking.worker``, started on first use, at a lower CPU priority) and
return at once: the execution ends when its steps have, and MLflow catches up right behind.

A job is a ``module:function`` name and JSON keyword arguments, plus the caller's
``RAYLINE_*``, ``MLFLOW_*`` and ``AWS_*`` settings at the moment it was queued (a test or a
notebook may change them between executions; the worker outlives them; they are sent when they
change). Jobs run one at a
time, in the order they were queued. Nothing queued is lost when the driver exits: the
interpreter's exit waits for the worker to finish (:func:`shutdown`, at most
:data:`FLUSH_TIMEOUT_S`); :func:`flush` waits for everything queued so far.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rayline.errors import BackendError

#: How long the driver's exit (and :func:`flush`) waits for queued tracking work.
FLUSH_TIMEOUT_S = 120.0
#: How long the writer gathers jobs before it sends them to the worker.
WRITE_EVERY_S = 0.05
#: The settings a job carries to the worker: rayline's, MLflow's and the S3 credentials.
ENV_PREFIXES = ("RAYLINE_", "MLFLOW_", "AWS_")


@dataclass
class _Job:
    on_error: Callable[[str], None] | None = None
    done: threading.Event = field(default_factory=threading.Event)
    result: Any = None
    error: str | None = None


class _Worker:
    """The child process, a writer thread feeding its stdin (a full pipe must never block the
    scheduler) and a reader thread taking its answers."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "rayline.tracking.worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        self.jobs: dict[int, _Job] = {}
        self.env: dict[str, str] | None = None
        self.outbox: queue.Queue[str | None] = queue.Queue()
        self.writer = threading.Thread(target=self._write, daemon=True, name="rayline-tracking-w")
        self.reader = threading.Thread(target=self._read, daemon=True, name="rayline-tracking-r")
        self.writer.start()
        self.reader.start()

    def alive(self) -> bool:
        return self.proc.poll() is None

    def send(self, job_id: int, job: _Job, message: dict[str, Any], env: dict[str, str]) -> None:
        self.jobs[job_id] = job
        if env != self.env:  # the worker keeps the last settings it was sent
            message = {**message, "env": env}
            self.env = env
        self.outbox.put(json.dumps({"id": job_id, **message}))

    def _write(self) -> None:
        assert self.proc.stdin is not None
        closing = False
        while not closing:
            lines = [self.outbox.get()]
            # Jobs come in bursts (a step's events, a fan-out's steps): gather what arrives in
            # the next moment and write it at once, so the scheduler's thread hands the GIL
            # over a few times a second rather than on every event.
            time.sleep(WRITE_EVERY_S)
            with contextlib.suppress(queue.Empty):
                while True:
                    lines.append(self.outbox.get_nowait())
            if None in lines:
                closing = True
                lines = lines[: lines.index(None)]
            try:
                self.proc.stdin.write("".join(line + "\n" for line in lines))
                self.proc.stdin.flush()
            except OSError:  # the worker died: the reader fails what is pending
                return
        with contextlib.suppress(OSError):
            self.proc.stdin.close()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            answer = json.loads(line)
            job = self.jobs.pop(answer["id"], None)
            if job is not None:
                _settle(job, answer.get("result"), answer.get("error"))
        code = self.proc.wait()
        for job_id in list(self.jobs):
            _settle(self.jobs.pop(job_id), None, f"the tracking worker exited (code {code})")

    def close(self, timeout: float) -> None:
        """Let the worker finish what is queued, then exit."""
        self.outbox.put(None)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.reader.join(5)


def _settle(job: _Job, result: Any, error: str | None) -> None:
    job.result, job.error = result, error
    if error is not None and job.on_error is not None:
        with contextlib.suppress(Exception):  # reporting is best effort
            job.on_error(error)
    job.done.set()


_worker: _Worker | None = None
_lock = threading.Lock()
_ids = itertools.count(1)


def _current() -> _Worker:
    global _worker
    if _worker is None or not _worker.alive():
        _worker = _Worker()
    return _worker


def settings_now() -> dict[str, str]:
    """The settings a job runs with: this process's ``RAYLINE_*``, ``MLFLOW_*`` and ``AWS_*``
    variables as they are now."""
    return {k: v for k, v in os.environ.items() if k.startswith(ENV_PREFIXES)}


def submit(
    target: str,
    /,
    *,
    on_error: Callable[[str], None] | None = None,
    env: dict[str, str] | None = None,
    **kwargs: Any,
) -> threading.Event:
    """Queue ``target(**kwargs)`` (``module:function``, JSON arguments) to run with ``env``
    (default: :func:`settings_now`); returns an event set once it ran. ``on_error`` is called
    with ``"ExceptionType: message"`` when it raised."""
    job = _Job(on_error)
    env = settings_now() if env is None else env
    with _lock:
        _current().send(next(_ids), job, {"target": target, "kwargs": kwargs}, env)
    return job.done


def call(target: str, /, *, timeout: float = FLUSH_TIMEOUT_S, **kwargs: Any) -> Any:
    """Run ``target(**kwargs)`` in the worker after everything queued before it and return its
    (JSON) result; ``BackendError`` when it raised, ``TimeoutError`` after ``timeout``."""
    job = _Job()
    env = settings_now()
    with _lock:
        _current().send(next(_ids), job, {"target": target, "kwargs": kwargs}, env)
    if not job.done.wait(timeout):
        raise TimeoutError(
            f"the MLflow tracking work queued in this process did not finish in {timeout:g} s; "
            "check that the tracking store (MLFLOW_TRACKING_URI) answers"
        )
    if job.error is not None:
        raise BackendError(f"tracking work {target} failed: {job.error}")
    return job.result


def flush(timeout: float = FLUSH_TIMEOUT_S) -> None:
    """Wait until everything queued so far has run (nothing to wait for: returns at once)."""
    with _lock:
        idle = _worker is None or not _worker.jobs
    if not idle:
        call("rayline.tracking.worker:ping", timeout=timeout)


def shutdown(timeout: float = FLUSH_TIMEOUT_S) -> None:
    """Finish the queued work and stop the worker (run at the interpreter's exit)."""
    global _worker
    with _lock:
        worker, _worker = _worker, None
    if worker is not None:
        worker.close(timeout)


atexit.register(shutdown)
