"""The SQL sandbox: one read-only SELECT over the feature groups' offline views, and nothing else.

Every SQL that rayline runs for a caller (``query``, ``query_arrow``, ``rayline query``, the
server's ``POST /api/v1/sql``) goes through here:

1. The text must be exactly one statement, and a SELECT (``FROM t``, ``WITH ... SELECT``,
   ``VALUES``, ``DESCRIBE``/``SUMMARIZE`` are SELECTs to DuckDB); COPY, PRAGMA, SET, ATTACH,
   INSTALL/LOAD, CALL, EXPLAIN and every write are refused before anything runs.
2. The connection is locked before the statement runs: the views over the offline store are
   made first, then ``allowed_directories`` is limited to the groups' local data directories,
   Python replacement scans (reading a variable of this process by its name) are turned off,
   ``enable_external_access=false`` forbids every other file, extension and attached database,
   and ``lock_configuration=true`` keeps the statement from undoing any of it. On S3 the views
   are registered ``pyarrow.dataset`` objects, which need no file access of DuckDB's own.
   The type check matters even so: a COPY into an allowed directory would pass the lock.
3. The statement runs under a timeout (``RAYLINE_SQL_TIMEOUT_S``, default 30 s): when the time
   is up the connection is interrupted and the caller gets a ``UserInputError``; and, where the
   caller asks for one, a row cap (``RAYLINE_SQL_MAX_ROWS``, default 10,000: the server's):
   ``cap + 1`` rows are fetched and the result says whether it was truncated.

Each call opens a fresh in-memory connection and closes it, so an interrupted query leaves
nothing behind for the next.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

import pyarrow as pa

from rayline.config import settings
from rayline.errors import BackendError, UserInputError
from rayline.featurestore import _repository as repo
from rayline.featurestore import offline
from rayline.featurestore._offline_files import OfflineFiles
from rayline.featurestore._sql import connect_utc, to_arrow
from rayline.featurestore.description import FeatureGroupDescription
from rayline.store.db import Database, open_database

ONLY_SELECT = (
    "only one read-only SELECT over the feature groups' tables is allowed (each group is a "
    'view named after it: SELECT * FROM "my-group")'
)

#: The longest SQL text taken (a query that long is a mistake, or an attack on the parser).
MAX_SQL_CHARS = 100_000

T = TypeVar("T")


@dataclass(frozen=True)
class SqlResult:
    """A SELECT's rows (at most the cap asked for) and whether more rows were left out."""

    table: pa.Table
    truncated: bool


def sql_timeout_s() -> float:
    """How long one statement may run (``RAYLINE_SQL_TIMEOUT_S``, seconds, default 30)."""
    return settings().sql_timeout_s


def sql_max_rows() -> int:
    """The most rows the server returns for one statement (``RAYLINE_SQL_MAX_ROWS``, default
    10,000)."""
    return settings().sql_max_rows


def check_select(sql: str) -> None:
    """Refuse (``UserInputError``) anything but exactly one SELECT statement of at most
    ``MAX_SQL_CHARS`` characters."""
    import duckdb

    if not isinstance(sql, str) or not sql.strip():
        raise UserInputError(f"no SQL given; {ONLY_SELECT}")
    if len(sql) > MAX_SQL_CHARS:
        raise UserInputError(
            f"the SQL is {len(sql)} characters, over the {MAX_SQL_CHARS} taken; shorten it"
        )
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise UserInputError(f"the SQL does not parse ({exc}); {ONLY_SELECT}") from exc
    if len(statements) != 1:
        raise UserInputError(f"{len(statements)} statements given; {ONLY_SELECT}")
    kind = statements[0].type
    if kind != duckdb.StatementType.SELECT:
        raise UserInputError(f"a {kind.name} statement was given; {ONLY_SELECT}")


def open_sandbox(
    groups: Iterable[FeatureGroupDescription] | None = None, *, db: Database | None = None
):
    """A locked DuckDB connection holding one view per feature group with an offline store
    (every group in ``db`` unless ``groups`` are given): it reads those views and nothing else.
    The caller closes it."""
    db = db or open_database(None)
    if groups is None:
        groups = repo.list_all(db)
    con = connect_utc()
    try:
        directories = []
        for desc in groups:
            if not desc.offline_store_enabled:
                continue
            offline.create_view(con, desc, desc.name, db=db)
            local = OfflineFiles.of(desc).local
            if local is not None:
                directories.append(str(local).rstrip("/") + "/")
        lock(con, allowed_directories=directories)
    except BaseException:
        con.close()
        raise
    return con


