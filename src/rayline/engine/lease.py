"""An execution's lease, held by the process that drives it.

The driver claims the execution (``PipelineRepository.claim``: compare-and-set on the fencing
token) and then keeps the lease alive with a thread of its own, so that a long pause of the
scheduler's loop (joining a Ray cluster, a slow commit) does not let it lapse while the process
is alive. A process that stops entirely (``kill -9``, SIGSTOP, a lost machine) stops renewing,
and another driver may take the execution over once the lease has lapsed; the old owner's next
write names a stale token and is refused, and so is its next renewal, which marks the lease lost.

Liveness is read here too: ``driver_id`` names this process as the driver of what it claims, and
``driver_alive`` tells from an execution's row whether its driver still runs it.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from typing import TYPE_CHECKING

from rayline.errors import LeaseLostError

if TYPE_CHECKING:
    from rayline.engine.repository import PipelineRepository

log = logging.getLogger("rayline.engine")

#: The longest gap between two renewals (the heartbeat clients see), whatever the lease length.
HEARTBEAT_S = 2.0
# Without a lease (rows written before leases): a driver whose heartbeat is older than this is
# considered dead (resume may take over).
DRIVER_TIMEOUT_S = 15.0


class Lease:
    """The lease on one execution this process holds under ``token``; ``start()`` renews it
    until ``stop()``. ``check()`` raises ``LeaseLostError`` once a renewal found it taken."""

    def __init__(
        self, repo: PipelineRepository, execution_id: str, token: int, *, lease_s: float
    ) -> None:
        self.repo, self.execution_id, self.token, self.lease_s = repo, execution_id, token, lease_s
        self._stopping = threading.Event()
        self._lost: LeaseLostError | None = None
        self._thread = threading.Thread(
            target=self._renew, name=f"rayline-lease-{execution_id}", daemon=True
        )

    def start(self) -> Lease:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()

    def check(self) -> None:
        """Raise ``LeaseLostError`` when another driver holds the execution now."""
        if self._lost is not None:
            raise self._lost

    def _renew(self) -> None:
        interval = min(HEARTBEAT_S, self.lease_s / 3)
        while not self._stopping.wait(interval):
            try:
                self.repo.renew(self.execution_id, self.token, lease_s=self.lease_s)
            except LeaseLostError as exc:
                self._lost = exc
                return
            except Exception:  # the DB away for a moment: the next renewal tries again
                log.warning("could not renew the lease of execution %s", self.execution_id)


def driver_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def driver_alive(
    driver: str | None, heartbeat_at: float | None, lease_expires_at: float | None = None
) -> bool:
    """Whether the process that owns an execution is still running it: its lease has not
    lapsed and, on this host, its process exists. (Rows without a lease: a recent heartbeat.)"""
    if not driver:
        return False
    host, _, pid = driver.rpartition(":")
    local = host == socket.gethostname()
    if local and not _process_exists(pid):
        return False
    if lease_expires_at is not None:
        return time.time() < lease_expires_at
    timeout = 4 * DRIVER_TIMEOUT_S if local else DRIVER_TIMEOUT_S
    return heartbeat_at is not None and time.time() - heartbeat_at < timeout


def _process_exists(pid: str) -> bool:
    try:
        os.kill(int(pid), 0)
    except (ProcessLookupError, ValueError):
        return False
    except PermissionError:
        return True
    return not _is_zombie(int(pid))


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return False
