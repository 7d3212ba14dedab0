"""One S3 configuration, handed explicitly to every library that talks to S3.

rayline reads the standard AWS settings once (``rayline.config.S3Settings``) and gives each
library what it needs, rather than trusting each to read the environment its own way: pyarrow's
``S3FileSystem`` ignores ``AWS_ENDPOINT_URL`` (apache/arrow#49643), MLflow's S3 artifact
repository wants ``MLFLOW_S3_ENDPOINT_URL``, boto3 wants its own client arguments, and a Ray
worker started before a test set the variables never sees them. So:

- :meth:`S3Connection.filesystem` is the ``pyarrow.fs.S3FileSystem`` for the artifact store,
  pyarrow datasets (and through them DuckDB), Ray Data, Ray Train and Tune (``storage_filesystem``);
- :meth:`S3Connection.client` is a boto3 S3 client;
- :meth:`S3Connection.environment` is the environment for code running elsewhere (a step's
  process, MLflow's S3 repository).

:func:`check_bucket` turns a missing bucket or a refused credential into one clear
``ConfigError`` at start, instead of a stack trace in the middle of a step.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from rayline.config import S3Settings, settings
from rayline.errors import ConfigError


@dataclass(frozen=True)
class S3Connection:
    """How to reach S3 (or an S3-compatible server): built from ``S3Settings``."""

    settings: S3Settings

    @classmethod
    def from_environment(cls) -> S3Connection:
        """The connection the current environment describes."""
        return cls(settings().s3)

    def filesystem(self) -> Any:
        """A ``pyarrow.fs.S3FileSystem`` for these settings (one per settings, per process)."""
        return _filesystem(self.settings)

    def client(self) -> Any:
        """A boto3 S3 client for these settings."""
        import boto3
        from botocore.config import Config

        s = self.settings
        session = boto3.session.Session(profile_name=s.profile) if s.profile else boto3
        return session.client(
            "s3",
            endpoint_url=s.endpoint_url,
            region_name=s.region or "us-east-1",
            aws_access_key_id=s.access_key_id,
            aws_secret_access_key=s.secret_access_key,
            aws_session_token=s.session_token,
            config=Config(s3={"addressing_style": "path" if s.path_style else "virtual"}),
        )

    def environment(self) -> dict[str, str]:
        """Environment variables that give a child process (a Ray worker, a Serve replica,
        MLflow's boto3) the same connection: only what is set, nothing when no AWS setting is."""
        s = self.settings
        env = {
            "AWS_ACCESS_KEY_ID": s.access_key_id,
            "AWS_SECRET_ACCESS_KEY": s.secret_access_key,
            "AWS_SESSION_TOKEN": s.session_token,
            "AWS_REGION": s.region,
            "AWS_DEFAULT_REGION": s.region,
            "AWS_ENDPOINT_URL_S3": s.endpoint_url,
            "MLFLOW_S3_ENDPOINT_URL": s.endpoint_url,
            "AWS_PROFILE": s.profile,
        }
        env = {k: v for k, v in env.items() if v}
        if env:
            style = "path" if s.path_style else "virtual"
            env["RAYLINE_S3_ADDRESSING_STYLE"] = style
            env["MLFLOW_BOTO_CLIENT_ADDRESSING_STYLE"] = style
        return env


def environment_for(*locations: object) -> dict[str, str]:
    """The S3 environment (``S3Connection.environment()``) for a process that will read or write
    ``locations``: empty unless one of them is ``s3://``."""
    if not any(str(loc).startswith("s3://") for loc in locations if loc is not None):
        return {}
    return S3Connection.from_environment().environment()


def split_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` as ``(bucket, key)`` (key without a leading slash, maybe empty)."""
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise ConfigError(f"{uri!r} is not an s3://bucket/prefix URI")
    return parsed.netloc, parsed.path.lstrip("/")


_checked: set[tuple[S3Settings, str]] = set()
_checked_lock = threading.Lock()


def check_bucket(connection: S3Connection, bucket: str, *, setting: str) -> None:
    """Fail with one clear ``ConfigError`` if ``bucket`` cannot be used (checked once per
    process); ``setting`` names the variable that points at it."""
    key = (connection.settings, bucket)
    if key in _checked:
        return
    import pyarrow.fs as pafs

    s = connection.settings
    where = f"the S3 server at {s.endpoint_url}" if s.endpoint_url else "AWS S3"
    try:
        info = connection.filesystem().get_file_info(bucket)
    except OSError as exc:
        raise ConfigError(
            f"{setting}: cannot reach bucket {bucket!r} on {where}: {_first_line(exc)}. Check "
            "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or AWS_PROFILE), AWS_REGION and, for an "
            "S3-compatible server, AWS_ENDPOINT_URL_S3 and RAYLINE_S3_ADDRESSING_STYLE"
        ) from None
    if info.type == pafs.FileType.NotFound:
        raise ConfigError(
            f"{setting}: bucket {bucket!r} does not exist on {where}; create it (e.g. "
            f"`aws s3 mb s3://{bucket}`) or point {setting} at an existing bucket"
        )
    with _checked_lock:
        _checked.add(key)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@functools.cache
def _filesystem(s: S3Settings) -> Any:
    import pyarrow.fs as pafs

    kwargs: dict[str, Any] = {
        "region": s.region or "us-east-1",
        "force_virtual_addressing": not s.path_style,
        # Without it every object, however small, is a three-request multipart upload; with it
        # one smaller than a part is a single PutObject (3-4x faster for many small files).
        "allow_delayed_open": True,
    }
    if s.access_key_id and s.secret_access_key:
        kwargs.update(
            access_key=s.access_key_id,
            secret_key=s.secret_access_key,
            session_token=s.session_token,
        )
    elif s.profile:
        # pyarrow reads no profiles: resolve the profile's credentials through botocore.
        import boto3

        creds = boto3.session.Session(profile_name=s.profile).get_credentials()
        if creds is None:
            raise ConfigError(f"AWS_PROFILE={s.profile!r} has no credentials")
        frozen = creds.get_frozen_credentials()
        kwargs.update(
            access_key=frozen.access_key, secret_key=frozen.secret_key, session_token=frozen.token
        )
    if s.endpoint_url:
        parsed = urlparse(s.endpoint_url)
        if not parsed.scheme or not parsed.netloc:
            raise ConfigError(
                f"AWS_ENDPOINT_URL_S3={s.endpoint_url!r} is not a URL; write http(s)://host:port"
            )
        kwargs.update(endpoint_override=parsed.netloc, scheme=parsed.scheme)
    return pafs.S3FileSystem(**kwargs)
