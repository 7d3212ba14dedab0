"""Settings: every environment variable rayline reads, in one object, read when asked for.

- ``RAYLINE_HOME``: where embedded state lives (default ``./.rayline``).
- ``RAYLINE_DB_URL``: the metadata DB, a SQLAlchemy URL (default SQLite in ``RAYLINE_HOME``).
- ``RAYLINE_ARTIFACT_URI``: the artifact store root (default ``$RAYLINE_HOME/artifacts``).
- ``RAYLINE_ONLINE_STORE_URI``: the feature store's online store, ``sqlite:///...`` or
  ``redis://...`` (default SQLite in ``RAYLINE_HOME``).
- ``RAY_ADDRESS``: an existing Ray cluster (default: ``rayline up``'s, else a local Ray).
- ``MLFLOW_TRACKING_URI``: the MLflow tracking store (default SQLite in ``RAYLINE_HOME``); on a
  cluster, PostgreSQL in a database of its own (``postgresql://`` uses psycopg 3).
- ``RAYLINE_USER``: who is acting, recorded on registry and endpoint changes and on the
  executions one starts (default: the OS user, ``unknown`` when there is none). Inside the
  server, the authenticated identity of the request (``acting_as``) takes its place.
- ``RAYLINE_RAY_NUM_CPUS``: logical CPUs of a local Ray (default twice the cores, at least 4).
- ``RAYLINE_RAY_VERBOSE``: ``1`` shows Ray's own logs (default: warnings only).
- ``RAYLINE_TRAINING_THREADS``: threads of a single-process training step (default: the cores).
- ``RAYLINE_DISTRIBUTED_MIN_CELLS``: rows x features from which training with several workers
  goes to Ray Train (default: the measured ``rayline.ml.training.DISTRIBUTED_MIN_CELLS``).
- ``RAYLINE_TUNE_IN_PROCESS_MAX_CELLS``: rows x features below which tuning (Random, Bayesian,
  Grid; one-process trials) runs its trials in threads of the tuning process instead of Ray Tune
  (default: ``rayline.ml.tuning.TUNE_IN_PROCESS_MAX_CELLS``; ``0`` always uses Ray Tune).
- ``RAYLINE_DUCKDB_MEMORY_LIMIT``: the memory one feature-store DuckDB query (a point-in-time
  join, ``query``) may hold before it spills to disk under ``RAYLINE_HOME``, in DuckDB's units
  (``4GB``, ``512MiB``; default: a quarter of this machine's memory, at most 4 GiB).
- ``RAYLINE_SERVE_HOST`` / ``RAYLINE_SERVE_PORT``: where Ray Serve's HTTP proxy listens (default
  ``127.0.0.1:8000``).
- ``RAYLINE_SERVE_FAST``: ``0`` turns off Serve's fast path (default on).
- ``RAYLINE_SERVE_PROXY_LOCATION``: where Serve runs its HTTP proxy, ``HeadOnly`` (default: one
  address for the cluster, and nodes that share a machine's ports do not collide),
  ``EveryNode`` or ``Disabled``.
- ``RAYLINE_EXECUTION_ID`` / ``RAYLINE_STEP_NAME`` / ``RAYLINE_WORK_DIR``: the pipeline step this
  process runs in; the engine sets them for a step's code (unset outside a pipeline).
- ``RAYLINE_SERVER_URL`` / ``RAYLINE_TOKEN``: a rayline server (``http://host:8080``) and the
  API token to present; set, ``rayline token`` goes through the server's REST API (default:
  unset, embedded).
- ``RAYLINE_SERVER_AUTH``: ``auto`` (default: API tokens are required unless the server
  listens on loopback only and no token was ever created), ``on`` or ``off`` (loopback only).
- ``RAYLINE_SERVER_MAX_UPLOAD_MB``: the largest upload the server takes (default 512).
- ``RAYLINE_SQL_TIMEOUT_S`` / ``RAYLINE_SQL_MAX_ROWS``: how long one read-only SQL statement over
  the offline store may run (default 30 s) and the most rows the server returns (default 10,000).
- ``RAYLINE_WEBHOOK_POLL_S`` / ``RAYLINE_WEBHOOK_BACKOFF_S`` / ``RAYLINE_WEBHOOK_MAX_ATTEMPTS`` /
  ``RAYLINE_WEBHOOK_TIMEOUT_S``: how often the server's webhook dispatcher looks for events
  (default 1 s), the first retry's delay (5 s, doubling), the attempts per delivery (10) and a
  POST's timeout (10 s).
- ``RAYLINE_LEASE_S``: how long an execution's owner holds it without renewing its lease
  (default 30 s); a server takes over an execution whose lease lapsed.
- ``RAYLINE_ALLOW_SELF_APPROVAL``: ``1`` lets the identity that started the execution which
  registered a model version approve it (default: four eyes, refused; the server's setting
  counts for approvals through it).
- S3 (for ``s3://`` artifact URIs), the standard AWS variables: ``AWS_ACCESS_KEY_ID``,
  ``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``, ``AWS_REGION`` (or ``AWS_DEFAULT_REGION``),
  ``AWS_ENDPOINT_URL_S3`` (or ``AWS_ENDPOINT_URL``) for an S3-compatible server, ``AWS_PROFILE``;
  and ``RAYLINE_S3_ADDRESSING_STYLE``, ``path`` or ``virtual`` (default: ``path`` when an endpoint
  URL is set, as MinIO and most S3-compatible servers need, else ``virtual``).
  ``rayline.store.s3`` hands them explicitly to every library that talks to S3.

No variable is cached, so a changed environment (a test's ``monkeypatch.setenv``) is seen at once; a
value that does not parse raises ``ConfigError`` naming the variable. Ray's own variables
(``RAY_AUTH_MODE``, ``RAY_TMPDIR``, ...) belong to Ray and are read where rayline mirrors Ray.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import getpass
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from rayline.errors import ConfigError

_D = TypeVar("_D", int, None)

#: Serve's HAProxy listens up to 1101 ports above the HTTP port (stats, metrics): keep room.
_SERVE_PORT_MAX = 65536 - 1200 - 1


@dataclass(frozen=True)
class Settings:
    """A snapshot of rayline's settings (see the module docstring for each variable)."""

    home: Path
    db_url: str
    artifact_uri: str
    ray_address: str | None
    mlflow_tracking_uri: str
    online_store_uri: str
    user: str
    ray_num_cpus: int
    ray_verbose: bool
    training_threads: int
    distributed_min_cells: int | None
    tune_in_process_max_cells: int | None
    duckdb_memory_limit: str | None
    serve_host: str
    serve_port: int
    serve_fast: bool
    serve_proxy_location: str
    execution_id: str | None
    step_name: str | None
    work_dir: Path | None
    server_url: str | None
    token: str | None
    server_auth: str
    server_max_upload_bytes: int
    sql_timeout_s: float
    sql_max_rows: int
    webhook_poll_s: float
    webhook_backoff_s: float
    webhook_max_attempts: int
    webhook_timeout_s: float
    lease_s: float
    allow_self_approval: bool

    s3: S3Settings


