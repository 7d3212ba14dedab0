"""``Execution``: a handle on one run of a pipeline, read from the metadata DB.

Importing this module loads neither the metadata DB's libraries nor Ray; the methods import
the engine's repository and the stores when they are called.

A handle holds one backend, chosen when it is made (``execution_backend``): the embedded one
here (the metadata DB, the artifact store, this process's drivers) or, with
``RAYLINE_SERVER_URL`` set and no explicit ``db_url``, the server's REST API
(``rayline.remote.executions``). Both answer the ``ExecutionBackend`` protocol.
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Iterator
from typing import Any, Protocol

from rayline.config import settings
from rayline.definition.policies import ParallelismConfiguration, check_parallelism
from rayline.engine.context import load_stored
from rayline.engine.records import (
    EventKind,
    EventRecord,
    ExecutionRecord,
    ExecutionStatus,
    StepRunRecord,
)
from rayline.errors import ConflictError, ExecutionFailedError, NotFoundError, UserInputError

# Executions driven by a thread of this process, so wait() can join instead of polling.
_threads: dict[str, threading.Thread] = {}
_errors: dict[str, BaseException] = {}

#: How often a followed log or event log is read again (embedded).
FOLLOW_POLL_S = 0.25


class ExecutionBackend(Protocol):
    """What an ``Execution`` handle and ``list_executions`` need of where executions live."""

    def describe(self, execution_id: str) -> ExecutionRecord: ...

    def list_steps(self, execution_id: str) -> list[StepRunRecord]: ...

    def step(self, execution_id: str, name: str) -> StepRunRecord: ...

    def logs(self, execution_id: str, step_name: str) -> str: ...

    def follow_logs(self, execution_id: str, step_name: str) -> Iterator[str]: ...

    def events(self, execution_id: str, *, after_id: int = 0) -> list[EventRecord]: ...

    def follow_events(self, execution_id: str, *, after_id: int = 0) -> Iterator[EventRecord]: ...

    def stored_value(self, value: Any, *, execution_id: str, step: str) -> Any: ...

    def wait_tracked(self, execution_id: str, *, timeout: float | None) -> ExecutionRecord: ...

    def stop(self, execution_id: str) -> None: ...

    def retry(
        self,
        record: ExecutionRecord,
        *,
        detach: bool,
        parallelism_config: ParallelismConfiguration | None,
    ) -> None: ...

    def list_executions(
        self, pipeline_name: str | None = None, *, limit: int = 50
    ) -> list[ExecutionRecord]: ...


def execution_backend(db_url: str | None = None) -> ExecutionBackend:
    """The server's executions (``RAYLINE_SERVER_URL`` set, no ``db_url``), else the metadata
    DB at ``db_url`` (default: the configured one)."""
    from rayline.remote.client import server_client  # httpx only when it is asked for

    client = server_client(db_url)
    if client is not None:
        from rayline.remote.executions import RemoteExecutions

        return RemoteExecutions(client)
    return EmbeddedExecutions(db_url)


class Execution:
    """One execution of a pipeline. Every method reads where the execution lives, so a handle
    works from any process: ``Execution("a1b2c3...").describe()``."""

    def __init__(self, execution_id: str, *, db_url: str | None = None) -> None:
        """A handle on execution ``execution_id`` in the metadata DB at ``db_url`` (default: the
        configured one, or the server at ``RAYLINE_SERVER_URL``). Raises ``NotFoundError`` for
        an unknown id."""
        self.id = execution_id
        self._backend = execution_backend(db_url)
        self._backend.describe(execution_id)  # fail early on an unknown id

    def __repr__(self) -> str:
        return f"Execution({self.id!r})"

    @property
    def arn(self) -> str:
        """SageMaker-style name for the id."""
        return self.id

    def describe(self) -> ExecutionRecord:
        """The execution's current record: status, parameters, times, failure reason."""
        return self._backend.describe(self.id)

    def list_steps(self) -> list[StepRunRecord]:
        """The steps that have started, in start order, with status, times, outputs, cache use
        and the Ray node each ran on (``node``)."""
        return self._backend.list_steps(self.id)

    def step(self, name: str) -> StepRunRecord:
        """The run of step ``name``; raises ``NotFoundError`` when it has not started."""
        return self._backend.step(self.id, name)

    def events(self, *, after_id: int = 0) -> list[EventRecord]:
        """The event log, oldest first: every status change (``kind`` says what each event
        records; ``status`` is the new status), retries and listener failures. ``after_id``
        returns only the events recorded after that one (for following a running execution)."""
        return self._backend.events(self.id, after_id=after_id)

    def follow_events(self, *, after_id: int = 0) -> Iterator[EventRecord]:
        """The events after ``after_id`` as they are recorded, until the execution has ended
        (through a server: its event stream)."""
        return self._backend.follow_events(self.id, after_id=after_id)

    def logs(self, step_name: str) -> str:
        """What the step printed: its stored logs once it ended, what it printed so far while it
        runs."""
        return self._backend.logs(self.id, step_name)

    def follow_logs(self, step_name: str) -> Iterator[str]:
        """What the step printed, then what it prints as it runs, chunk by chunk, until it ends
        (a step that has not started: from when it starts; nothing if the execution ends
        first)."""
        return self._backend.follow_logs(self.id, step_name)

    def result(self, step_name: str) -> Any:
        """What a function step returned (``@step``), or a step's properties otherwise. Through
        a server: a value stored as a pickle in the artifact store is not readable (the client
        has no access to it), only one stored in the record."""
        props = self.step(step_name).properties
        if "Return" in props:
            return self._backend.stored_value(props["Return"], execution_id=self.id, step=step_name)
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
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            record = self._backend.wait_tracked(self.id, timeout=left)
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
        self._backend.stop(self.id)

    def retry(
        self, *, detach: bool = False, parallelism_config: ParallelismConfiguration | None = None
    ) -> Execution:
        """Run the execution again from its failed or unfinished steps; succeeded steps are kept.

        Works on a Failed or Stopped execution, and on one still marked Executing whose driver
        process died (for example, killed with ``kill -9``). ``parallelism_config`` replaces
        the execution's step parallelism from now on. Through a server, the server drives it
        (``detach`` does not apply).
        """
        check_parallelism(parallelism_config)
        self._backend.retry(self.describe(), detach=detach, parallelism_config=parallelism_config)
        return self


