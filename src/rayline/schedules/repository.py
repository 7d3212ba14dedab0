"""All SQL on the ``schedules`` table."""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa

from rayline.errors import ConflictError, NotFoundError
from rayline.schedules.entities import Schedule
from rayline.schedules.schema import schedules
from rayline.store.db import Database, open_database
from rayline.store.rows import from_row


class ScheduleRepository:
    """The schedules' rows in the metadata DB.

    Every change bumps ``revision``; :meth:`take` claims due times with a compare-and-set on it,
    so of several servers on one database exactly one starts each scheduled time, and a pause
    or resume that lands between a server's read and its take makes the take fail.
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- writing ----------------------------------------------------------------------------

    def insert(self, schedule: Schedule) -> None:
        """Record a new schedule; a name taken already is a :class:`ConflictError`."""
        values = schedule.to_dict()
        values.pop("next_runs")
        taken = ConflictError(
            f"schedule {schedule.name!r} exists already; delete it first "
            f"(rayline schedule delete {schedule.name}) or pick another name"
        )
        try:
            with self.db.begin() as conn:
                if conn.execute(
                    sa.select(schedules.c.name).where(schedules.c.name == schedule.name)
                ).first():
                    raise taken
                conn.execute(schedules.insert().values(**values))
        except sa.exc.IntegrityError:  # created at the same moment by another request
            raise taken from None

    def delete(self, name: str) -> None:
        """Forget schedule ``name`` (the executions it started stay)."""
        with self.db.begin() as conn:
            if not conn.execute(schedules.delete().where(schedules.c.name == name)).rowcount:
                raise NotFoundError(_missing(conn, name))

    def set_paused(self, name: str, paused: bool, *, now: float | None = None) -> Schedule:
        """Pause or resume ``name``. Resuming counts due times from ``now`` again: the paused
        period is not caught up."""
        now = time.time() if now is None else now
        values: dict[str, Any] = {"paused": paused, "updated_at": now}
        with self.db.begin() as conn:
            current = self._read(conn, name)
            if current.paused == paused:
                return current
            if not paused:
                values["anchor_at"] = now
            conn.execute(
                schedules.update()
                .where(schedules.c.name == name)
                .values(**values, revision=schedules.c.revision + 1)
            )
            return self._read(conn, name)

    def take(self, schedule: Schedule, newest: float, *, notice: str | None) -> bool:
        """Claim the due times up to ``newest`` for this server: sets ``last_fired_at`` if the
        schedule is still at the revision it was read at and not paused. False when another
        server (or a pause, resume or delete) came first: then this one starts nothing."""
        with self.db.begin() as conn:
            result = conn.execute(
                schedules.update()
                .where(
                    schedules.c.name == schedule.name,
                    schedules.c.revision == schedule.revision,
                    schedules.c.paused.is_(False),
                )
                .values(
                    last_fired_at=newest,
                    last_notice=notice if notice is not None else schedules.c.last_notice,
                    revision=schedules.c.revision + 1,
                )
            )
            return result.rowcount == 1

    def record_start(
        self, name: str, *, execution_id: str | None = None, error: str | None = None
    ) -> None:
        """Record what starting a taken time gave: the execution, or why it failed. Does not
        bump ``revision``: it changes nothing the due times depend on."""
        values: dict[str, Any] = {"last_error": error}
        if execution_id is not None:
            values["last_execution_id"] = execution_id
        with self.db.begin() as conn:
            conn.execute(schedules.update().where(schedules.c.name == name).values(**values))

    def rewind(self, name: str, at: float) -> None:
        """Make ``name`` count due times from ``at``, as if it had last fired then (operators
        and tests: times after ``at`` come due again, under the schedule's missed policy)."""
        with self.db.begin() as conn:
            self._read(conn, name)
            conn.execute(
                schedules.update()
                .where(schedules.c.name == name)
                .values(last_fired_at=at, anchor_at=at, revision=schedules.c.revision + 1)
            )

    # -- reading ----------------------------------------------------------------------------

    def get(self, name: str) -> Schedule:
        """Schedule ``name``; :class:`NotFoundError` naming the known ones if there is none."""
        with self.db.connect() as conn:
            return self._read(conn, name)

    def list(
        self, *, pipeline: str | None = None, offset: int = 0, limit: int | None = None
    ) -> list[Schedule]:
        """Schedules by name (only ``pipeline``'s, if given)."""
        query = sa.select(schedules).order_by(schedules.c.name).offset(offset)
        if pipeline is not None:
            query = query.where(schedules.c.pipeline_name == pipeline)
        if limit is not None:
            query = query.limit(limit)
        with self.db.connect() as conn:
            return [_schedule(row) for row in conn.execute(query)]

    def active(self) -> list[Schedule]:
        """Every schedule that is not paused: what the service ticks."""
        query = sa.select(schedules).where(schedules.c.paused.is_(False))
        with self.db.connect() as conn:
            return [_schedule(row) for row in conn.execute(query.order_by(schedules.c.name))]

    @staticmethod
    def _read(conn: sa.Connection, name: str) -> Schedule:
        row = conn.execute(sa.select(schedules).where(schedules.c.name == name)).first()
        if row is None:
            raise NotFoundError(_missing(conn, name))
        return _schedule(row)


def open_schedules(db_url: str | None = None) -> ScheduleRepository:
    """The schedules of the metadata DB at ``db_url`` (default: ``RAYLINE_DB_URL``)."""
    return ScheduleRepository(open_database(db_url))


def _missing(conn: sa.Connection, name: str) -> str:
    names = [r.name for r in conn.execute(sa.select(schedules.c.name).order_by("name").limit(20))]
    known = ", ".join(repr(n) for n in names) or "none"
    return f"schedule {name!r} does not exist (schedules: {known}; rayline schedule list)"


def _schedule(row: Any) -> Schedule:
    return from_row(Schedule, row, parameters=dict(row.parameters or {}), paused=bool(row.paused))
