"""The metadata database: one SQLAlchemy engine, migrated to the latest schema on first use.

SQLite (the default, a file in ``RAYLINE_HOME``) and PostgreSQL are both supported through the
same tables and the same migration history (``store/migrations``). Each subsystem keeps its
queries in its own repository module and shares this ``Database``.
"""

from __future__ import annotations

import threading
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from rayline.config import settings
from rayline.errors import BackendError, ConfigError, UserInputError

_MIGRATIONS = Path(__file__).parent / "migrations"
_lock = threading.Lock()
_open: dict[str, Database] = {}


class Database:
    """A migrated metadata DB. Use ``begin()`` for a transaction, ``connect()`` to read."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = _make_engine(url)
        self.dialect = self.engine.dialect.name

    def begin(self):
        """A connection inside a transaction that commits on success, rolls back on error."""
        return self.engine.begin()

    def connect(self):
        """A plain connection (for reads)."""
        return self.engine.connect()

    def upgrade(self) -> None:
        """Bring the schema to the latest migration (a no-op when it is there already)."""
        from alembic import command
        from alembic.config import Config
        from alembic.runtime.migration import MigrationContext
        from alembic.script import ScriptDirectory

        cfg = Config()
        cfg.set_main_option("script_location", str(_MIGRATIONS))
        head = ScriptDirectory.from_config(cfg).get_current_head()
        with self.engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
        if current == head:
            return
        with self.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    def dispose(self) -> None:
        """Close the engine's pooled connections."""
        self.engine.dispose()


def open_database(url: str | None = None) -> Database:
    """The metadata DB at ``url`` (default ``RAYLINE_DB_URL``), migrated; one per URL."""
    url = url or settings().db_url
    with _lock:
        db = _open.get(url)
        if db is None:
            db = Database(url)
            try:
                db.upgrade()
            except sa.exc.OperationalError as exc:
                raise BackendError(
                    f"cannot open the metadata DB at {_redact(url)}: {exc.orig}. "
                    "Check RAYLINE_DB_URL and that the database server is running."
                ) from exc
            _open[url] = db
        return db


def _make_engine(url: str) -> Engine:
    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError as exc:
        raise ConfigError(
            f"RAYLINE_DB_URL {url!r} is not a database URL; use e.g. "
            "'sqlite:////path/rayline.db' or 'postgresql+psycopg://user@host:5432/db'"
        ) from exc
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            cur = dbapi_conn.cursor()
            # WAL lets the CLI read while a driver writes; NORMAL is durable across process
            # crashes (only an OS crash may lose the last commits).
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    if parsed.get_backend_name() == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        engine = sa.create_engine(parsed, pool_pre_ping=True, pool_size=5, max_overflow=10)
        sa.event.listen(engine, "before_cursor_execute", _refuse_nul_characters)
        return engine
    raise ConfigError(
        f"RAYLINE_DB_URL uses {parsed.get_backend_name()!r}; rayline supports 'sqlite' and "
        "'postgresql' URLs"
    )


def _refuse_nul_characters(_conn, _cursor, _statement, parameters, _context, executemany) -> None:
    """PostgreSQL's text cannot hold NUL (U+0000), not even to compare: a value with one is
    the caller's mistake (``UserInputError``, an API's 400), not the driver's ``DataError``."""
    for row in parameters if executemany else (parameters,):
        for value in row.values() if isinstance(row, dict) else row or ():
            if isinstance(value, str) and "\x00" in value:
                raise UserInputError(
                    f"{value[:80]!r} holds a NUL character (\\x00), which the metadata database "
                    "(PostgreSQL) can neither store nor look up: remove it"
                )


def _redact(url: str) -> str:
    return sa.engine.make_url(url).render_as_string(hide_password=True)