class EmbeddedExecutions:
    """Executions in the metadata DB at ``db_url`` (default: the configured one), driven by
    this process's threads or detached drivers."""

    def __init__(self, db_url: str | None = None) -> None:
        from rayline.engine.repository import open_repository

        self.repo = open_repository(db_url)

    def describe(self, execution_id: str) -> ExecutionRecord:
        return self.repo.get_execution(execution_id)

    def list_steps(self, execution_id: str) -> list[StepRunRecord]:
        return self.repo.list_step_runs(execution_id)

    def step(self, execution_id: str, name: str) -> StepRunRecord:
        return self.repo.get_step_run(execution_id, name)

    def events(self, execution_id: str, *, after_id: int = 0) -> list[EventRecord]:
        return self.repo.list_events(execution_id, after_id=after_id)

    def follow_events(self, execution_id: str, *, after_id: int = 0) -> Iterator[EventRecord]:
        cursor = after_id
        while True:
            # The record first: its final status and its end event commit together.
            record = self.repo.find_execution(execution_id)
            found = self.events(execution_id, after_id=cursor)
            yield from found
            if found:
                cursor = found[-1].id
            if record is None or (
                record.status.finished
                and (not found or found[-1].kind == EventKind.EXECUTION_ENDED)
            ):
                return
            time.sleep(FOLLOW_POLL_S)

    def logs(self, execution_id: str, step_name: str) -> str:
        return self._logs(self.step(execution_id, step_name))

    def follow_logs(self, execution_id: str, step_name: str) -> Iterator[str]:
        sent = 0
        while True:
            try:
                run: StepRunRecord | None = self.step(execution_id, step_name)
            except NotFoundError:  # not started yet
                run = None
            text = "" if run is None else self._logs(run)
            if len(text) > sent:
                yield text[sent:]
                sent = len(text)
            if run is not None and run.status.finished:
                return
            if run is None and self.describe(execution_id).status.finished:
                return
            time.sleep(FOLLOW_POLL_S)

    def _logs(self, run: StepRunRecord) -> str:
        if run.logs is not None or run.status.finished:
            return run.logs or ""
        from rayline.engine.context import LIVE_LOG, attempt_parts
        from rayline.store.artifacts import open_artifact_store

        # The running attempt's live log, read through the store (the node that runs the step
        # copies it there as it grows; on file:// it is written in place).
        store = open_artifact_store()
        parts = attempt_parts(run.execution_id, run.step_name, max(run.attempts, 1))
        try:
            return store.get_bytes(store.uri_for(*parts, LIVE_LOG)).decode(errors="replace")
        except NotFoundError:
            return ""

    def stored_value(self, value: Any, *, execution_id: str, step: str) -> Any:
        return load_stored(value)

    def wait_tracked(self, execution_id: str, *, timeout: float | None) -> ExecutionRecord:
        from rayline.tracking.runs import wait_until_tracked

        return wait_until_tracked(execution_id, db_url=self.repo.db.url, timeout=timeout)

    def stop(self, execution_id: str) -> None:
        if not self.repo.set_execution_status(
            execution_id, ExecutionStatus.STOPPING, only_from=(ExecutionStatus.EXECUTING,)
        ):
            status = self.repo.execution_status(execution_id)
            if status != ExecutionStatus.STOPPING:
                raise ConflictError(
                    f"execution {execution_id} is {status.value}; only an Executing "
                    "execution can be stopped"
                )

    def retry(
        self,
        record: ExecutionRecord,
        *,
        detach: bool,
        parallelism_config: ParallelismConfiguration | None,
    ) -> None:
        if record.status in (ExecutionStatus.EXECUTING, ExecutionStatus.STOPPING):
            if not is_orphaned(record):
                raise ConflictError(
                    f"execution {record.id} is {record.status.value} and its driver "
                    f"({record.driver}) is alive; wait for it or stop it first"
                )
        elif record.status == ExecutionStatus.SUCCEEDED:
            raise ConflictError(f"execution {record.id} succeeded; there is nothing to retry")
        if parallelism_config is not None:
            self.repo.set_max_parallel_steps(
                record.id, parallelism_config.max_parallel_execution_steps
            )
        from rayline.engine.listeners import notify

        event = self.repo.set_execution_status(record.id, ExecutionStatus.EXECUTING)
        if event is not None:  # tracking marks the execution's MLflow run running again
            notify(event, self.repo)
        launch(
            record.id,
            db_url=self.repo.db.url,
            detach=detach,
            expected_token=record.fencing_token,
        )

    def list_executions(
        self, pipeline_name: str | None = None, *, limit: int = 50
    ) -> list[ExecutionRecord]:
        return self.repo.list_executions(pipeline_name, limit=limit)


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
    from rayline.engine.lease import driver_alive

    return not driver_alive(record.driver, record.heartbeat_at, record.lease_expires_at)


