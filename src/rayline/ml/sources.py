"""Where ML code reads its data from, and where Ray Train and Tune keep their runs.

Locations (a local path, ``file://`` or ``s3://``) are read and written with
``rayline.store.locations``; this module adds what ML needs on top: a per-process cache of
downloaded trees for libraries that want local paths (XGBoost, Ray Train workers) and the
storage settings of a Ray Train/Tune run (their workers get the S3 settings from
``rayline.store.s3.environment_for``).
"""

from __future__ import annotations

import atexit
import hashlib
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rayline.store.artifacts import filesystem_for, to_path
from rayline.store.locations import download, is_remote

_copies: dict[str, Path] = {}
_copies_lock = threading.Lock()
_scratch: list[Path] = []


def _scratch_dir() -> Path:
    """A temporary directory for this process's cached downloads, removed when it exits."""
    with _copies_lock:
        if not _scratch:
            made = Path(tempfile.mkdtemp(prefix="rayline-inputs-"))
            atexit.register(shutil.rmtree, made, True)
            _scratch.append(made)
        return _scratch[0]


def local_copy(uri: str | Path, *, scratch: Path | None = None, cached: bool = False) -> Path:
    """A local path holding the file or tree at ``uri``: the path itself when it is local,
    else a download (into ``scratch``, or a fresh temporary directory).

    ``cached=True`` reuses this process's earlier download of the same URI: for committed step
    outputs, which never change once published.
    """
    if not is_remote(uri):
        return to_path(str(uri))
    uri = str(uri)
    if cached:
        with _copies_lock:
            found = _copies.get(uri)
        if found is not None and found.exists():
            return found
    base = scratch or (_scratch_dir() if cached else Path(tempfile.mkdtemp(prefix="rayline-")))
    name = uri.rstrip("/").rsplit("/", 1)[-1] or "root"
    # A per-URI folder: two inputs with the same last name never land on each other.
    target = download(uri, base / hashlib.sha256(uri.encode()).hexdigest()[:12] / name)
    if cached:
        with _copies_lock:
            _copies[uri] = target
    return target


@dataclass(frozen=True)
class RayStorage:
    """Where Ray Train or Tune persist a run: ``storage_path`` and, for an object store, the
    ``storage_filesystem`` (the one S3 configuration's pyarrow filesystem, which Ray's own
    ``s3://`` handling would not configure: it ignores ``AWS_ENDPOINT_URL``)."""

    path: str
    filesystem: Any = None

    def run_config(self) -> dict[str, Any]:
        """Keyword arguments for ``ray.train.RunConfig`` / ``ray.tune.RunConfig``."""
        if self.filesystem is None:
            return {"storage_path": self.path}
        return {"storage_path": self.path, "storage_filesystem": self.filesystem}


def ray_storage(uri: str | Path) -> RayStorage:
    """The :class:`RayStorage` for a local directory or an ``s3://`` prefix."""
    if not is_remote(uri):
        path = to_path(str(uri)).resolve()
        path.mkdir(parents=True, exist_ok=True)
        return RayStorage(str(path))
    fs, path = filesystem_for(str(uri))
    return RayStorage(path, fs)
