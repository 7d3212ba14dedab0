"""A real two-node Ray cluster on one machine whose nodes share no disk: for tests, the
benchmark and ``make demo-cluster``.

The head runs as usual. The worker node runs in its own mount namespace (``unshare --mount
--propagation private``, which needs root) with a tmpfs mounted over the cluster's ``root``
directory: everything the head keeps there (its ``RAYLINE_HOME``, its Ray session, the data a
driver reads) is invisible to the worker, and the worker's own Ray session lives inside that
tmpfs, invisible to the head. Both nodes stay in the machine's network namespace, so PostgreSQL,
Redis and a local S3 server on 127.0.0.1 reach both, and so do the nodes' ports: Ray Serve's
proxy must run on the head only (rayline's default ``RAYLINE_SERVE_PROXY_LOCATION``).

The worker node offers the custom resource ``worker`` (the head ``head``): place a step or an
endpoint on it with ``resources={"worker": 0.1}``. The cluster uses Ray's token authentication
with a token of its own, handed to each node and to drivers through ``environment()``.

    with LocalCluster.start() as cluster:
        subprocess.run([...], env={**os.environ, **cluster.environment()})
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from rayline.errors import BackendError, ConfigError
from rayline.serving.cluster import _session_pids, _stop_session
from rayline.serving.ray_serve import serve_env

#: Logical CPUs of each node (Ray's scheduling units; twice the cores, like a local Ray).
HEAD_CPUS = 2
WORKER_CPUS = 4
#: Shared-memory object store of each node (both live in this machine's /dev/shm).
OBJECT_STORE_BYTES = 1_000_000_000


@dataclass
class LocalCluster:
    """A running two-node cluster: its address, its root, and how to stop it."""

    root: Path
    address: str
    token: str
    dashboard_url: str | None
    head_pid: int
    worker_pid: int | None
    logs: Path
    made_root: bool = False
    _stopped: bool = field(default=False, repr=False)

    # --- lifecycle ----------------------------------------------------------------------------
    @classmethod
    def start(
        cls,
        *,
        root: Path | None = None,
        worker: bool = True,
        dashboard: bool = False,
        serve_port: int | None = None,
        timeout: float = 120.0,
    ) -> LocalCluster:
        """Start the head (and the worker node unless ``worker=False``) and wait until every node
        has joined. ``root`` (default: a new short directory under /tmp) is the head's disk as far
        as the worker is concerned; it is created, and removed by ``stop()`` when it was made
        here. ``dashboard=True`` starts Ray's dashboard (``serve deploy`` needs it). ``serve_port``
        (default ``RAYLINE_SERVE_PORT``) is the Serve port the nodes' environment is prepared
        for (Serve's HAProxy side ports derive from it, whoever starts Serve first)."""
        if worker:
            _check_can_unshare()
        made_root = root is None
        # Short: Ray puts Unix sockets under its temp dir (108-byte path limit).
        root = Path(tempfile.mkdtemp(prefix="rl-", dir="/tmp")) if root is None else root
        root.mkdir(parents=True, exist_ok=True)
        logs = Path(tempfile.mkdtemp(prefix="rl-logs-", dir="/tmp"))
        token = uuid.uuid4().hex
        port = _free_port()
        env = _node_env(token, serve_port)
        dashboard_port = _free_port() if dashboard else None
        head = _spawn(
            [
                *_ray_start(port=None, cpus=HEAD_CPUS, resources={"head": 1}),
                "--head",
                f"--port={port}",
                f"--temp-dir={root / 'ray'}",
                *(
                    [
                        "--include-dashboard=true",
                        "--dashboard-host=127.0.0.1",
                        f"--dashboard-port={dashboard_port}",
                    ]
                    if dashboard
                    else ["--include-dashboard=false"]
                ),
            ],
            env=env,
            log=logs / "head.log",
        )
        cluster = cls(
            root=root,
            address=f"127.0.0.1:{port}",
            token=token,
            dashboard_url=f"http://127.0.0.1:{dashboard_port}" if dashboard else None,
            head_pid=head.pid,
            worker_pid=None,
            logs=logs,
            made_root=made_root,
        )
        try:
            _wait_port(port, head, timeout=timeout, log=logs / "head.log")
            if worker:
                worker_tmp = root / "ray"
                start = " ".join(
                    _quote(a)
                    for a in [
                        *_ray_start(port=port, cpus=WORKER_CPUS, resources={"worker": 1}),
                        f"--temp-dir={worker_tmp}",
                    ]
                )
                script = (
                    f"mount -t tmpfs -o size=8g rayline-worker {_quote(str(root))} && "
                    f"mkdir -p {_quote(str(worker_tmp))} && exec {start}"
                )
                proc = _spawn(
                    ["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
                    env=env,
                    log=logs / "worker.log",
                )
                cluster.worker_pid = proc.pid
            cluster.wait_for_nodes(2 if worker else 1, timeout=timeout)
        except BaseException:
            cluster.stop()
            raise
        return cluster

    def stop(self) -> None:
        """Stop both nodes (every process of their sessions) and remove what was made here."""
        if self._stopped:
            return
        self._stopped = True
        for pid in (self.worker_pid, self.head_pid):
            if pid is not None:
                _stop_session(pid, timeout=10.0)
        if self.made_root:
            shutil.rmtree(self.root, ignore_errors=True)
        shutil.rmtree(self.logs, ignore_errors=True)

    def __enter__(self) -> LocalCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- using it -----------------------------------------------------------------------------
    def environment(self) -> dict[str, str]:
        """What a driver needs to join: ``RAY_ADDRESS`` and the cluster's token."""
        return {"RAY_ADDRESS": self.address, **_auth_env(self.token)}

    @property
    def running(self) -> bool:
        pids = [p for p in (self.head_pid, self.worker_pid) if p is not None]
        return not self._stopped and all(_session_pids(p) for p in pids)

    def nodes(self) -> list[dict]:
        """The alive nodes as Ray reports them (``NodeID``, ``Resources``, ...), from a short
        driver process (this process may hold another Ray)."""
        code = (
            "import json, ray; ray.init(logging_level='ERROR'); "
            "print(json.dumps([n for n in ray.nodes() if n['Alive']]))"
        )
        out = subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, **self.environment()},
            capture_output=True,
            text=True,
            timeout=60,
        )
        if out.returncode != 0:
            raise BackendError(f"cannot list the cluster's nodes: {out.stderr.strip()[-2000:]}")
        return json.loads(out.stdout.strip().splitlines()[-1])

    def node_ids(self) -> dict[str, str]:
        """``{"head": node id, "worker": node id}``, by the custom resource each node offers."""
        out = {}
        for node in self.nodes():
            for role in ("head", "worker"):
                if role in node["Resources"]:
                    out[role] = node["NodeID"]
        return out

    def wait_for_nodes(self, count: int, *, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if not self.running:
                raise BackendError(f"a node of the local cluster exited; see {self.logs}")
            try:
                if len(self.nodes()) >= count:
                    return
            except (BackendError, subprocess.TimeoutExpired, json.JSONDecodeError, IndexError):
                pass
            if time.monotonic() > deadline:
                raise BackendError(
                    f"the local cluster did not reach {count} nodes within {timeout:.0f} s; "
                    f"see {self.logs}: {self.log_tail()}"
                )
            time.sleep(1.0)

    def log_tail(self, chars: int = 2000) -> str:
        return " | ".join(
            f"{p.name}: {p.read_text(errors='replace')[-chars:]}" for p in self.logs.glob("*.log")
        )


def _check_can_unshare() -> None:
    if shutil.which("unshare") is None:
        raise ConfigError("the local two-node cluster needs `unshare` (util-linux)")
    if os.geteuid() != 0:
        raise ConfigError(
            "the local two-node cluster mounts a tmpfs in the worker node's own mount namespace, "
            "which needs root: run it as root (or in a container as root), or point rayline at a "
            "real cluster with RAY_ADDRESS"
        )


def _auth_env(token: str) -> dict[str, str]:
    return {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": token}


def _node_env(token: str, serve_port: int | None) -> dict[str, str]:
    env = {**os.environ, **serve_env(serve_port), **_auth_env(token)}
    if serve_port:
        env["RAYLINE_SERVE_PORT"] = str(serve_port)
    env.pop("RAY_ADDRESS", None)
    return env


def _ray_start(*, port: int | None, cpus: int, resources: dict[str, float]) -> list[str]:
    ray = str(Path(sys.executable).parent / "ray")
    return [
        ray,
        "start",
        "--block",
        *([f"--address=127.0.0.1:{port}"] if port else []),
        "--node-ip-address=127.0.0.1",
        f"--num-cpus={cpus}",
        f"--resources={json.dumps(resources)}",
        f"--object-store-memory={OBJECT_STORE_BYTES}",
        # Both nodes share the network namespace: every fixed default port would collide.
        f"--dashboard-agent-listen-port={_free_port()}",
        f"--metrics-export-port={_free_port()}",
        "--disable-usage-stats",
    ]


def _spawn(command: list[str], *, env: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("ab") as out:
        return subprocess.Popen(
            command,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its session id gathers every process it starts
        )


def _wait_port(port: int, process: subprocess.Popen, *, timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with socket.socket() as s:
            s.settimeout(0.2)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        if process.poll() is not None:
            raise BackendError(f"`ray start --head` exited ({process.returncode}); see {log}")
        if time.monotonic() > deadline:
            raise BackendError(f"the head did not start within {timeout:.0f} s; see {log}")
        time.sleep(0.2)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _quote(arg: str) -> str:
    import shlex

    return shlex.quote(arg)
