"""The one place rayline starts or connects to Ray.

``RAY_ADDRESS`` set: connect to that cluster. Otherwise: connect to the long-lived local Ray that
``rayline up`` started (its address is kept in ``$RAYLINE_HOME/ray-address``), or else start a
local Ray for this process, sized for the machine and quiet.

A driver that connects to a cluster of more than one node checks, once per cluster, that no
setting names something only one node has (``check_cluster``): a SQLite file, or a ``file://``
artifact store that some node does not mount.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import uuid
from pathlib import Path
from urllib.parse import unquote, urlparse

from rayline.config import Settings, settings
from rayline.errors import BackendError, ConfigError

_lock = threading.Lock()
# The verdict of ``check_cluster`` per cluster address and settings it judged (None: accepted),
# so a driver probes a cluster once, and refuses a refused one again without reconnecting.
_verdicts: dict[tuple[str, ...], ConfigError | None] = {}
# How long the file:// probe waits for each node's answer (its tasks need no CPU, so they only
# wait for a worker process to start).
PROBE_TIMEOUT_S = 60.0


def local_num_cpus() -> int:
    """Logical CPUs for a local Ray: ``RAYLINE_RAY_NUM_CPUS`` or twice the cores (at least 4).

    Pipeline steps mostly wait on nested Ray work (Ray Data, Train, Tune); with one logical CPU
    per core a step that holds a CPU starves the tasks it waits for on a 2-core machine.
    """
    return settings().ray_num_cpus


def address_file() -> Path:
    return settings().home / "ray-address"


def auth_env() -> dict[str, str]:
    """Ray 2.60 clusters started by ``ray start`` require a token; a driver that connects by
    address only sends the one in ``~/.ray/auth_token`` when ``RAY_AUTH_MODE=token``."""
    if os.environ.get("RAY_AUTH_MODE"):
        return {}
    if (Path.home() / ".ray" / "auth_token").is_file() or os.environ.get("RAY_AUTH_TOKEN"):
        return {"RAY_AUTH_MODE": "token"}
    return {}


def cluster_address() -> str | None:
    """The cluster this process will connect to (``RAY_ADDRESS``, else ``rayline up``'s), with
    its token authentication prepared; None means a process-local Ray.

    Call before ``import ray``: Ray's core reads ``RAY_AUTH_MODE`` when it is first imported.
    """
    address = settings().ray_address or _managed_address()
    if address:
        for key, value in auth_env().items():
            os.environ.setdefault(key, value)
    return address


def ensure_ray() -> None:
    """Make sure this process is connected to Ray (idempotent, thread-safe)."""
    address = cluster_address()
    import ray

    if ray.is_initialized():  # connected already, or a Ray worker (which never checks)
        return
    with _lock:
        if ray.is_initialized():
            return
        verdict = (address, *_judged(settings())) if address else None
        if verdict in _verdicts and _verdicts[verdict] is not None:
            raise _verdicts[verdict]
        verbose = settings().ray_verbose
        common = dict(
            logging_level=logging.INFO if verbose else logging.WARNING,
            log_to_driver=verbose,
            configure_logging=True,
        )
        try:
            if address:
                ray.init(address=address, **common)
            else:
                # address="local": always a fresh local Ray, never a cluster some other
                # process happened to start on this machine (`ray start`, `rayline up`).
                ray.init(
                    address="local",
                    num_cpus=local_num_cpus(),
                    include_dashboard=False,
                    **common,
                )
        except ConnectionError as exc:
            raise BackendError(
                f"cannot connect to Ray at {address!r}: {exc}. Start it with `rayline up` "
                "(or `ray start --head`), or unset RAY_ADDRESS to use a local Ray."
            ) from exc
        if verdict is not None and verdict not in _verdicts:
            try:
                check_cluster()
            except ConfigError as exc:
                # Disconnect: a later ensure_ray() must refuse too, not find Ray connected.
                _verdicts[verdict] = exc
                ray.shutdown()
                raise
            _verdicts[verdict] = None


def _managed_address() -> str | None:
    path = address_file()
    if not path.is_file():
        return None
    address = path.read_text().strip()
    return address or None


def shutdown_ray() -> None:
    """Disconnect from (or stop the process-local) Ray."""
    import ray

    if ray.is_initialized():
        ray.shutdown()


def task_placement() -> dict[str, float]:
    """The custom Ray resources of the Ray task this process runs (its step's ``resources=``),
    for the Ray work it starts (Tune trials, Train workers) to be placed the same way; empty on
    a driver, or for a task that Ray may place anywhere."""
    import ray

    if not ray.is_initialized():
        return {}
    context = ray.get_runtime_context()
    if context.worker.mode != ray.WORKER_MODE:
        return {}
    return {
        name: amount
        for name, amount in context.get_assigned_resources().items()
        if name not in _BUILTIN and not name.startswith(("node:", "accelerator_type:"))
    }


_BUILTIN = frozenset({"CPU", "GPU", "memory", "object_store_memory"})


# --- settings that only one node can honour -------------------------------------------------
def node_local_settings(config: Settings, *, nodes: int) -> list[str]:
    """Why ``config`` cannot work on a Ray cluster of ``nodes`` alive nodes: one line per
    setting that names a file of one machine, with what to use instead (empty: nothing to
    refuse). A ``file://`` artifact store is not judged here: whether every node mounts it is
    probed (``unseen_artifact_nodes``). Pure: no Ray, no I/O."""
    if nodes <= 1:
        return []
    problems = []
    if _is_sqlite(config.db_url):
        problems.append(
            f"RAYLINE_DB_URL is {config.db_url} (SQLite, also the default when it is unset): a "
            "file the other nodes cannot write; use PostgreSQL, "
            "RAYLINE_DB_URL=postgresql://USER@HOST:5432/rayline"
        )
    if _is_sqlite(config.online_store_uri):
        problems.append(
            f"RAYLINE_ONLINE_STORE_URI is {config.online_store_uri} (SQLite, also the default "
            "when it is unset): endpoints on other nodes cannot read it; use Redis, "
            "RAYLINE_ONLINE_STORE_URI=redis://HOST:6379/0"
        )
    mlflow = config.mlflow_tracking_uri
    if _is_sqlite(mlflow) or _is_file(mlflow):
        problems.append(
            f"MLFLOW_TRACKING_URI is {mlflow} (a file of this machine; SQLite is the default "
            "when it is unset): steps on other nodes cannot track to it; use PostgreSQL in a "
            "database of its own, MLFLOW_TRACKING_URI=postgresql://USER@HOST:5432/mlflow"
        )
    elif _same_database(mlflow, config.db_url):
        problems.append(
            f"MLFLOW_TRACKING_URI names the same database as RAYLINE_DB_URL ({config.db_url}): "
            "rayline and MLflow each keep an alembic_version table there; give MLflow a "
            "database of its own, MLFLOW_TRACKING_URI=postgresql://USER@HOST:5432/mlflow"
        )
    return problems


def _judged(config: Settings) -> tuple[str, ...]:
    """The settings ``check_cluster`` judges (its verdict holds while they stay the same)."""
    return (
        config.db_url,
        config.online_store_uri,
        config.mlflow_tracking_uri,
        config.artifact_uri,
    )


def check_cluster(config: Settings | None = None) -> None:
    """Refuse, with ``ConfigError``, settings that only one node of the connected Ray cluster
    can honour (``node_local_settings``), and a ``file://`` artifact store that some alive
    node does not see (probed: a token file written here, read by a task pinned to each node).

    ``ensure_ray()`` runs it once per cluster when it connects to one by address; call it
    directly to check a cluster again (nodes may have joined). One node: nothing to check.
    """
    import ray

    config = config or settings()
    alive = [n["NodeID"] for n in ray.nodes() if n.get("Alive")]
    problems = node_local_settings(config, nodes=len(alive))
    root = _file_root(config.artifact_uri) if len(alive) > 1 else None
    if root is not None:
        unseen = unseen_artifact_nodes(root, alive)
        if unseen:
            problems.append(
                f"RAYLINE_ARTIFACT_URI is {config.artifact_uri}, which Ray node(s) "
                f"{', '.join(unseen)} do not see (a file written there from this driver was "
                "not there for a task on those nodes); use an object store, "
                "RAYLINE_ARTIFACT_URI=s3://BUCKET/PREFIX, or a file system every node mounts "
                "at the same path"
            )
    if len(problems) == 1:
        raise ConfigError(f"this Ray cluster has {len(alive)} nodes, and {problems[0]}")
    if problems:
        raise ConfigError(
            f"this Ray cluster has {len(alive)} nodes, and some settings name what only one "
            "node has:\n- " + "\n- ".join(problems)
        )


def unseen_artifact_nodes(root: Path, node_ids: list[str]) -> list[str]:
    """The nodes (of ``node_ids``) that do not see a token file written under ``root``: one
    task per node, pinned to it, needing no CPU; a node that does not answer within
    ``PROBE_TIMEOUT_S`` counts as not seeing it."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    token = uuid.uuid4().hex
    # A folder of its own per probe: drivers probing at once never remove each other's token.
    probe = root / f".rayline-probe-{token}" / "token"
    # What the probe creates goes again (the root too, when it did not exist yet).
    made = [d for d in (probe.parent, *probe.parent.parents) if not d.exists()]
    try:
        probe.parent.mkdir(parents=True, exist_ok=True)
        probe.write_text(token)
    except OSError as exc:
        raise ConfigError(
            f"RAYLINE_ARTIFACT_URI points at {root}, where this driver cannot write ({exc}); "
            "make it writable, or use an object store, RAYLINE_ARTIFACT_URI=s3://BUCKET/PREFIX"
        ) from exc
    read = ray.remote(num_cpus=0, max_retries=0)(_read_token)
    try:
        refs = {
            node: read.options(
                scheduling_strategy=NodeAffinitySchedulingStrategy(node, soft=False)
            ).remote(str(probe))
            for node in node_ids
        }
        ready, _ = ray.wait(list(refs.values()), num_returns=len(refs), timeout=PROBE_TIMEOUT_S)
        seen = {node for node, ref in refs.items() if ref in ready and _answer(ref) == token}
    finally:
        probe.unlink(missing_ok=True)
        for folder in made:  # innermost first; one that holds anything else stays
            with contextlib.suppress(OSError):
                folder.rmdir()
    return [node for node in node_ids if node not in seen]


def _read_token(path: str) -> str | None:
    try:
        return Path(path).read_text()
    except OSError:
        return None


def _answer(ref: object) -> str | None:
    import ray

    try:
        return ray.get(ref)
    except ray.exceptions.RayError:
        return None


def _is_sqlite(url: str) -> bool:
    return url.split(":", 1)[0].split("+", 1)[0].lower() == "sqlite"


def _is_file(uri: str) -> bool:
    # A bare path or file:// is MLflow's file store (mlruns directories on this machine).
    scheme = urlparse(uri).scheme.lower()
    return scheme in ("", "file") or len(scheme) == 1  # one letter: a Windows drive


def _file_root(uri: str) -> Path | None:
    parsed = urlparse(uri)
    if parsed.scheme.lower() != "file":
        return None
    return Path(unquote(parsed.path))


def _same_database(a: str, b: str) -> bool:
    def where(url: str) -> tuple[str, str, int | None, str]:
        p = urlparse(url)
        dialect = p.scheme.split("+", 1)[0]  # the driver does not matter
        scheme = {"postgres": "postgresql"}.get(dialect, dialect)
        port = p.port or (5432 if scheme == "postgresql" else None)
        return (scheme, (p.hostname or "").lower(), port, p.path.rstrip("/"))

    return where(a) == where(b)
