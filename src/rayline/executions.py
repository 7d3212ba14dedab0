"""``Execution``: a handle on one run of a pipeline, read from the metadata DB.

Importing this module loads neither the metadata DB's libraries nor Ray; the methods import
the engine's repository and the stores when they are called.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from rayline.definition.policies import ParallelismConfiguration, check_parallelism
from rayline.engine.context import load_stored
from rayline.engine.records import (
    EventRecord,
    ExecutionRecord,
    ExecutionStatus,
    StepRunRecord,
)
from rayline.errors import ConflictError, ExecutionFailedError

# Executions driven by a thread of this process, so wait() can join instead of polling.
_threads: dict[str, threading.Thread] = {}
_errors: dict[str, BaseException] = {}


class Execution:
    """One execution of a pipeline. Every method reads the metadata DB, so a handle works from
    any process: ``Execution("a1b2c3...").describe()``."""

    def __init__(self, execution_id: str, *, db_url: str | None = None) -> None:
        """A handle on execution ``execution_id`` in the metadata DB at ``db_url`` (default: the
        configured one). Raises ``NotFoundError`` for an unknown id."""
        from rayline.engine.repository import open_repository

        self.id = execution_id
        self._repo = open_repository(db_url)
        self._repo.get_execution(execution_id)  # fail early on an unknown id

    def __repr__(self) -> str:
        return f"Execution({self.id!r})"

    @property
    def arn(self) -> str:
        """SageMaker-style name for the id."""
        return self.id

    def describe(self) -> ExecutionRecord:
        """The execution's current record: status, parameters, times, failure reason."""
        return self._repo.get_execution(self.id)

    def list_steps(self) -> list[StepRunRecord]:
        """The steps that have started, in start order, with status, times, outputs, cache use
        and the Ray node each ran on (``node``)."""
        return self._repo.list_step_runs(self.id)

    def step(self, name: str) -> StepRunRecord:
        """The run of step ``name``; raises ``NotFoundError`` when it has not started."""
        return self._repo.get_step_run(self.id, name)

    def events(self, *, after_id: int = 0) -> list[EventRecord]:
        """The event log, oldest first: every status change (``kind`` says what each event
        records; ``status`` is the new status), retries and listener failures. ``after_id``
        returns only the events recorded after that one (for following a running execution)."""
        return self._repo.list_events(self.id, after_id=after_id)

    def logs(self, step_name: str) -> str:
        """What the step printed: its stored logs once it ended, what it printed so far while it
        runs."""
        run = self.step(step_name)
        if run.logs is not None or run.status.finished:
            return run.logs or ""
        from rayline.engine.context import LIVE_LOG, attempt_parts
        from rayline.errors import NotFoundError
        from rayline.store.artifacts import open_artifact_store

        # The running attempt's live log, read through the store (the node that runs the step
        # copies it there as it grows; on file:// it is written in place).
        store = open_artifact_store()
        live = store.uri_for(*attempt_parts(self.id, step_name, max(run.attempts, 1)), LIVE_LOG)
        try:
            return store.get_bytes(live).decode(errors="replace")
        except NotFoundError:
            return ""

    def result(self, step_name: str) -> Any:
        """What a function step returned (``@step``), or a step's properties otherwise."""
        run = self.step(step_name)
        props = run.properties
        if "Return" in props:
            return load_stored(props["Return"])
        return props

    def wait(
        self,
        *,
        timeout: float | None = None,
        poll_s: float = 0.2,
        raise_on_failure: bool = True,
        tracked: bool = False,
    ) -> ExecutionRecord:
        """Block until the execution ends. Raises ``ExecutionFailedError`` when it Failed or was
        Stopped (unless ``raise_on_failure=False``) and when its driver died before it ended
        (nothing would end it: ``retry()`` resumes it), ``TimeoutError`` after ``timeout``.

        MLflow's runs of the execution and its steps are written right behind the steps, by a
        worker of the driver's process (which finishes them before it exits). ``tracked=True``
        also waits until they are complete: the execution's MLflow run has ended."""
        deadline = None if timeout is None else time.monotonic() + timeout
        thread = _threads.get(self.id)
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                raise TimeoutError(f"execution {self.id} still running after {timeout} s")
            _threads.pop(self.id, None)
            if self.id in _errors:
                raise _errors.pop(self.id)
        while True:
            record = self.describe()
            if record.status.finished:
                break
            if is_orphaned(record):
                raise ExecutionFailedError(
                    f"execution {self.id} of pipeline {record.pipeline_name!r} is "
                    f"{record.status.value} but its driver ({record.driver}) is gone; resume it "
                    f"with Execution({self.id!r}).retry() or: rayline execution retry {self.id}",
                    execution_id=self.id,
                    status=record.status.value,
                )
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"execution {self.id} still {record.status} after {timeout} s")
            time.sleep(poll_s)
        if tracked:
            from rayline.tracking.runs import wait_until_tracked

            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            record = wait_until_tracked(self.id, db_url=self._repo.db.url, timeout=left)
        if raise_on_failure and record.status != ExecutionStatus.SUCCEEDED:
            raise ExecutionFailedError(
                f"execution {self.id} of pipeline {record.pipeline_name!r} "
                f"{record.status.value.lower()}: {record.failure_reason or 'no reason recorded'}",
                execution_id=self.id,
                status=record.status.value,
            )
        return record

    def stop(self) -> None:
        """Ask the execution to stop: running steps are cancelled, nothing new starts."""
        if not self._repo.set_execution_status(
            self.id, ExecutionStatus.STOPPING, only_from=(ExecutionStatus.EXECUTING,)
        ):
            status = self._repo.execution_status(self.id)
            if status != ExecutionStatus.STOPPING:
                raise ConflictError(
                    f"execution {self.id} is {status.value}; only an Executing "
                    "execution can be stopped"
                )

    def retry(
        self, *, detach: bool = False, parallelism_config: ParallelismConfiguration | None = None
    ) -> Execution:
        """Run the execution again from its failed or unfinished steps; succeeded steps are kept.

        Works on a Failed or Stopped execution, and on one still marked Executing whose driver
        process died (for example, killed with ``kill -9``). ``parallelism_config`` replaces
        the execution's step parallelism from now on.
        """
        check_parallelism(parallelism_config)
        record = self.describe()
        if record.status in (ExecutionStatus.EXECUTING, ExecutionStatus.STOPPING):
            if not is_orphaned(record):
                raise ConflictError(
                    f"execution {self.id} is {record.status.value} and its driver "
                    f"({record.driver}) is alive; wait for it or stop it first"
                )
        elif record.status == ExecutionStatus.SUCCEEDED:
            raise ConflictError(f"execution {self.id} succeeded; there is nothing to retry")
        if parallelism_config is not None:
            self._repo.set_max_parallel_steps(
                self.id, parallelism_config.max_parallel_execution_steps
            )
        from rayline.engine.listeners import notify

        event = self._repo.set_execution_status(self.id, ExecutionStatus.EXECUTING)
        if event is not None:  # tracking marks the execution's MLflow run running again
            notify(event, self._repo)
        launch(self.id, db_url=self._repo.db.url, detach=detach)
        return self


