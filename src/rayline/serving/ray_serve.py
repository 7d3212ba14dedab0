"""Ray Serve for rayline's endpoints: started once per Ray cluster, tuned for small models.

Serve is started with the settings DESIGN.md §5 measured: ``RAY_SERVE_ENABLE_HA_PROXY=1`` and
``RAY_SERVE_THROUGHPUT_OPTIMIZED=1`` (HAProxy in front of replicas that take HTTP directly,
10-25x the default's throughput on a one-row XGBoost model). Serve's own processes read these
variables at import, so they are handed to the Serve controller as its ``runtime_env`` (its
proxies inherit them) and to every replica; ``rayline up`` also exports them to the whole local
cluster. ``RAYLINE_SERVE_FAST=0`` turns them off.

Endpoints are deployed declaratively: rayline's part of the Serve config is computed from the
``endpoints`` table (the source of truth), so a Serve restart (or ``rayline up`` after a reboot)
can redeploy every recorded endpoint, and a model update only changes a deployment's
``user_config`` (replicas swap models in place, no restart, no dropped request).

Sharing a cluster: Serve applies a declarative config as a whole and removes every
declaratively deployed application it does not list. :func:`apply` therefore reads the running
config first and sends the other applications back unchanged (``serve run``/``serve.run`` apps
are imperative and survive a declarative apply anyway); only rayline's own applications change.
Serve offers no compare-and-swap, so a ``serve deploy`` landing between that read and the apply
can still be undone: deploy other applications the same way (read, merge, apply) or at another
time. A ``serve deploy`` of a config without rayline's applications removes them (``rayline up``
or ``Endpoints().redeploy_all()`` puts them back), and a KubeRay ``RayService`` owns its
cluster's Serve config: it reverts whatever is deployed beside it.

Proxy: ``RAYLINE_SERVE_PROXY_LOCATION`` (default ``HeadOnly``): one HTTP proxy, on the head, the
cluster's one address; replicas on other nodes answer through it.

Ports: the HTTP frontend binds ``RAYLINE_SERVE_HOST`` (default 127.0.0.1) :``RAYLINE_SERVE_PORT``
(default 8000). HAProxy's stats and Prometheus listeners bind all interfaces (Ray offers no
host setting for them); rayline moves them to the Serve port + 404 and + 1101 so two clusters on
one machine do not collide.
"""

from __future__ import annotations

import logging
from typing import Any

from rayline.config import settings
from rayline.errors import BackendError, ConfigError

SERVE_APP_PREFIX = "/endpoints"
#: What every endpoint's Serve application runs; an application that runs anything else is not
#: rayline's, whatever its name.
APP_IMPORT_PATH = "rayline.serving.app:app"


def serve_host() -> str:
    return settings().serve_host


def serve_port() -> int:
    return settings().serve_port


def fast_serve_enabled() -> bool:
    return settings().serve_fast


def serve_env(port: int | None = None) -> dict[str, str]:
    """Environment variables Serve's processes need (empty when ``RAYLINE_SERVE_FAST=0``)."""
    if not fast_serve_enabled():
        return {}
    port = port or serve_port()
    return {
        "RAY_SERVE_ENABLE_HA_PROXY": "1",
        "RAY_SERVE_THROUGHPUT_OPTIMIZED": "1",
        "RAY_SERVE_HAPROXY_STATS_PORT": str(port + 404),
        "RAY_SERVE_HAPROXY_METRICS_PORT": str(port + 1101),
        # A replica that takes HTTP directly waits this long before stopping so load
        # balancers can drop it (default 30 s); the local HAProxy updates in well under 1 s.
        "RAY_SERVE_DIRECT_INGRESS_MIN_DRAINING_PERIOD_S": "5",
        # Ray runs workers at nice 15; serving is latency-bound and should win the CPU over
        # batch work (pipeline steps, tuning trials) on the same machine.
        "RAY_worker_niceness": "0",
    }


def base_url() -> str:
    host = serve_host()
    if host in ("0.0.0.0", "::"):
        import socket

        host = socket.gethostname()
    return f"http://{host}:{serve_port()}"


def endpoint_url(name: str) -> str:
    """Where an endpoint answers: ``POST {url}/invocations``."""
    return f"{base_url()}{SERVE_APP_PREFIX}/{name}"


def connect(*, allow_process_local: bool = False) -> None:
    """Connect to the Ray cluster that hosts endpoints, refusing one that dies with this process.

    Endpoints must outlive the command that creates them: use ``RAY_ADDRESS`` or the cluster
    that ``rayline up`` started. A process that already runs its own Ray (a notebook, a test)
    may deploy there; ``allow_process_local`` lets it start one.
    """
    from rayline.ray_connection import cluster_address, ensure_ray

    long_lived = cluster_address()
    import ray

    if not ray.is_initialized() and not allow_process_local and not long_lived:
        raise ConfigError(
            "no long-lived Ray to host endpoints: start one with `rayline up` (or set "
            "RAY_ADDRESS to a running cluster); an endpoint on this command's own Ray "
            "would stop when the command exits"
        )
    ensure_ray()


def ensure_serve() -> Any:
    """Start Ray Serve on the connected cluster (or attach to it); returns Serve's client."""
    from ray import serve
    from ray.serve.context import _get_global_client

    port = serve_port()
    env = serve_env(port)
    # Serve logs every start and deploy at INFO on the driver; the CLI prints its own summary.
    logging.getLogger("ray.serve").setLevel(logging.WARNING)
    try:
        serve.start(
            proxy_location=settings().serve_proxy_location,
            http_options={"host": serve_host(), "port": port},
            controller_options={"runtime_env": {"env_vars": env}} if env else None,
        )
        return _get_global_client()
    except Exception as exc:
        raise BackendError(f"cannot start Ray Serve on port {port}: {exc}") from exc