@dataclass(frozen=True)
class S3Settings:
    """The S3 connection settings (the standard AWS variables); unset fields mean the AWS
    default (the credential chain, the region of the profile, AWS's own endpoint)."""

    access_key_id: str | None
    secret_access_key: str | None
    session_token: str | None
    region: str | None
    endpoint_url: str | None
    profile: str | None
    path_style: bool


def _s3_settings() -> S3Settings:
    env = os.environ
    endpoint = env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL") or None
    style = (env.get("RAYLINE_S3_ADDRESSING_STYLE") or ("path" if endpoint else "virtual")).lower()
    if style not in ("path", "virtual"):
        raise ConfigError(
            f"RAYLINE_S3_ADDRESSING_STYLE={style!r}: use 'path' (MinIO and most S3-compatible "
            "servers) or 'virtual' (AWS S3)"
        )
    return S3Settings(
        access_key_id=env.get("AWS_ACCESS_KEY_ID") or None,
        secret_access_key=env.get("AWS_SECRET_ACCESS_KEY") or None,
        session_token=env.get("AWS_SESSION_TOKEN") or None,
        region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or None,
        endpoint_url=endpoint,
        profile=env.get("AWS_PROFILE") or None,
        path_style=style == "path",
    )


def settings() -> Settings:
    """Read the settings from the environment (cheap; nothing is cached)."""
    env = os.environ
    home = Path(env.get("RAYLINE_HOME") or ".rayline").expanduser().resolve()
    cores = _cores()
    work_dir = env.get("RAYLINE_WORK_DIR")
    return Settings(
        home=home,
        db_url=env.get("RAYLINE_DB_URL") or f"sqlite:///{home / 'rayline.db'}",
        artifact_uri=env.get("RAYLINE_ARTIFACT_URI") or (home / "artifacts").as_uri(),
        ray_address=env.get("RAY_ADDRESS") or None,
        mlflow_tracking_uri=_mlflow_uri(env.get("MLFLOW_TRACKING_URI"), home),
        online_store_uri=env.get("RAYLINE_ONLINE_STORE_URI")
        or f"sqlite:///{home / 'online-store.db'}",
        user=_acting.get() or env.get("RAYLINE_USER") or _os_user(),
        ray_num_cpus=_int("RAYLINE_RAY_NUM_CPUS", max(4, 2 * cores)),
        ray_verbose=env.get("RAYLINE_RAY_VERBOSE") == "1",
        training_threads=_int("RAYLINE_TRAINING_THREADS", cores),
        distributed_min_cells=_int("RAYLINE_DISTRIBUTED_MIN_CELLS", None),
        tune_in_process_max_cells=_int("RAYLINE_TUNE_IN_PROCESS_MAX_CELLS", None),
        duckdb_memory_limit=_duckdb_size(env.get("RAYLINE_DUCKDB_MEMORY_LIMIT")),
        serve_host=env.get("RAYLINE_SERVE_HOST") or "127.0.0.1",
        serve_port=_serve_port(),
        serve_fast=env.get("RAYLINE_SERVE_FAST", "1") != "0",
        serve_proxy_location=_serve_proxy_location(env.get("RAYLINE_SERVE_PROXY_LOCATION")),
        execution_id=env.get("RAYLINE_EXECUTION_ID"),
        step_name=env.get("RAYLINE_STEP_NAME"),
        work_dir=Path(work_dir) if work_dir else None,
        server_url=(env.get("RAYLINE_SERVER_URL") or "").rstrip("/") or None,
        token=env.get("RAYLINE_TOKEN") or None,
        server_auth=_choice("RAYLINE_SERVER_AUTH", ("auto", "on", "off"), "auto"),
        server_max_upload_bytes=int(_positive("RAYLINE_SERVER_MAX_UPLOAD_MB", 512.0) * 2**20),
        sql_timeout_s=_positive("RAYLINE_SQL_TIMEOUT_S", 30.0),
        sql_max_rows=int(_positive("RAYLINE_SQL_MAX_ROWS", 10_000)),
        webhook_poll_s=_positive("RAYLINE_WEBHOOK_POLL_S", 1.0),
        webhook_backoff_s=_positive("RAYLINE_WEBHOOK_BACKOFF_S", 5.0),
        webhook_max_attempts=int(_positive("RAYLINE_WEBHOOK_MAX_ATTEMPTS", 10)),
        webhook_timeout_s=_positive("RAYLINE_WEBHOOK_TIMEOUT_S", 10.0),
        lease_s=_positive("RAYLINE_LEASE_S", 30.0),
        allow_self_approval=env.get("RAYLINE_ALLOW_SELF_APPROVAL", "").strip().lower()
        in ("1", "true", "yes", "on"),
        s3=_s3_settings(),
    )


