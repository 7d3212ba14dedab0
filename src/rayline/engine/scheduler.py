"""The scheduler: runs one execution's steps on Ray as soon as their inputs are ready.

It is the only writer of an execution's state while it owns it: ownership is a lease in the
metadata DB, claimed by compare-and-set on a fencing token, renewed by a thread (``lease``), and
every write the scheduler makes names the token it holds, so a driver that was paused past its
lease (and was replaced) cannot write again: it gets ``LeaseLostError`` and stops quietly. A
scheduler can pick up an execution whose previous driver died or lost its lease: steps that
succeeded are kept, a step that was interrupted runs again as its next attempt (a new output
prefix, so the old attempt's task, if it still runs, never writes under the new one), and failed
or stopped steps (a retry) run again from their first attempt.

Every step kind is handled the same way: its runner (``rayline.step_kinds``) returns a
``StepResult`` whose outputs, properties, branch and failure the scheduler records; it never asks
which kind a step is. When the execution ends it records an ``ExecutionEnded`` event and hands it
to the event listeners (``rayline.engine.listeners``), which is how tracking closes its run.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from rayline.config import settings
from rayline.definition.expressions import resolve
from rayline.definition.pipeline import PipelineDefinition
from rayline.definition.selective import Selection
from rayline.definition.steps.base import Step
from rayline.engine.context import StepContext, StepResult, local_work_dir, output_uri
from rayline.engine.lease import Lease, driver_id
from rayline.engine.listeners import notify
from rayline.engine.records import EventKind, ExecutionStatus, StepRunRecord, StepStatus
from rayline.engine.repository import PipelineRepository, StepChange
from rayline.engine.resolution import CacheKeyResolver, ExecutionResolver, cache_key
from rayline.errors import ConflictError, LeaseLostError, RaylineError
from rayline.step_kinds import STEP_KINDS, load
from rayline.store.artifacts import ArtifactStore
from rayline.store.db import Database

POLL_S = 0.25
# How long a driver started for an execution waits for its launcher's claim to land.
ADOPT_TIMEOUT_S = 30.0

log = logging.getLogger("rayline.engine")


@dataclass
class _Running:
    name: str
    attempt: int
    first_started: float
    key: str | None


class Scheduler:
    """Drives one execution to its end. ``run()`` blocks; call it in a thread or a process."""

    def __init__(
        self,
        execution_id: str,
        *,
        db: Database,
        store: ArtifactStore,
        lease: Lease | None = None,
    ) -> None:
        self.repo = PipelineRepository(db)
        # The lease this scheduler drives under (None: adopt the claim its launcher made).
        self.lease = lease
        self.db, self.store = db, store
        self.execution = self.repo.get_execution(execution_id)
        _, definition = self.repo.get_definition(
            self.execution.pipeline_name, self.execution.pipeline_version
        )
        self.pipeline = PipelineDefinition.from_definition(definition)
        self.graph = self.pipeline.graph
        self.order = self.graph.topological_order()
        self.max_parallel = self.execution.max_parallel_steps or 50
        self.done: dict[str, StepRunRecord] = {}
        self.skipped: set[str] = set()
        self.failed: list[str] = []
        self.fail_message: str | None = None
        self.running: dict[Any, _Running] = {}
        self.delayed: list[tuple[float, str, int, float, str | None]] = []
        self.existing: set[str] = set()
        # Inside _together(): the changes to record in one transaction, and what waits for it.
        self._changes: list[StepChange] | None = None
        self._published: list[Callable[[], None]] = []
        # Attempts an earlier driver already started, per failed or stopped step: a retried
        # step runs its attempts again under the same prefixes, which are cleared first.
        self.started_before: dict[str, int] = {}
        # Steps an earlier driver left running (it died or lost its lease): the attempt they
        # had; they go on from the next one.
        self.interrupted: dict[str, int] = {}
        self.resumed: dict[str, int] = {}  # the same, kept after the step started again
        self.resolver = ExecutionResolver(
            self.pipeline,
            self.execution.id,
            self.execution.created_at,
            self.execution.parameters,
            self.done,
            store,
        )
        self.key_resolver = CacheKeyResolver(**vars(self.resolver))
        s = settings()
        self._ctx_common = dict(
            artifact_uri=store.uri,
            db_url=db.url,
            home=str(s.home),
            mlflow_tracking_uri=s.mlflow_tracking_uri,
            online_store_uri=s.online_store_uri,
            storage_env=_storage_env(),
        )

    # --- main loop --------------------------------------------------------------------------
    def run(self) -> ExecutionStatus | None:
        """Drive the execution to its end; its final status, or None when another driver
        claimed it meanwhile (this one lost its lease and stopped)."""
        if self.lease is None:
            self.lease = Lease(
                self.repo, self.execution.id, self._adopt_claim(), lease_s=settings().lease_s
            ).start()
        try:
            return self._run()
        finally:
            self.lease.stop()

    @property
    def token(self) -> int | None:
        return self.lease.token if self.lease is not None else None

    def _run(self) -> ExecutionStatus | None:
        for run in self.repo.list_step_runs(self.execution.id):
            self.existing.add(run.step_name)
            if run.status == StepStatus.SUCCEEDED:
                self.done[run.step_name] = run
            elif run.status in (StepStatus.STARTING, StepStatus.EXECUTING) and run.attempts:
                self.interrupted[run.step_name] = run.attempts
                self.resumed[run.step_name] = run.attempts
            else:
                self.started_before[run.step_name] = run.attempts
        try:
            if self.execution.selective:
                self._apply_selection()
            from rayline.ray_connection import ensure_ray

            ensure_ray()
            return self._loop()
        except LeaseLostError as exc:
            # Another driver owns the execution now: write nothing more, leave it to that one.
            log.warning("%s; this driver cancels its tasks and stops", exc)
            self._abandon()
            return None
        except BaseException as exc:
            # The driver itself failed (not a step): record it; never leave Executing behind.
            self._cancel_running()
            self._end(
                ExecutionStatus.FAILED,
                f"the pipeline driver failed: {type(exc).__name__}: {exc}",
            )
            raise

    def _adopt_claim(self) -> int:
        """The fencing token of the claim the launcher made for this process (a detached driver
        is claimed by the process that spawned it, once it knows the pid)."""
        me = driver_id()
        deadline = time.monotonic() + ADOPT_TIMEOUT_S
        while True:
            record = self.repo.get_execution(self.execution.id)
            if record.driver == me and record.fencing_token > 0:
                self.repo.renew(record.id, record.fencing_token, lease_s=settings().lease_s)
                return record.fencing_token
            if time.monotonic() > deadline:
                raise LeaseLostError(
                    f"execution {record.id} was not claimed for this driver ({me}) within "
                    f"{ADOPT_TIMEOUT_S:g} s; it is held by {record.driver}"
                )
            time.sleep(0.05)

    def _loop(self) -> ExecutionStatus:
        import ray

        pending = [n for n in self.order if n not in self.done and n not in self.skipped]
        last_poll = time.monotonic()
        stopping = False
        while True:
            if not stopping and not self.failed and self.fail_message is None:
                pending = self._launch_ready(pending)
            if not self.running and not self.delayed:
                break
            if self.running:
                ready, rest = ray.wait(list(self.running), num_returns=1, timeout=POLL_S)
                if ready and rest:  # whatever else has finished: recorded in the same commit
                    more, _ = ray.wait(rest, num_returns=len(rest), timeout=0)
                    ready += more
                with self._together():
                    for ref in ready:
                        self._finish(ref, self.running.pop(ref))
            else:
                time.sleep(min(POLL_S, max(0.0, self.delayed[0][0] - time.time())))
            self._release_delayed(stopping)
            now = time.monotonic()
            if now - last_poll >= POLL_S:
                last_poll = now
                if (
                    not stopping
                    and self.repo.execution_status(self.execution.id) == ExecutionStatus.STOPPING
                ):
                    stopping = True
                    self._cancel_running()
            self.lease.check()
        return self._conclude(stopping=stopping)

    def _conclude(self, *, stopping: bool) -> ExecutionStatus:
        if stopping:
            status, reason = ExecutionStatus.STOPPED, "stopped by request"
        elif self.fail_message is not None or self.failed:
            status = ExecutionStatus.FAILED
            reason = self.fail_message or "; ".join(self.failed)
        else:
            status, reason = ExecutionStatus.SUCCEEDED, None
        self._end(status, reason)
        return status

    def _end(self, status: ExecutionStatus, reason: str | None) -> None:
        # The final status and its ExecutionEnded event are one transaction; listeners react.
        event = self.repo.set_execution_status(
            self.execution.id, status, failure_reason=reason, fencing_token=self.token
        )
        if event is not None:
            notify(event, self.repo)

    # Every event the scheduler records goes to the listeners subscribed to its kind.
    def _record_step(
        self,
        name: str,
        status: StepStatus,
        *,
        create: dict[str, Any] | None = None,
        detail: str | None = None,
        **values: Any,
    ) -> None:
        self._record(StepChange(name, status, create=create, detail=detail, values=values))

    def _add_event(
        self, kind: EventKind, *, step_name: str | None = None, detail: str | None = None
    ) -> None:
        self._record(StepChange(step_name, kind=kind, detail=detail))

    def _record(self, change: StepChange) -> None:
        if self._changes is not None:
            self._changes.append(change)
            return
        for event in self.repo.record_changes(
            self.execution.id, [change], fencing_token=self.token
        ):
            notify(event, self.repo)

    @contextlib.contextmanager
    def _together(self) -> Iterator[None]:
        """Record the changes made inside in one transaction when the block ends; then their
        events go to the listeners, and what waited for the commit is published (a fan-out's
        steps start, or finish, in one commit instead of one each)."""
        self._changes, self._published = [], []
        try:
            yield
        finally:
            changes, self._changes = self._changes, None
            published, self._published = self._published, []
            if changes:
                for event in self.repo.record_changes(
                    self.execution.id, changes, fencing_token=self.token
                ):
                    notify(event, self.repo)
            for publish in published:
                publish()

    def _publish(self, publish: Callable[[], None]) -> None:
        # Commit, then publish: later steps see a result once its record is committed.
        if self._changes is None:
            publish()
        else:
            self._published.append(publish)

    # --- scheduling -------------------------------------------------------------------------
    def _launch_ready(self, pending: list[str]) -> list[str]:
        # Pass after pass (a pass's steps start in one commit; what they published, a cache
        # hit or a condition's branch, makes more steps ready for the next pass).
        progressed = True
        while progressed:
            progressed = False
            still: list[str] = []
            with self._together():
                for name in pending:
                    state = self._readiness(name)
                    if state == "wait" or (state == "ready" and self._busy()):
                        still.append(name)
                        continue
                    progressed = True
                    if state == "skip":
                        self.skipped.add(name)
                    else:
                        self._start(name)
                    if self.failed or self.fail_message is not None:
                        return []
            pending = still
        return pending

    def _busy(self) -> bool:
        return len(self.running) + len(self.delayed) >= self.max_parallel

    def _readiness(self, name: str) -> str:
        owner = self.graph.owner.get(name)
        if owner is not None:
            parent, branch = owner
            if parent in self.skipped:
                return "skip"
            if parent not in self.done:
                return "wait"
            if self.done[parent].branch != branch:
                return "skip"
        for up in self.graph.upstream[name]:
            if up in self.skipped:
                return "skip"
            if up not in self.done:
                return "wait"
        return "ready"

    def _start(self, name: str) -> None:
        step = self.graph.steps[name]
        kind = STEP_KINDS[step.kind]
        key = None
        try:
            if step.cache_config is not None and step.cache_config.enable_caching:
                key = cache_key(step, self.key_resolver)
                if self._reuse(step, key):
                    return
            if not kind.on_ray:
                self._run_inline(step, kind.runner, key)
                return
            # An interrupted step goes on from its next attempt, under a prefix of its own.
            attempt = self.interrupted.pop(name, 0) + 1
            self._submit(step, attempt=attempt, first_started=time.time(), key=key)
        except LeaseLostError:
            raise
        except RaylineError as exc:
            self._record_failure(step, f"{type(exc).__name__}: {exc}", None, attempts=1)

    def _create_or_update(self, step: Step, status: StepStatus, **values: Any) -> None:
        create, values = self._fresh_run(step, values)
        self._record_step(step.name, status, create=create, **values)

    def _fresh_run(
        self, step: Step, values: dict[str, Any]
    ) -> tuple[dict[str, Any] | None, dict[str, Any]]:
        """The new row's fields (a first run) or the fields that reset a retried or resumed
        step's record, with ``values`` over them."""
        if step.name not in self.existing:
            self.existing.add(step.name)
            return {"pipeline_name": self.pipeline.name, "step_type": step.kind}, values
        # a retried or resumed step starts a fresh record of its run
        return None, {
            "failure_reason": None,
            "user_traceback": None,
            "logs": None,
            "outputs": None,
            "properties": None,
            "ended_at": None,
            "cached_from": None,
            "branch": None,
            "manifests": None,
            "node": None,
            "started_at": time.time(),
            **values,
        }

    def _reuse(self, step: Step, key: str) -> bool:
        window = step.cache_config.expire_after_seconds
        hit = self.repo.find_cached(
            self.pipeline.name, step.name, key, not_before=time.time() - window if window else None
        )
        if hit is None or not all(self.store.exists(u) for u in hit.outputs.values()):
            return False
        source = hit.execution_id  # find_cached returns only runs that computed
        self._adopt(step, hit, key=key, detail=f"cache hit: reused the run of execution {source}")
        return True

    def _adopt(self, step: Step, run: StepRunRecord, *, key: str | None, detail: str) -> None:
        """Record ``run`` (another execution's success) as this execution's run of ``step``;
        ``cached_from`` names the execution that computed it."""
        source = run.cached_from or run.execution_id
        self._create_or_update(
            step,
            StepStatus.SUCCEEDED,
            outputs=run.outputs,
            properties=run.properties,
            branch=run.branch,
            manifests=run.manifests,
            cache_key=key,
            cached_from=source,
            attempts=0,
            started_at=time.time(),
            logs=run.logs,
            detail=detail,
        )
        self._publish(
            lambda: self._done(
                step,
                outputs=run.outputs,
                properties=run.properties,
                branch=run.branch,
                key=key,
                cached_from=source,
                manifests=run.manifests,
            )
        )

    def _apply_selection(self) -> None:
        """A selective execution: take the selected steps' unselected upstream steps from the
        source execution, and leave the other unselected steps out."""
        plan = Selection.from_request(self.execution.selective, self.graph)
        source_id = self.execution.selective["SourcePipelineExecutionId"]
        self.skipped |= plan.skipped
        source_runs = (
            {r.step_name: r for r in self.repo.list_step_runs(source_id)} if source_id else {}
        )
        for name in self.order:
            if name not in plan.reused or name in self.done:
                continue
            run = source_runs.get(name)
            if run is None or run.status != StepStatus.SUCCEEDED:
                # Checked when the execution started; the source may have been deleted since.
                raise ConflictError(
                    f"step {name!r} is upstream of a selected step but did not succeed in the "
                    f"source execution {source_id}"
                )
            self._adopt(
                self.graph.steps[name],
                run,
                key=run.cache_key,
                detail=f"selective execution: taken from execution {source_id}",
            )

    def _done(
        self,
        step: Step,
        *,
        outputs: dict[str, str],
        properties: dict[str, Any],
        branch: str | None,
        key: str | None,
        cached_from: str | None = None,
        manifests: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        # What later steps resolve against; the same values were just written to the DB.
        self.done[step.name] = StepRunRecord(
            execution_id=self.execution.id,
            pipeline_name=self.pipeline.name,
            step_name=step.name,
            step_type=step.kind,
            status=StepStatus.SUCCEEDED,
            outputs=outputs,
            properties=properties,
            branch=branch,
            cache_key=key,
            cached_from=cached_from,
            manifests=manifests or {},
        )

    def _run_inline(self, step: Step, runner: str, key: str | None) -> None:
        # An instant step that reads only the execution's state: run here, with the resolver.
        self._create_or_update(step, StepStatus.STARTING, attempts=1, cache_key=key)
        self._record_step(step.name, StepStatus.EXECUTING)
        ctx = self._context(step, attempt=1, resolver=self.resolver)
        node = _driver_node()
        try:
            with ctx.acting():
                result = load(runner)(step, ctx)
        except RaylineError as exc:
            error = f"{type(exc).__name__}: {exc}"
            self._record_failure(step, error, None, attempts=1, node=node)
            return
        self._complete(step, result, key=key, logs=None, node=node)

    def _complete(
        self,
        step: Step,
        result: StepResult,
        *,
        key: str | None,
        logs: str | None,
        attempts: int = 1,
        manifests: dict[str, dict[str, Any]] | None = None,
        node: str | None = None,
    ) -> None:
        """Record what a runner returned, the same way for every kind.

        Commit, then publish: the outputs' manifests are recorded in the same transaction as
        the Succeeded status, and only then do later steps and cache hits see the outputs.
        """
        labels = tuple(step.branches())
        if result.branch not in labels and (labels or result.branch is not None):
            choices = ", ".join(repr(b) for b in labels) or "none: the step has no branches"
            self._record_failure(
                step,
                f"the runner of {step.kind} step {step.name!r} chose branch {result.branch!r}; "
                f"it must choose one of its branches ({choices})",
                None,
                attempts=attempts,
                logs=logs,
                node=node,
            )
            return
        if result.failure is not None:
            self._record_step(
                step.name,
                StepStatus.FAILED,
                failure_reason=result.failure,
                properties=result.properties,
                logs=logs,
                node=node,
                detail=result.failure,
            )
            self.fail_message = result.failure
            return
        outputs = {
            **{
                n: output_uri(self.store, self.execution.id, step.name, attempts, n)
                for n in step.declared_outputs()
            },
            **result.outputs,
        }
        self._record_step(
            step.name,
            StepStatus.SUCCEEDED,
            outputs=outputs,
            properties=result.properties,
            branch=result.branch,
            manifests=manifests or None,
            logs=logs,
            node=node,
            detail=result.summary,
        )
        self._publish(
            lambda: self._done(
                step,
                outputs=outputs,
                properties=result.properties,
                branch=result.branch,
                key=key,
                manifests=manifests,
            )
        )

    def _context(self, step: Step, *, attempt: int, resolver: Any = None) -> StepContext:
        # Nothing is created here: the Ray task makes the work dir on the node that runs the
        # step (on file:// that is inside the store) and uploads the outputs from there.
        work_dir = local_work_dir(self.store, self.execution.id, step.name, attempt)
        names = step.declared_outputs()
        return StepContext(
            execution_id=self.execution.id,
            pipeline_name=self.pipeline.name,
            step_name=step.name,
            attempt=attempt,
            work_dir=work_dir,
            outputs={n: work_dir / "output" / n for n in names},
            output_uris={
                n: output_uri(self.store, self.execution.id, step.name, attempt, n) for n in names
            },
            parameters=self.execution.parameters,
            resolver=resolver,
            clear_attempt=attempt <= self.started_before.get(step.name, 0),
            started_by=self.execution.started_by,
            **self._ctx_common,
        )

    def _submit(self, step: Step, *, attempt: int, first_started: float, key: str | None) -> None:
        from rayline.engine.worker import run_step

        resolved = resolve(step, self.resolver)
        ctx = self._context(step, attempt=attempt)
        options = {k: v for k, v in step.ray_options().items() if v}
        options.setdefault("num_cpus", 0)
        if step.resources:  # placement: the custom Ray resources the step asks for
            options["resources"] = {**options.get("resources", {}), **step.resources}
        if step.runtime_env:  # the step's pip requirements and env vars, over its kind's
            from rayline.engine.environment import task_runtime_env

            options["runtime_env"] = task_runtime_env(options.get("runtime_env"), step.runtime_env)
        started = time.time()
        ref = run_step.options(name=f"{self.pipeline.name}.{step.name}", **options).remote(
            STEP_KINDS[step.kind].runner, resolved, ctx
        )
        self.running[ref] = _Running(step.name, attempt, first_started, key)
        # Recorded while the task already runs: Starting (when it was handed to Ray) and
        # Executing, in one transaction.
        if attempt == 1:
            create, values = self._fresh_run(step, {"attempts": 1, "cache_key": key})
            values.pop("started_at", None)  # it started now
            detail = None
        elif self.resumed.get(step.name) == attempt - 1:
            # The first attempt this driver runs of a step an earlier driver left running.
            create, values = None, {"attempts": attempt}
            detail = f"attempt {attempt}: the driver of attempt {attempt - 1} was lost; resumed"
        else:
            create, values, detail = None, {"attempts": attempt}, f"attempt {attempt}"
        self._record(
            StepChange(step.name, create=create, detail=detail, values=values, started_at=started)
        )

    def _finish(self, ref: Any, run: _Running) -> None:
        import ray

        step = self.graph.steps[run.name]
        try:
            outcome = ray.get(ref)
        except ray.exceptions.TaskCancelledError:
            self._record_step(run.name, StepStatus.STOPPED)
            return
        except ray.exceptions.RuntimeEnvSetupError as exc:  # its pip requirements, say
            from rayline.engine.environment import runtime_env_failure

            reason = runtime_env_failure(run.name, exc)
            self._after_failure(step, run, reason, ("RuntimeEnvSetupError",), None, "")
            return
        except (
            ray.exceptions.WorkerCrashedError,
            ray.exceptions.RayTaskError,
            ray.exceptions.NodeDiedError,
            ray.exceptions.ObjectLostError,
        ) as exc:
            self._after_failure(
                step, run, f"the Ray worker running the step died: {exc}", ("WorkerDied",), None, ""
            )
            return
        if outcome.ok:
            self._complete(
                step,
                outcome.result,
                key=run.key,
                logs=outcome.logs,
                attempts=run.attempt,
                manifests=outcome.manifests,
                node=outcome.node,
            )
        else:
            self._after_failure(
                step,
                run,
                outcome.error or "failed",
                outcome.exception_chain,
                outcome.user_traceback,
                outcome.logs,
                node=outcome.node,
            )

    def _after_failure(
        self,
        step: Step,
        run: _Running,
        error: str,
        chain: tuple[str, ...],
        tb: str | None,
        logs: str,
        *,
        node: str | None = None,
    ) -> None:
        elapsed = time.time() - run.first_started
        for policy in step.retry_policies:
            if policy.matches(chain) and policy.allows(run.attempt, elapsed):
                delay = policy.delay(run.attempt)
                self._add_event(
                    EventKind.ATTEMPT_FAILED,
                    step_name=step.name,
                    detail=f"attempt {run.attempt} failed: {error}; retrying in {delay:g} s",
                )
                self.delayed.append(
                    (time.time() + delay, step.name, run.attempt + 1, run.first_started, run.key)
                )
                self.delayed.sort()
                return
        self._record_failure(step, error, tb, attempts=run.attempt, logs=logs, node=node)

    def _record_failure(
        self,
        step: Step,
        error: str,
        tb: str | None,
        *,
        attempts: int,
        logs: str | None = None,
        node: str | None = None,
    ) -> None:
        if step.name not in self.existing:
            self._create_or_update(step, StepStatus.STARTING, attempts=attempts)
        self._record_step(
            step.name,
            StepStatus.FAILED,
            failure_reason=error,
            user_traceback=tb,
            logs=logs,
            attempts=attempts,
            node=node,
            detail=error,
        )
        self.failed.append(f"step {step.name!r} failed: {error}")

    def _release_delayed(self, stopping: bool) -> None:
        now = time.time()
        while self.delayed and (stopping or self.delayed[0][0] <= now):
            _, name, attempt, first, key = self.delayed.pop(0)
            if stopping:
                self._record_step(name, StepStatus.STOPPED)
                continue
            self._submit(self.graph.steps[name], attempt=attempt, first_started=first, key=key)

    def _abandon(self) -> None:
        # Cancel this driver's tasks and record nothing: the new owner runs those steps again.
        import ray

        for ref in self.running:
            with contextlib.suppress(Exception):
                ray.cancel(ref, force=True)
        self.running.clear()

    def _cancel_running(self) -> None:
        import ray

        for ref, run in list(self.running.items()):
            self._record_step(run.name, StepStatus.STOPPING)
            ray.cancel(ref, force=True)
        for ref, run in list(self.running.items()):
            with contextlib.suppress(Exception):
                ray.get(ref, timeout=30)
            self._record_step(run.name, StepStatus.STOPPED)
            del self.running[ref]


def _driver_node() -> str | None:
    """The Ray node this driver is attached to: where a step the scheduler runs itself ran."""
    import ray

    return ray.get_runtime_context().get_node_id() if ray.is_initialized() else None


def _storage_env() -> dict[str, str]:
    """The driver's S3 settings for the steps (when any are set): a Ray worker started before
    they were set would not see them in its own environment."""
    from rayline.store.s3 import S3Connection

    return S3Connection.from_environment().environment()
