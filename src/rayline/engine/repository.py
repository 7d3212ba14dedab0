"""All reads and writes of pipelines, executions, step runs and events (the event log).

Every status change is one transaction that updates the record and appends an event, so the
CLI (and any other reader) sees a consistent history even if the driver dies mid-way.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from rayline.engine.records import (
    EventKind,
    EventRecord,
    ExecutionRecord,
    ExecutionStatus,
    PipelineRecord,
    StepRunRecord,
    StepStatus,
)
from rayline.engine.schema import events, executions, pipeline_versions, pipelines, step_runs
from rayline.errors import ConflictError, LeaseLostError, NotFoundError
from rayline.store.db import Database
from rayline.store.rows import from_row


@dataclass(frozen=True)
class StepChange:
    """One change for :meth:`PipelineRepository.record_changes`: a step's new ``status`` (its
    row's ``values``; ``create`` holds a new row's fields), a step handed to Ray at
    ``started_at`` (its Starting and Executing), or else an event of ``kind`` that is no
    status change."""

    step_name: str | None
    status: StepStatus | None = None
    create: dict[str, Any] | None = None
    detail: str | None = None
    values: dict[str, Any] = field(default_factory=dict)
    started_at: float | None = None
    kind: EventKind = EventKind.STEP_STATUS
    #: When it happened (a step handed to Ray: when it was Executing), not when it is written:
    #: changes recorded together keep their own times, in order.
    at: float = field(default_factory=time.time)


class PipelineRepository:
    """The pipeline engine's view of the metadata DB."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # --- pipelines --------------------------------------------------------------------------
    def upsert_pipeline(self, name: str, definition: str, description: str = "") -> int:
        """Store ``definition`` as the pipeline's newest version (unchanged: same version)."""
        now = time.time()
        with self.db.begin() as conn:
            row = conn.execute(
                sa.select(pipelines).where(pipelines.c.name == name).with_for_update()
            ).first()
            if row is None:
                conn.execute(
                    pipelines.insert().values(
                        name=name,
                        description=description,
                        latest_version=1,
                        created_at=now,
                        updated_at=now,
                    )
                )
                version = 1
            else:
                latest = conn.execute(
                    sa.select(pipeline_versions.c.definition).where(
                        pipeline_versions.c.pipeline_name == name,
                        pipeline_versions.c.version == row.latest_version,
                    )
                ).scalar_one()
                if latest == definition:
                    return row.latest_version
                version = row.latest_version + 1
                conn.execute(
                    pipelines.update()
                    .where(pipelines.c.name == name)
                    .values(latest_version=version, updated_at=now, description=description)
                )
            conn.execute(
                pipeline_versions.insert().values(
                    pipeline_name=name, version=version, definition=definition, created_at=now
                )
            )
        return version

    def get_pipeline(self, name: str) -> PipelineRecord:
        with self.db.connect() as conn:
            row = conn.execute(sa.select(pipelines).where(pipelines.c.name == name)).first()
        if row is None:
            stored = ", ".join(p.name for p in self.list_pipelines()) or "none"
            raise NotFoundError(
                f"pipeline {name!r} does not exist; stored pipelines: {stored} (create it with "
                "`rayline pipeline upsert FILE` or Pipeline(...).upsert())"
            )
        return PipelineRecord(**row._mapping)

    def list_pipelines(self) -> list[PipelineRecord]:
        with self.db.connect() as conn:
            rows = conn.execute(sa.select(pipelines).order_by(pipelines.c.name)).all()
        return [PipelineRecord(**r._mapping) for r in rows]

    def get_definition(self, name: str, version: int | None = None) -> tuple[int, str]:
        if version is None:
            version = self.get_pipeline(name).latest_version
        with self.db.connect() as conn:
            definition = conn.execute(
                sa.select(pipeline_versions.c.definition).where(
                    pipeline_versions.c.pipeline_name == name,
                    pipeline_versions.c.version == version,
                )
            ).scalar()
        if definition is None:
            latest = self.get_pipeline(name).latest_version  # raises if there is no pipeline
            raise NotFoundError(
                f"pipeline {name!r} has no version {version}; its versions are 1 to {latest} "
                f"(rayline pipeline describe {name})"
            )
        return version, definition

    def delete_pipeline(self, name: str) -> None:
        self.get_pipeline(name)
        with self.db.begin() as conn:
            running = conn.execute(
                sa.select(sa.func.count())
                .select_from(executions)
                .where(
                    executions.c.pipeline_name == name,
                    executions.c.status.in_([ExecutionStatus.EXECUTING, ExecutionStatus.STOPPING]),
                )
            ).scalar_one()
            if running:
                raise ConflictError(
                    f"pipeline {name!r} has {running} running execution(s); stop them first "
                    "(`rayline execution stop ID`)"
                )
            ids = sa.select(executions.c.id).where(executions.c.pipeline_name == name)
            conn.execute(events.delete().where(events.c.execution_id.in_(ids)))
            conn.execute(step_runs.delete().where(step_runs.c.execution_id.in_(ids)))
            conn.execute(executions.delete().where(executions.c.pipeline_name == name))
            conn.execute(
                pipeline_versions.delete().where(pipeline_versions.c.pipeline_name == name)
            )
            conn.execute(pipelines.delete().where(pipelines.c.name == name))

    # --- executions -------------------------------------------------------------------------
    def set_max_parallel_steps(self, execution_id: str, value: int) -> None:
        """How many steps of the execution may run at once, from its next (re)start."""
        with self.db.begin() as conn:
            conn.execute(
                executions.update()
                .where(executions.c.id == execution_id)
                .values(max_parallel_steps=value)
            )

    def create_execution(
        self,
        execution_id: str,
        pipeline_name: str,
        version: int,
        parameters: dict[str, Any],
        *,
        max_parallel_steps: int | None,
        selective: dict[str, Any] | None = None,
        started_by: str | None = None,
        driver: str | None = None,
        lease_s: float | None = None,
    ) -> ExecutionRecord:
        """A new Executing execution, held by ``driver`` (the process that starts it) for
        ``lease_s`` with fencing token 0 until the driver that runs it claims it."""
        now = time.time()
        with self.db.begin() as conn:
            conn.execute(
                executions.insert().values(
                    id=execution_id,
                    pipeline_name=pipeline_name,
                    pipeline_version=version,
                    status=ExecutionStatus.EXECUTING.value,
                    parameters=parameters,
                    created_at=now,
                    max_parallel_steps=max_parallel_steps,
                    selective=selective,
                    started_by=started_by,
                    driver=driver,
                    heartbeat_at=now if driver else None,
                    lease_expires_at=now + lease_s if driver and lease_s else None,
                    fencing_token=0,
                )
            )
            _append_event(
                conn,
                execution_id,
                EventKind.EXECUTION_STATUS,
                status=ExecutionStatus.EXECUTING.value,
                at=now,
            )
        return self.get_execution(execution_id)

    def get_execution(self, execution_id: str) -> ExecutionRecord:
        """The execution's record; raises ``NotFoundError`` when there is none."""
        record = self.find_execution(execution_id)
        if record is None:
            raise NotFoundError(
                f"execution {execution_id!r} does not exist; list them with "
                "`rayline execution list`"
            )
        return record

    def find_execution(self, execution_id: str) -> ExecutionRecord | None:
        """The execution's record, or None when there is none."""
        with self.db.connect() as conn:
            row = conn.execute(sa.select(executions).where(executions.c.id == execution_id)).first()
        return _execution(row) if row is not None else None

    def execution_status(self, execution_id: str) -> ExecutionStatus:
        with self.db.connect() as conn:
            return ExecutionStatus(
                conn.execute(
                    sa.select(executions.c.status).where(executions.c.id == execution_id)
                ).scalar_one()
            )

    def list_executions(
        self, pipeline_name: str | None = None, *, limit: int = 50, status: str | None = None
    ) -> list[ExecutionRecord]:
        q = sa.select(executions).order_by(executions.c.created_at.desc()).limit(limit)
        if pipeline_name:
            q = q.where(executions.c.pipeline_name == pipeline_name)
        if status:
            q = q.where(executions.c.status == status)
        with self.db.connect() as conn:
            return [_execution(r) for r in conn.execute(q).all()]

    def set_execution_status(
        self,
        execution_id: str,
        status: ExecutionStatus,
        *,
        failure_reason: str | None = None,
        only_from: tuple[ExecutionStatus, ...] | None = None,
        fencing_token: int | None = None,
    ) -> EventRecord | None:
        """Change the status and append its event, in one transaction; the event (a finished
        status: ``EXECUTION_ENDED``), or None when ``only_from`` did not match the status. The
        owner passes its ``fencing_token``: ``LeaseLostError`` when another owner claimed it."""
        now = time.time()
        values: dict[str, Any] = {"status": status.value}
        if status.finished:
            values["ended_at"] = now
        else:
            values["ended_at"] = None
        if failure_reason is not None or status == ExecutionStatus.EXECUTING:
            values["failure_reason"] = failure_reason
        q = executions.update().where(executions.c.id == execution_id).values(**values)
        if only_from is not None:
            q = q.where(executions.c.status.in_([s.value for s in only_from]))
        kind = EventKind.EXECUTION_ENDED if status.finished else EventKind.EXECUTION_STATUS
        with self.db.begin() as conn:
            _fence(conn, execution_id, fencing_token, now)
            if conn.execute(q).rowcount == 0:
                return None
            return _append_event(
                conn, execution_id, kind, status=status.value, at=now, detail=failure_reason
            )

    def claim(self, execution_id: str, driver: str, *, expected_token: int, lease_s: float) -> int:
        """Take ownership of the execution for ``driver``: compare-and-set on the fencing token
        the caller saw when it decided to take it (a new execution's 0, a lapsed owner's).
        Returns the new token, which the owner passes to every write; ``LeaseLostError`` when
        somebody claimed the execution since."""
        now = time.time()
        with self.db.begin() as conn:
            claimed = conn.execute(
                executions.update()
                .where(
                    executions.c.id == execution_id,
                    executions.c.fencing_token == expected_token,
                )
                .values(
                    driver=driver,
                    heartbeat_at=now,
                    lease_expires_at=now + lease_s,
                    fencing_token=expected_token + 1,
                )
            ).rowcount
            if claimed:
                return expected_token + 1
            owner = conn.execute(
                sa.select(executions.c.driver).where(executions.c.id == execution_id)
            ).scalar_one_or_none()
        raise LeaseLostError(
            f"execution {execution_id} was claimed by another driver ({owner}) first; it "
            "drives the execution now"
        )

    def renew(self, execution_id: str, fencing_token: int, *, lease_s: float) -> float:
        """Renew the owner's lease (its heartbeat); returns the new expiry. ``LeaseLostError``
        when another owner holds the execution now."""
        now = time.time()
        with self.db.begin() as conn:
            renewed = conn.execute(
                executions.update()
                .where(
                    executions.c.id == execution_id,
                    executions.c.fencing_token == fencing_token,
                )
                .values(heartbeat_at=now, lease_expires_at=now + lease_s)
            ).rowcount
        if not renewed:
            raise _lease_lost(execution_id, fencing_token)
        return now + lease_s

    def unfinished_executions(self) -> list[ExecutionRecord]:
        """The executions still Executing or Stopping (someone owns them, or should)."""
        unfinished = (ExecutionStatus.EXECUTING.value, ExecutionStatus.STOPPING.value)
        with self.db.connect() as conn:
            rows = conn.execute(
                sa.select(executions)
                .where(executions.c.status.in_(unfinished))
                .order_by(executions.c.created_at)
            ).all()
        return [_execution(r) for r in rows]

    def claim_mlflow_run(self, execution_id: str, run_id: str) -> str:
        """Put ``run_id`` on the execution unless it has an MLflow run already (compare-and-set,
        so parallel steps agree on one run); the run id the execution has afterwards."""
        with self.db.begin() as conn:
            claimed = conn.execute(
                executions.update()
                .where(executions.c.id == execution_id, executions.c.mlflow_run_id.is_(None))
                .values(mlflow_run_id=run_id)
            ).rowcount
            if claimed:
                return run_id
            return conn.execute(
                sa.select(executions.c.mlflow_run_id).where(executions.c.id == execution_id)
            ).scalar_one()

    def set_step_mlflow_run(self, execution_id: str, step_name: str, run_id: str) -> bool:
        """Put ``run_id`` on the step's run; False when the step has no run recorded."""
        with self.db.begin() as conn:
            return bool(
                conn.execute(
                    step_runs.update()
                    .where(
                        step_runs.c.execution_id == execution_id,
                        step_runs.c.step_name == step_name,
                    )
                    .values(mlflow_run_id=run_id)
                ).rowcount
            )

    # --- step runs --------------------------------------------------------------------------
    def record_step(
        self,
        execution_id: str,
        step_name: str,
        status: StepStatus,
        *,
        create: dict[str, Any] | None = None,
        detail: str | None = None,
        **values: Any,
    ) -> EventRecord:
        """Insert (``create`` holds the new row's fields) or update a step run, and append its
        event, in one transaction; returns the event."""
        with self.db.begin() as conn:
            return _record_step(
                conn, execution_id, step_name, status, time.time(), create, detail, values
            )

    def record_changes(
        self,
        execution_id: str,
        changes: Sequence[StepChange],
        *,
        fencing_token: int | None = None,
    ) -> list[EventRecord]:
        """Record ``changes`` in order, in one transaction; returns their events in order (a
        step handed to Ray has two: its ``Starting`` and its ``Executing``). The owner passes
        its ``fencing_token``: ``LeaseLostError`` (nothing written) when another owner claimed
        the execution."""
        out: list[EventRecord] = []
        with self.db.begin() as conn:
            _fence(conn, execution_id, fencing_token, time.time())
            for c in changes:
                if c.started_at is not None:
                    # Starting when it was handed to Ray; the row goes straight to Executing.
                    out.append(
                        _append_event(
                            conn,
                            execution_id,
                            EventKind.STEP_STATUS,
                            step_name=c.step_name,
                            status=StepStatus.STARTING.value,
                            at=c.started_at,
                            detail=c.detail,
                        )
                    )
                    values = {**c.values, "started_at": c.started_at}
                    out.append(
                        _record_step(
                            conn,
                            execution_id,
                            c.step_name,
                            StepStatus.EXECUTING,
                            c.at,
                            c.create,
                            None,
                            values,
                        )
                    )
                elif c.status is not None:
                    out.append(
                        _record_step(
                            conn,
                            execution_id,
                            c.step_name,
                            c.status,
                            c.at,
                            c.create,
                            c.detail,
                            c.values,
                        )
                    )
                else:
                    out.append(
                        _append_event(
                            conn,
                            execution_id,
                            c.kind,
                            step_name=c.step_name,
                            at=c.at,
                            detail=c.detail,
                        )
                    )
        return out

    def add_event(
        self,
        execution_id: str,
        kind: EventKind,
        *,
        step_name: str | None = None,
        detail: str | None = None,
    ) -> EventRecord:
        """Append an event that is no status change (statuses are recorded with their change)."""
        with self.db.begin() as conn:
            return _append_event(
                conn, execution_id, kind, step_name=step_name, at=time.time(), detail=detail
            )

    def list_step_runs(self, execution_id: str) -> list[StepRunRecord]:
        with self.db.connect() as conn:
            rows = conn.execute(
                sa.select(step_runs)
                .where(step_runs.c.execution_id == execution_id)
                .order_by(step_runs.c.id)
            ).all()
        return [_step_run(r) for r in rows]

    def get_step_run(self, execution_id: str, step_name: str) -> StepRunRecord:
        with self.db.connect() as conn:
            row = conn.execute(
                sa.select(step_runs).where(
                    step_runs.c.execution_id == execution_id, step_runs.c.step_name == step_name
                )
            ).first()
        if row is None:
            raise NotFoundError(f"execution {execution_id!r} has no run of step {step_name!r}")
        return _step_run(row)

    def find_cached(
        self, pipeline_name: str, step_name: str, cache_key: str, *, not_before: float | None
    ) -> StepRunRecord | None:
        """The latest successful run of this step with this cache key inside the window.

        Only runs that computed their result count: a cache hit is recorded as a successful run
        too, and matching it would slide the window forward on every reuse. Invalidated runs
        (``invalidate_cache``) no longer count."""
        with self.db.connect() as conn:
            row = conn.execute(
                _find_cached(windowed=not_before is not None),
                {
                    "b_pipeline": pipeline_name,
                    "b_step": step_name,
                    "b_key": cache_key,
                    "b_not_before": not_before,
                },
            ).first()
        return _step_run(row) if row is not None else None

    # -- cache entries: what find_cached may still return -------------------------------------

    def cache_sources(
        self, pipeline_name: str, not_before: Mapping[str, float | None]
    ) -> list[StepRunRecord]:
        """Per step of ``not_before`` and cache key, the run ``find_cached`` would return now:
        the latest one that computed its result, ended at or after the step's ``not_before``
        (None: no window) and was not invalidated. Newest first; without logs or outputs."""
        if not not_before:
            return []
        c = step_runs.c
        windows = [
            sa.and_(c.step_name == step, *([c.ended_at >= start] if start is not None else []))
            for step, start in not_before.items()
        ]
        q = (
            sa.select(
                c.execution_id,
                c.pipeline_name,
                c.step_name,
                c.step_type,
                c.status,
                c.attempts,
                c.started_at,
                c.ended_at,
                c.cache_key,
            )
            .where(*_computed_cache_runs(pipeline_name), sa.or_(*windows))
            .order_by(c.ended_at.desc())
        )
        with self.db.connect() as conn:
            rows = conn.execute(q).all()
        latest: dict[tuple[str, str], StepRunRecord] = {}
        for row in rows:
            if (row.step_name, row.cache_key) not in latest:
                record = from_row(StepRunRecord, row, status=StepStatus(row.status))
                latest[row.step_name, row.cache_key] = record
        return list(latest.values())

    def cache_hits(self, pipeline_name: str) -> dict[tuple[str, str], int]:
        """How many runs reused each source: (step name, source execution id) -> cache hits."""
        c = step_runs.c
        with self.db.connect() as conn:
            rows = conn.execute(
                sa.select(c.step_name, c.cached_from, sa.func.count().label("hits"))
                .where(c.pipeline_name == pipeline_name, c.cached_from.is_not(None))
                .group_by(c.step_name, c.cached_from)
            ).all()
        return {(r.step_name, r.cached_from): r.hits for r in rows}

    def invalidate_cache(
        self, pipeline_name: str, step_names: Collection[str] | None, *, at: float
    ) -> int:
        """Mark every run of these steps (None: every step of the pipeline) that computed a
        cached result and ended by ``at`` as invalidated at ``at``: ``find_cached`` no longer
        returns it. The runs stay in the history. Returns how many runs were marked."""
        c = step_runs.c
        q = (
            step_runs.update()
            .where(
                *_computed_cache_runs(pipeline_name),
                c.ended_at <= at,
            )
            .values(cache_invalidated_at=at)
        )
        if step_names is not None:
            q = q.where(c.step_name.in_(list(step_names)))
        with self.db.begin() as conn:
            return conn.execute(q).rowcount

    def list_events(self, execution_id: str, *, after_id: int = 0) -> list[EventRecord]:
        with self.db.connect() as conn:
            rows = conn.execute(
                sa.select(events)
                .where(events.c.execution_id == execution_id, events.c.id > after_id)
                .order_by(events.c.id)
            ).all()
        return [_event(r) for r in rows]

    # -- what the artifact store's garbage collector keeps -----------------------------------

    def committed_artifacts(self) -> list[StepRunRecord]:
        """Every Succeeded step run (its attempt's prefix, outputs, manifests and properties):
        what a later step or a cache hit may still read."""
        c = step_runs.c
        with self.db.connect() as conn:
            rows = conn.execute(
                sa.select(
                    c.execution_id,
                    c.pipeline_name,
                    c.step_name,
                    c.step_type,
                    c.status,
                    c.attempts,
                    c.outputs,
                    c.manifests,
                    c.properties,
                ).where(c.status == StepStatus.SUCCEEDED.value)
            ).all()
        return [_step_run(r) for r in rows]

    def execution_statuses(self) -> dict[str, ExecutionStatus]:
        """Every execution's id and status."""
        with self.db.connect() as conn:
            rows = conn.execute(sa.select(executions.c.id, executions.c.status)).all()
        return {r.id: ExecutionStatus(r.status) for r in rows}

    # -- read-only queries for lineage ------------------------------------------------------

    def execution_ids_starting_with(self, prefix: str, *, limit: int = 2) -> list[str]:
        """Ids of up to ``limit`` executions whose id starts with ``prefix`` (to resolve a
        shortened id: exactly one means it is unambiguous)."""
        with self.db.connect() as conn:
            rows = conn.execute(
                sa.select(executions.c.id)
                .where(executions.c.id.startswith(prefix, autoescape=True))
                .order_by(executions.c.id)
                .limit(limit)
            ).all()
        return [r.id for r in rows]

    # -- read-only queries for the server's pages ---------------------------------------------

    def list_versions(self, name: str) -> list[tuple[int, float]]:
        """``(version, created_at)`` of each stored version of the pipeline, oldest first."""
        c = pipeline_versions.c
        with self.db.connect() as conn:
            rows = conn.execute(
                sa.select(c.version, c.created_at)
                .where(c.pipeline_name == name)
                .order_by(c.version)
            ).all()
        return [(r.version, r.created_at) for r in rows]

    def page_executions(
        self,
        *,
        pipeline_name: str | None = None,
        status: str | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> list[ExecutionRecord]:
        """One page of executions, newest first (offset and limit in the SQL: a page costs
        the same however many executions there are)."""
        q = sa.select(executions).order_by(executions.c.created_at.desc(), executions.c.id)
        if pipeline_name:
            q = q.where(executions.c.pipeline_name == pipeline_name)
        if status:
            q = q.where(executions.c.status == status)
        with self.db.connect() as conn:
            return [_execution(r) for r in conn.execute(q.offset(offset).limit(limit)).all()]

    def last_event_id(self) -> int:
        """The newest event's id (0: none yet): where a reader of only what comes next starts."""
        with self.db.connect() as conn:
            return int(conn.execute(sa.select(sa.func.max(events.c.id))).scalar() or 0)

    def events_after(
        self, event_id: int, *, kinds: Collection[EventKind] | None = None, limit: int = 500
    ) -> list[EventRecord]:
        """Up to ``limit`` events of every execution with an id above ``event_id`` (only
        ``kinds``, if given), oldest first: how a reader outside the driver (webhooks) tails
        the event log from a position it stored."""
        q = sa.select(events).where(events.c.id > event_id)
        if kinds is not None:
            q = q.where(events.c.kind.in_([EventKind(k).value for k in kinds]))
        with self.db.connect() as conn:
            return [_event(r) for r in conn.execute(q.order_by(events.c.id).limit(limit)).all()]


def _record_step(
    conn: Any,
    execution_id: str,
    step_name: str,
    status: StepStatus,
    now: float,
    create: dict[str, Any] | None,
    detail: str | None,
    values: dict[str, Any],
) -> EventRecord:
    values = {**values, "status": status.value}
    if status == StepStatus.STARTING:
        values.setdefault("started_at", now)
    if status.finished:
        values.setdefault("ended_at", now)
    if create is not None:
        conn.execute(
            step_runs.insert(),
            {"execution_id": execution_id, "step_name": step_name, **create, **values},
        )
    else:
        conn.execute(
            _update_step(tuple(sorted(values))),
            {
                "b_execution_id": execution_id,
                "b_step_name": step_name,
                **{f"b_{k}": v for k, v in values.items()},
            },
        )
    return _append_event(
        conn,
        execution_id,
        EventKind.STEP_STATUS,
        step_name=step_name,
        status=status.value,
        at=now,
        detail=detail,
    )


def _computed_cache_runs(pipeline_name: Any) -> tuple[Any, ...]:
    # The runs a cache lookup may match (as in find_cached): successful, with a cache key,
    # computed rather than reused, and not invalidated.
    c = step_runs.c
    return (
        c.pipeline_name == pipeline_name,
        c.cache_key.is_not(None),
        c.status == StepStatus.SUCCEEDED.value,
        c.cached_from.is_(None),
        c.cache_invalidated_at.is_(None),
    )


def open_repository(db_url: str | None = None) -> PipelineRepository:
    """The engine's repository on the metadata DB at ``db_url`` (default: the configured one)."""
    from rayline.store.db import open_database

    return PipelineRepository(open_database(db_url))


@functools.cache
def _find_cached(*, windowed: bool) -> Any:
    # Built once: a cached step looks itself up on every start.
    c = step_runs.c
    q = (
        sa.select(step_runs)
        .where(
            *_computed_cache_runs(sa.bindparam("b_pipeline")),
            c.step_name == sa.bindparam("b_step"),
            c.cache_key == sa.bindparam("b_key"),
        )
        .order_by(c.ended_at.desc())
        .limit(1)
    )
    return q.where(c.ended_at >= sa.bindparam("b_not_before")) if windowed else q


@functools.cache
def _update_step(columns: tuple[str, ...]) -> Any:
    # Built once per column set: the scheduler's hot path (several updates per step) then skips
    # SQLAlchemy's statement construction.
    return (
        step_runs.update()
        .where(
            step_runs.c.execution_id == sa.bindparam("b_execution_id"),
            step_runs.c.step_name == sa.bindparam("b_step_name"),
        )
        .values({c: sa.bindparam(f"b_{c}") for c in columns})
    )


_INSERT_EVENT = events.insert()


def _fence(conn: Any, execution_id: str, fencing_token: int | None, now: float) -> None:
    """The first statement of an owner's write: touch the execution's row only while the owner
    still holds ``fencing_token``. The row lock it takes (a PostgreSQL row lock, SQLite's write
    lock) keeps a claim from landing between this check and the commit."""
    if fencing_token is None:
        return
    held = conn.execute(
        executions.update()
        .where(executions.c.id == execution_id, executions.c.fencing_token == fencing_token)
        .values(heartbeat_at=now)
    ).rowcount
    if not held:
        raise _lease_lost(execution_id, fencing_token)


def _lease_lost(execution_id: str, fencing_token: int) -> LeaseLostError:
    return LeaseLostError(
        f"this driver no longer owns execution {execution_id}: another driver claimed it after "
        f"its lease (fencing token {fencing_token}) lapsed, and drives it now"
    )


def _append_event(
    conn: Any,
    execution_id: str,
    kind: EventKind,
    *,
    at: float,
    step_name: str | None = None,
    status: str | None = None,
    detail: str | None = None,
) -> EventRecord:
    values = {"step_name": step_name, "status": status, "at": at, "detail": detail}
    # One statement object for every event, so SQLAlchemy's compiled cache serves the hot path.
    inserted = conn.execute(
        _INSERT_EVENT, {"execution_id": execution_id, "kind": kind.value, **values}
    )
    return EventRecord(inserted.inserted_primary_key[0], execution_id, kind=kind, **values)


def _event(row: Any) -> EventRecord:
    return from_row(EventRecord, row, kind=EventKind(row.kind))


def _execution(row: Any) -> ExecutionRecord:
    return from_row(ExecutionRecord, row, status=ExecutionStatus(row.status))


def _step_run(row: Any) -> StepRunRecord:
    return from_row(
        StepRunRecord,
        row,
        status=StepStatus(row.status),
        outputs=row.outputs or {},
        properties=row.properties or {},
        manifests=row.manifests or {},
    )