#: Who is acting in this context, when it is not this process's user: the server sets the
#: authenticated identity of each request (``acting_as``); ``Settings.user`` reads it.
_acting: contextvars.ContextVar[str | None] = contextvars.ContextVar("rayline_acting", default=None)


@contextlib.contextmanager
def acting_as(identity: str) -> Iterator[None]:
    """Within the block (this thread or task), ``settings().user`` is ``identity``: what the
    registry, endpoints and executions record as who acted."""
    token = _acting.set(identity)
    try:
        yield
    finally:
        _acting.reset(token)


#: Set by the server around its requests and services: the API works on this process's own
#: state (embedded), whatever RAYLINE_SERVER_URL says (a server never calls itself).
_embedded: contextvars.ContextVar[bool] = contextvars.ContextVar("rayline_embedded", default=False)


@contextlib.contextmanager
def embedded() -> Iterator[None]:
    """Within the block (this thread or task), the API is embedded: ``server_client()`` is None."""
    token = _embedded.set(True)
    try:
        yield
    finally:
        _embedded.reset(token)


def is_embedded() -> bool:
    return _embedded.get()


def _positive(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if value <= 0:
        raise ConfigError(f"{name}={raw!r} is not a positive number; set one or unset it")
    return value


def _choice(name: str, allowed: tuple[str, ...], default: str) -> str:
    raw = (os.environ.get(name) or default).strip().lower()
    if raw not in allowed:
        raise ConfigError(f"{name}={raw!r}: use one of {', '.join(allowed)}")
    return raw


def _mlflow_uri(raw: str | None, home: Path) -> str:
    """MLflow's tracking URI; ``postgresql://`` means the psycopg 3 driver rayline installs
    (SQLAlchemy's default for that scheme, psycopg2, is not a rayline dependency)."""
    if not raw:
        return f"sqlite:///{home / 'mlflow.db'}"
    if raw.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + raw.split("://", 1)[1]
    return raw


def _int(name: str, default: _D, *, what: str = "a whole number") -> int | _D:
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name}={raw!r} is not {what}; set a number or unset it") from exc