def app_config(name: str, config: dict[str, Any], user_config: dict[str, Any]) -> dict[str, Any]:
    """The Serve application of one endpoint (``config["resources"]``: custom Ray resources that
    place its replicas)."""
    from rayline.serving.app import DEPLOYMENT_NAME

    # Replicas read the model from the artifact store: an s3:// store's settings go with them
    # (a replica is a fresh Ray worker; it sees only what its runtime_env hands it).
    env = {**serve_env(), **_storage_env()}
    actor_options: dict[str, Any] = {"num_cpus": float(config.get("num_cpus", 0.1))}
    if config.get("resources"):
        actor_options["resources"] = dict(config["resources"])
    if env:
        actor_options["runtime_env"] = {"env_vars": env}
    return {
        "name": name,
        "route_prefix": f"{SERVE_APP_PREFIX}/{name}",
        "import_path": APP_IMPORT_PATH,
        "deployments": [
            {
                "name": DEPLOYMENT_NAME,
                "num_replicas": int(config.get("replicas", 1)),
                "max_ongoing_requests": int(config.get("max_ongoing_requests", 64)),
                # Replicas drain quickly: requests take microseconds, so waiting 20 s (Serve's
                # default) only slows deletes and scale-downs.
                "graceful_shutdown_wait_loop_s": 0.5,
                "graceful_shutdown_timeout_s": 5.0,
                "ray_actor_options": actor_options,
                "user_config": user_config,
            }
        ],
    }


def _storage_env() -> dict[str, str]:
    """The S3 settings replicas need when the artifact store is ``s3://`` (else none)."""
    from rayline.store.s3 import environment_for

    return environment_for(settings().artifact_uri)


def apply(apps: list[dict[str, Any]], *, owned: set[str] | frozenset[str]) -> set[str]:
    """Make Serve run ``apps`` as rayline's applications, leaving every other one alone.

    ``owned`` names every application rayline may change or remove (its endpoints, also those
    being deleted); a running application of such a name counts as rayline's only when it runs
    :data:`APP_IMPORT_PATH`. Applications of ``apps`` whose name or route another application
    holds are not deployed: their names are returned (empty: all were).
    """
    from ray.serve.schema import ServeDeploySchema

    client = ensure_serve()
    try:
        details = client.get_serve_details()
    except Exception as exc:
        raise BackendError(f"cannot read Ray Serve's applications: {exc}") from exc
    foreign, kept = _foreign_apps(details, owned)
    taken = {name for name, _ in foreign} | {route for _, route in foreign if route}
    blocked = {a["name"] for a in apps if a["name"] in taken or a["route_prefix"] in taken}
    schema = ServeDeploySchema(
        proxy_location=settings().serve_proxy_location,
        http_options={"host": serve_host(), "port": serve_port()},
        # Another deployer's target capacity (a gradual upgrade in progress) stays as it is.
        target_capacity=details.get("target_capacity"),
        applications=[*kept, *(a for a in apps if a["name"] not in blocked)],
    )
    try:
        client.deploy_apps(schema)
    except Exception as exc:
        raise BackendError(f"Ray Serve refused the endpoint configuration: {exc}") from exc
    return blocked


def _foreign_apps(
    details: dict[str, Any], owned: set[str] | frozenset[str]
) -> tuple[list[tuple[str, str | None]], list[dict[str, Any]]]:
    """The applications Serve runs that are not rayline's: ``(name, route)`` of each, and the
    config of each declarative one, to send back unchanged."""
    foreign, kept = [], []
    for name, app in (details.get("applications") or {}).items():
        deployed = app.get("deployed_app_config")
        ours = deployed is not None and deployed.get("import_path") == APP_IMPORT_PATH
        # Serve forgets the config of an app it is deleting: one of rayline's names being
        # deleted is an endpoint deleted a moment ago, which may be created again.
        if name in owned and (ours or app.get("status") == "DELETING"):
            continue
        foreign.append((name, app.get("route_prefix")))
        # Imperative apps (``serve.run``) survive a declarative apply: sending them would turn
        # them declarative. One being deleted stays deleted.
        if app.get("source") == "declarative" and deployed and app.get("status") != "DELETING":
            kept.append(deployed)
    return foreign, kept


def app_statuses() -> dict[str, tuple[str, str]]:
    """``{app name: (status, message)}`` for the applications Serve runs now."""
    from ray import serve

    apps = serve.status().applications
    out = {}
    for name, app in apps.items():
        # The deployment's message carries the replica's error (e.g. the model did not load).
        messages = [app.message or ""] + [d.message for d in app.deployments.values() if d.message]
        out[name] = (
            str(getattr(app.status, "value", app.status)),
            " ".join(m for m in messages if m).strip(),
        )
    return out


def replica_nodes(app: str) -> list[str]:
    """The Ray nodes (ids) the replicas of application ``app`` run on, distinct and sorted."""
    return sorted({r["node_id"] for r in _replicas(app) if r.get("node_id")})


def running_replicas(app: str) -> int:
    """How many replicas of application ``app`` are RUNNING (serving requests) now."""
    return sum(1 for r in _replicas(app) if r.get("state") == "RUNNING")


def _replicas(app: str) -> list[dict[str, Any]]:
    details = ensure_serve().get_serve_details()
    deployments = ((details.get("applications") or {}).get(app) or {}).get("deployments") or {}
    return [r for d in deployments.values() for r in d.get("replicas") or []]
