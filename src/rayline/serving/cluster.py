"""A long-lived local Ray for endpoints and pipelines: ``rayline up`` / ``rayline down``.

``start_local_ray()`` runs ``ray start --head --block`` in its own session (so it outlives the
command), with Serve's fast-path variables (``serving.ray_serve.serve_env``) in the environment of
every Ray process, and writes the cluster's address to ``rayline.ray_connection.address_file()``
(``$RAYLINE_HOME/ray-address``), which ``ensure_ray()`` reads when ``RAY_ADDRESS`` is unset.

How it combines with ``RAY_ADDRESS``: an explicit ``RAY_ADDRESS`` always wins; while it is set,
rayline commands use that cluster and ignore the local one. ``stop_local_ray()`` stops only the
processes of the cluster it started (by session id), never other Ray instances on the machine.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from rayline.config import settings
from rayline.errors import BackendError, ConflictError
from rayline.ray_connection import address_file, local_num_cpus
from rayline.serving.ray_serve import serve_env


@dataclass(frozen=True)
class LocalRay:
    """The local Ray that ``rayline up`` started: its address, process and log."""

    address: str
    pid: int
    log: Path
    running: bool


def _pid_file() -> Path:
    return settings().home / "ray-up.pid"


def _log_file() -> Path:
    return settings().home / "ray-up.log"


def local_ray() -> LocalRay | None:
    """The recorded local Ray (``running`` says whether its process is alive), or None."""
    if not address_file().is_file() or not _pid_file().is_file():
        return None
    try:
        pid = int(_pid_file().read_text().strip())
    except ValueError:
        return None
    return LocalRay(
        address=address_file().read_text().strip(), pid=pid, log=_log_file(), running=_alive(pid)
    )


def start_local_ray(
    *, num_cpus: int | None = None, port: int | None = None, timeout: float = 60.0
) -> LocalRay:
    """Start the long-lived local Ray (a no-op when it already runs)."""
    current = local_ray()
    if current is not None and current.running:
        return current
    home = settings().home
    home.mkdir(parents=True, exist_ok=True)
    port = port or _free_port()
    ray_bin = Path(sys.executable).parent / "ray"
    command = [
        str(ray_bin),
        "start",
        "--head",
        "--block",
        f"--port={port}",
        f"--num-cpus={num_cpus or local_num_cpus()}",
        "--include-dashboard=false",
        "--disable-usage-stats",
    ]
    env = {**os.environ, **serve_env()}
    env.pop("RAY_ADDRESS", None)
    with _log_file().open("ab") as log:
        process = subprocess.Popen(
            command,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    address = f"127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while not _port_open(port):
        if process.poll() is not None:
            raise BackendError(
                f"`ray start --head` exited with status {process.returncode}; see {_log_file()}"
            )
        if time.monotonic() > deadline:
            _stop_session(process.pid)
            raise BackendError(f"Ray did not start within {timeout:.0f} s; see {_log_file()}")
        time.sleep(0.2)
    _pid_file().write_text(f"{process.pid}\n")
    address_file().write_text(f"{address}\n")
    return LocalRay(address=address, pid=process.pid, log=_log_file(), running=True)


def stop_local_ray(*, timeout: float = 5.0) -> bool:
    """Stop the local Ray that ``start_local_ray`` started; False when none was recorded."""
    current = local_ray()
    if current is None:
        address_file().unlink(missing_ok=True)
        _pid_file().unlink(missing_ok=True)
        return False
    _stop_session(current.pid, timeout=timeout)
    _forget_current_cluster(current.address)
    address_file().unlink(missing_ok=True)
    _pid_file().unlink(missing_ok=True)
    return True


def _stop_session(sid: int, *, timeout: float = 5.0) -> None:
    """SIGTERM every process of session ``sid``, then SIGKILL what is left after ``timeout``.

    ``ray start --block`` does not always take its GCS down on SIGTERM, and Ray's workers run in
    their own process groups; the session id (set by ``start_new_session``) covers them all.
    """
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        pids = _session_pids(sid)
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and _session_pids(sid):
            time.sleep(0.2)
    if _session_pids(sid):
        raise ConflictError(f"processes of the local Ray (session {sid}) did not stop")


def _forget_current_cluster(address: str) -> None:
    """Remove Ray's note of the latest local cluster when it names the one just stopped
    (``ray stop`` does the same): a plain ``ray.init()`` would otherwise try to join it."""
    import tempfile

    port = address.rsplit(":", 1)[-1]
    note = (
        Path(os.environ.get("RAY_TMPDIR") or tempfile.gettempdir())
        / "ray"
        / ("ray_current_cluster")
    )
    try:
        if note.read_text().strip().rsplit(":", 1)[-1] == port:
            note.unlink()
    except OSError:
        pass


def _session_pids(sid: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # Fields after the command name (which may contain spaces): state ppid pgrp session.
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) > 3 and int(fields[3]) == sid and fields[0] != "Z":
            pids.append(int(entry.name))
    return pids


def _alive(pid: int) -> bool:
    return bool(_session_pids(pid))


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        try:
            s.connect(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_port() -> int:
    # Ray's default GCS port is 6379, Redis's port; take a free one instead.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
