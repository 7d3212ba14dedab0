"""The artifact store: files and directories addressed by URI, with content hashing.

The default is a local directory (``file://$RAYLINE_HOME/artifacts``). Step outputs, code
snapshots, models and the offline feature store live here. Content hashes feed cache keys, so a
changed input file or script changes the key and the step runs again.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
from pathlib import Path
from urllib.parse import unquote, urlparse

from rayline.config import settings
from rayline.errors import ConfigError, NotFoundError

_CHUNK = 1 << 20


class ArtifactStore:
    """A local-directory artifact store rooted at ``root`` (a ``file://`` URI or a path)."""

    scheme = "file"

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = to_path(str(root)).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.uri = self.root.as_uri()

    def uri_for(self, *parts: str) -> str:
        """The URI of ``parts`` joined under the root (nothing is created)."""
        return self.root.joinpath(*parts).as_uri()

    def path(self, uri: str) -> Path:
        """The local path of an artifact URI."""
        return to_path(uri)

    def put_bytes(self, data: bytes, *parts: str) -> str:
        """Write ``data`` atomically at ``parts`` under the root; returns its URI."""
        target = self.root.joinpath(*parts)
        write_atomic(target, data)
        return target.as_uri()

    def get_bytes(self, uri: str) -> bytes:
        """The bytes of the artifact at ``uri`` (``NotFoundError`` when there is none)."""
        path = self.path(uri)
        if not path.is_file():
            raise NotFoundError(f"artifact {uri} does not exist")
        return path.read_bytes()

    def put_content(self, data: bytes, *, kind: str, suffix: str = "") -> tuple[str, str]:
        """Store ``data`` content-addressed under ``kind/``; returns ``(sha256, uri)``.

        Storing the same bytes twice writes once, so code snapshots cost nothing on re-upsert.
        """
        digest = hashlib.sha256(data).hexdigest()
        target = self.root / kind / f"{digest}{suffix}"
        if not target.exists():
            write_atomic(target, data)
        return digest, target.as_uri()

    def exists(self, uri: str) -> bool:
        """Whether something is stored at ``uri``."""
        return self.path(uri).exists()

    def delete(self, uri: str) -> None:
        """Remove what is stored at ``uri`` (a file or a whole directory), if anything."""
        path = self.path(uri)
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        elif path.exists():
            path.unlink()

    def content_hash(self, uri: str) -> str:
        """SHA-256 of a file's bytes, or of a directory's relative paths and file contents."""
        return content_hash(self.path(uri))


def open_artifact_store(uri: str | None = None) -> ArtifactStore:
    """The artifact store at ``uri`` (default: ``RAYLINE_ARTIFACT_URI``)."""
    uri = uri or settings().artifact_uri
    scheme = urlparse(uri).scheme
    if scheme in ("", "file"):
        return ArtifactStore(uri)
    raise ConfigError(
        f"RAYLINE_ARTIFACT_URI {uri!r}: the {scheme!r} scheme is not supported by this build; "
        "use a local directory or a file:// URI (on a cluster: a directory every node mounts)"
    )


def to_path(uri_or_path: str) -> Path:
    """A local path from a ``file://`` URI or a plain path."""
    parsed = urlparse(uri_or_path)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    if parsed.scheme and len(parsed.scheme) > 1:
        raise ConfigError(f"{uri_or_path!r} is not a local path or file:// URI")
    return Path(uri_or_path).expanduser()


def write_atomic(target: Path, data: bytes) -> None:
    """Write via a temporary file and rename, so no reader sees a half-written file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, target)


_hash_memo: dict[tuple[str, int, int], str] = {}


def file_hash(path: Path) -> str:
    """The SHA-256 of a file's bytes, remembered per (path, size, mtime) in this process."""
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    cached = _hash_memo.get(key)
    if cached is not None:
        return cached
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    _hash_memo[key] = digest = h.hexdigest()
    return digest


def content_hash(path: Path) -> str:
    """Content hash of a file or a directory tree (names and bytes; hidden files excluded)."""
    if path.is_file():
        return file_hash(path)
    if not path.is_dir():
        raise NotFoundError(f"cannot hash {path}: it does not exist")
    h = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        rel = file.relative_to(path).as_posix()
        if any(part.startswith(".") for part in rel.split("/")):
            continue
        h.update(rel.encode())
        h.update(b"\0")
        h.update(file_hash(file).encode())
    return h.hexdigest()