def launch(execution_id: str, *, db_url: str, detach: bool, expected_token: int) -> None:
    """Drive an execution: in a detached process, or in a thread of this process. The caller
    decided to take it when its fencing token was ``expected_token`` (a new execution's 0);
    ``LeaseLostError`` when another driver claimed it since."""
    from rayline.engine.lease import driver_id
    from rayline.engine.repository import open_repository

    repo = open_repository(db_url)
    lease_s = settings().lease_s
    if detach:
        from rayline.engine.driver import spawn

        # The driver adopts the claim made here for its pid (it waits for it after start-up).
        pid = spawn(execution_id)
        host = driver_id().rpartition(":")[0]  # the driver runs here: this host, its pid
        repo.claim(execution_id, f"{host}:{pid}", expected_token=expected_token, lease_s=lease_s)
        return
    from rayline.engine.lease import Lease
    from rayline.engine.scheduler import Scheduler
    from rayline.ray_connection import ensure_ray
    from rayline.store.artifacts import open_artifact_store
    from rayline.store.db import open_database

    token = repo.claim(execution_id, driver_id(), expected_token=expected_token, lease_s=lease_s)
    # Renewed from now on: starting Ray may take longer than the lease.
    lease = Lease(repo, execution_id, token, lease_s=lease_s).start()
    try:
        ensure_ray()  # in the caller's thread: ray.init wants the main thread where it can
        scheduler = Scheduler(
            execution_id, db=open_database(db_url), store=open_artifact_store(), lease=lease
        )
    except BaseException:
        lease.stop()
        raise

    def drive() -> None:
        try:
            scheduler.run()
        except BaseException as exc:  # recorded as Failed by the scheduler; re-raised in wait()
            _errors[execution_id] = exc

    # In a copy of this context (a thread does not inherit it): a server's thread stays
    # embedded, whoever started it.
    thread = threading.Thread(
        target=contextvars.copy_context().run,
        args=(drive,),
        name=f"rayline-execution-{execution_id}",
    )
    _threads[execution_id] = thread
    thread.start()


def list_executions(pipeline_name: str | None = None, *, limit: int = 50) -> list[ExecutionRecord]:
    """The latest executions (of one pipeline, or all), newest first."""
    return execution_backend().list_executions(pipeline_name, limit=limit)


def collect_orphaned_artifacts(*, older_than_s: float | None = None, dry_run: bool = False) -> Any:
    """Delete what step attempts wrote to the artifact store but never committed (failed,
    stopped or killed attempts, deleted executions), never what a running execution or a
    committed step run may still read; returns a ``rayline.engine.garbage.Collection``.
    ``older_than_s`` keeps prefixes modified more recently; ``dry_run`` deletes nothing.

    Not through a server: it lists and deletes the artifact store's objects directly, which is
    the server machine's own maintenance (a client of the server has no access to its store)."""
    from rayline.remote.client import server_client

    client = server_client()
    if client is not None:
        client.close()
        raise UserInputError(
            "collecting orphaned artifacts lists and deletes the artifact store's objects, "
            f"which a client of the rayline server at {client.url} cannot reach; run "
            "`rayline artifacts gc` on the server's machine, without RAYLINE_SERVER_URL"
        )
    from rayline.engine.garbage import collect_orphans
    from rayline.engine.repository import open_repository
    from rayline.store.artifacts import open_artifact_store

    return collect_orphans(
        store=open_artifact_store(),
        repository=open_repository(),
        older_than_s=older_than_s,
        dry_run=dry_run,
    )
