"""The one place rayline starts or connects to Ray.

``RAY_ADDRESS`` set: connect to that cluster. Otherwise: connect to the long-lived local Ray that
``rayline up`` started (its address is kept in ``$RAYLINE_HOME/ray-address``), or else start a
local Ray for this process, sized for the machine and quiet.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

from rayline.config import settings
from rayline.errors import BackendError

_lock = threading.Lock()


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

    if ray.is_initialized():
        return
    with _lock:
        if ray.is_initialized():
            return
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