def is_orphaned(record: ExecutionRecord) -> bool:
    """Whether an execution still marked Executing or Stopping has lost the process that drove
    it (the driver died, e.g. ``kill -9``, or its machine went away): nothing will change its
    status any more until ``Execution.retry()`` / ``rayline execution retry ID`` resumes it.
    A finished execution is never orphaned. The stored status stays as it is: retry and resume
    read it."""
    if record.status.finished:
        return False
    thread = _threads.get(record.id)
    if thread is not None and thread.is_alive():
        return False
    from rayline.engine.scheduler import driver_alive

    return not driver_alive(record.driver, record.heartbeat_at)


def launch(execution_id: str, *, db_url: str, detach: bool) -> None:
    """Drive an execution: in a detached process, or in a thread of this process."""
    from rayline.engine.repository import open_repository
    from rayline.engine.scheduler import driver_id

    repo = open_repository(db_url)
    if detach:
        from rayline.engine.driver import spawn

        # The driver claims the execution once it has started (imports, DB, definition); claim
        # it for that process now, so until then it is not taken for an orphan.
        pid = spawn(execution_id)
        host = driver_id().rpartition(":")[0]  # the driver runs here: this host, its pid
        repo.claim(execution_id, f"{host}:{pid}")
        return
    from rayline.engine.scheduler import Scheduler
    from rayline.ray_connection import ensure_ray
    from rayline.store.artifacts import open_artifact_store
    from rayline.store.db import open_database

    repo.claim(execution_id, driver_id())  # this process; Ray may take a while to start
    ensure_ray()  # in the caller's thread: ray.init wants the main thread where it can
    scheduler = Scheduler(execution_id, db=open_database(db_url), store=open_artifact_store())

    def drive() -> None:
        try:
            scheduler.run()
        except BaseException as exc:  # recorded as Failed by the scheduler; re-raised in wait()
            _errors[execution_id] = exc

    thread = threading.Thread(target=drive, name=f"rayline-execution-{execution_id}")
    _threads[execution_id] = thread
    thread.start()


def list_executions(pipeline_name: str | None = None, *, limit: int = 50) -> list[ExecutionRecord]:
    """The latest executions (of one pipeline, or all), newest first."""
    from rayline.engine.repository import open_repository

    return open_repository().list_executions(pipeline_name, limit=limit)


def collect_orphaned_artifacts(*, older_than_s: float | None = None, dry_run: bool = False) -> Any:
    """Delete what step attempts wrote to the artifact store but never committed (failed,
    stopped or killed attempts, deleted executions), never what a running execution or a
    committed step run may still read; returns a ``rayline.engine.garbage.Collection``.
    ``older_than_s`` keeps prefixes modified more recently; ``dry_run`` deletes nothing."""
    from rayline.engine.garbage import collect_orphans
    from rayline.engine.repository import open_repository
    from rayline.store.artifacts import open_artifact_store

    return collect_orphans(
        store=open_artifact_store(),
        repository=open_repository(),
        older_than_s=older_than_s,
        dry_run=dry_run,
    )