def _duckdb_size(raw: str | None) -> str | None:
    if not raw:
        return None
    import re

    if not re.fullmatch(r"\s*\d+(\.\d+)?\s*([KMGT]i?B|B)\s*", raw, flags=re.IGNORECASE):
        raise ConfigError(
            f"RAYLINE_DUCKDB_MEMORY_LIMIT={raw!r} is not a size: use a number and a unit, "
            "such as 4GB or 512MiB"
        )
    return raw.strip()


def _serve_port() -> int:
    port = _int("RAYLINE_SERVE_PORT", 8000, what="a port number")
    if not 0 < port <= _SERVE_PORT_MAX:
        raise ConfigError(f"RAYLINE_SERVE_PORT={port} is out of range (1-{_SERVE_PORT_MAX})")
    return port


#: Ray Serve's ``ProxyLocation`` values, by their lower-case spelling.
_PROXY_LOCATIONS = {v.lower(): v for v in ("HeadOnly", "EveryNode", "Disabled")}


def _serve_proxy_location(raw: str | None) -> str:
    if not raw:
        return "HeadOnly"
    try:
        return _PROXY_LOCATIONS[raw.strip().lower()]
    except KeyError:
        raise ConfigError(
            f"RAYLINE_SERVE_PROXY_LOCATION={raw!r} is not a Serve proxy location: use HeadOnly "
            "(one proxy, on the head), EveryNode (a proxy on each node with a replica) or "
            "Disabled (no HTTP proxy)"
        ) from None


# The process's OS user and core count do not change while it runs: looked up once (the
# variables above are read on every call).
@functools.cache
def _cores() -> int:
    return os.cpu_count() or 1


@functools.cache
def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry, e.g. in some containers
        return "unknown"