def lock(con, *, allowed_directories: Iterable[str] = ()) -> None:
    """Lock ``con`` down (see the module docstring): only ``allowed_directories`` (the views'
    data) may be read, nothing written, no setting changed."""
    import duckdb

    listed = ", ".join("'" + d.replace("'", "''") + "'" for d in allowed_directories)
    try:
        con.execute(f"SET allowed_directories = [{listed}]")
        con.execute("SET python_enable_replacements = false")
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
    except duckdb.Error as exc:  # an old DuckDB without one of the settings: never run unlocked
        raise BackendError(
            f"cannot lock the SQL connection ({exc}); rayline's SQL sandbox needs DuckDB 1.2 "
            "or later (pip install -U duckdb)"
        ) from exc


def run_select(
    con,
    sql: str,
    *,
    fetch: Callable[[Any], T],
    timeout_s: float | None = None,
    max_rows: int | None = None,
) -> tuple[T, bool]:
    """Run one SELECT on a locked connection (``open_sandbox``) and ``fetch`` its relation
    (``to_arrow``, ``rel.df()``), within ``timeout_s`` (default ``RAYLINE_SQL_TIMEOUT_S``) and
    at most ``max_rows`` rows (None: all). Returns ``(result, truncated)``."""
    import duckdb

    check_select(sql)
    timeout = sql_timeout_s() if timeout_s is None else timeout_s
    guard = _Deadline(con, timeout)
    try:
        rel = con.sql(sql)
        if rel is None:  # cannot happen for a SELECT; refuse rather than guess
            raise UserInputError(ONLY_SELECT)
        if max_rows is not None:
            rel = rel.limit(max_rows + 1)  # one more than the cap tells whether rows were left
        result = fetch(rel)
    except duckdb.InterruptException as exc:
        if guard.fired:
            raise UserInputError(
                f"the query ran longer than {timeout:g} s and was stopped; select fewer rows, "
                "filter earlier or aggregate (the limit is RAYLINE_SQL_TIMEOUT_S)"
            ) from None
        raise BackendError(f"the query was interrupted: {exc}") from exc
    except duckdb.Error as exc:
        raise _refusal(exc) from exc
    finally:
        guard.cancel()
    if max_rows is not None and len(result) > max_rows:
        return _head(result, max_rows), True
    return result, False


def select(
    sql: str,
    *,
    max_rows: int | None = None,
    timeout_s: float | None = None,
    db_url: str | None = None,
) -> SqlResult:
    """Run one SELECT over every feature group's offline store, sandboxed; at most ``max_rows``
    rows (None: all)."""
    check_select(sql)  # before any view is made: a refused statement costs nothing
    con = open_sandbox(db=open_database(db_url))
    try:
        table, truncated = run_select(
            con, sql, fetch=to_arrow, timeout_s=timeout_s, max_rows=max_rows
        )
    finally:
        con.close()
    return SqlResult(table=table, truncated=truncated)


class _Deadline:
    """Interrupts ``con`` when ``timeout_s`` has passed, unless cancelled first."""

    def __init__(self, con, timeout_s: float) -> None:
        self._con = con
        self._lock = threading.Lock()
        self._done = False
        self.fired = False
        self._timer = threading.Timer(timeout_s, self._fire)
        self._timer.daemon = True
        self._timer.start()

    def _fire(self) -> None:
        with self._lock:  # never interrupt a connection whose statement has ended
            if not self._done:
                self.fired = True
                self._con.interrupt()

    def cancel(self) -> None:
        with self._lock:
            self._done = True
        self._timer.cancel()


def _head(result, n: int):
    if isinstance(result, pa.Table):
        return result.slice(0, n)
    return result.iloc[:n]  # a pandas DataFrame


def _refusal(exc: Exception) -> UserInputError | BackendError:
    import duckdb

    if isinstance(exc, duckdb.PermissionException):
        return UserInputError(
            f"the query reaches outside the feature groups' views ({exc}): files, extensions, "
            f"secrets and other databases are out of reach; {ONLY_SELECT}"
        )
    if isinstance(exc, duckdb.ParserException | duckdb.BinderException | duckdb.CatalogException):
        return UserInputError(
            f"query failed: {exc}. Feature groups are views named after the group; quote names "
            'with hyphens, e.g. SELECT * FROM "my-group"'
        )
    if isinstance(exc, duckdb.OutOfMemoryException):
        return UserInputError(
            f"the query needs more memory than it may use ({exc}); select fewer columns or rows, "
            "or aggregate (the limit is RAYLINE_DUCKDB_MEMORY_LIMIT)"
        )
    if isinstance(exc, duckdb.InternalException | duckdb.FatalException | duckdb.IOException):
        return BackendError(f"DuckDB failed running the query: {exc}")
    # Conversion, out-of-range, invalid input, not implemented: the statement's own fault.
    return UserInputError(f"query failed: {exc}")
