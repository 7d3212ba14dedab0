"""A local S3-compatible server on loopback, for tests, benchmarks and demos.

It runs moto's standalone server (``moto[server]``, a development dependency: ``pip install
'rayline[dev]'``) in a child process. It speaks S3's HTTP protocol, so everything that uses it goes
through the same code paths (pyarrow, boto3, MLflow) as with a real bucket; it keeps objects in
memory and is gone when stopped.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass

from rayline.errors import BackendError, ConfigError

#: Credentials the local server accepts (it accepts any); set so no real AWS identity is used.
ACCESS_KEY = "rayline-local"
SECRET_KEY = "rayline-local-secret"
REGION = "us-east-1"


@dataclass
class LocalS3:
    """A running local S3 server: its endpoint and the environment that points at it."""

    endpoint_url: str
    process: subprocess.Popen

    def environment(self) -> dict[str, str]:
        """The AWS variables that make rayline (and boto3, MLflow) use this server."""
        return {
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ENDPOINT_URL_S3": self.endpoint_url,
            "RAYLINE_S3_ADDRESSING_STYLE": "path",
        }

    def create_bucket(self, name: str) -> None:
        """Create bucket ``name`` (S3's naming rules apply: 3-63 lowercase letters, digits,
        dots and hyphens)."""
        import boto3

        boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name=REGION,
        ).create_bucket(Bucket=name)

    def stop(self) -> None:
        """Stop the server (its objects are gone)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_local_s3(*, port: int | None = None, timeout_s: float = 30.0) -> LocalS3:
    """Start a local S3 server on 127.0.0.1 (a free port unless ``port``) and wait until it
    answers."""
    try:
        import moto.server  # noqa: F401
    except ImportError:
        raise ConfigError(
            "the local S3 server needs moto's server: pip install 'moto[server]' (it is in "
            "rayline's dev extra)"
        ) from None
    port = port or _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "MOTO_ALLOW_NONEXISTENT_REGION": "true"},
        start_new_session=True,
    )
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BackendError(f"the local S3 server exited at start (status {process.returncode})")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return LocalS3(endpoint_url=f"http://127.0.0.1:{port}", process=process)
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise BackendError(f"the local S3 server did not answer on port {port} within {timeout_s:g} s")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
