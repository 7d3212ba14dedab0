"""The server's ownership service: it drives every execution nobody else drives.

At start-up, then every half lease, it looks at the executions still Executing or Stopping and
takes over each whose owner is gone: its lease lapsed (the owner died, its machine went away, or
it was paused past its lease) or, on this host, its process no longer exists (a ``kill -9`` of
the server that drove it is noticed at once on restart). Taking over is the engine's
compare-and-set claim on the fencing token seen, so when two servers see the same lapsed
execution one claim wins and the other gets ``LeaseLostError`` and leaves it. The scheduler then
keeps the succeeded steps and runs the interrupted ones again as their next attempt.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from rayline.config import settings
from rayline.errors import LeaseLostError
from rayline.periodic import every

log = logging.getLogger("rayline.server")


def start() -> Callable[[], None]:
    """Start the service's thread (a pass every half lease); returns the function that stops
    it."""
    from rayline.engine.repository import open_repository
    from rayline.ray_connection import ensure_ray

    # Connected before the first pass: a driver's first heartbeat comes after Ray is up, and
    # joining a cluster can take longer than a short lease.
    return every(
        settings().lease_s / 2,
        lambda: resume_lapsed(open_repository()),
        name="rayline-ownership",
        log=log,
        first=ensure_ray,
    )


def resume_lapsed(repo: Any) -> list[str]:
    """Claim and drive (in threads of this process) every unfinished execution whose owner is
    gone; the ids this server took."""
    from rayline.executions import is_orphaned, launch

    taken = []
    for record in repo.unfinished_executions():
        if not is_orphaned(record):
            continue
        try:
            launch(
                record.id,
                db_url=repo.db.url,
                detach=False,
                expected_token=record.fencing_token,
            )
        except LeaseLostError:
            continue  # another server claimed it first: it drives it
        log.warning(
            "took over execution %s of %r from %s, whose lease lapsed",
            record.id,
            record.pipeline_name,
            record.driver,
        )
        taken.append(record.id)
    return taken
