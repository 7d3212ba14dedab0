"""The artifact store: files and directory trees addressed by URI, with content hashing.

One narrow interface, :class:`ArtifactStore`, with a backend per URI scheme, picked by
:func:`open_artifact_store` and imported lazily:

- ``file://`` (the embedded default, ``$RAYLINE_HOME/artifacts``): a local directory
  (``rayline.store.local_artifacts``); on a cluster, only a directory every node mounts;
- ``s3://bucket/prefix``: S3 or an S3-compatible server, on ``pyarrow.fs``
  (``rayline.store.s3_artifacts``), configured by ``rayline.store.s3``.

Code snapshots, step inputs and outputs, property files, logs, models, tuning trials and the
offline feature store live here. Both backends pass one shared suite
(``tests/integration/store/test_artifact_stores.py``).

Trees are uploaded with a :class:`Manifest`: every file's relative path, size and SHA-256, and
the tree's hash. The hash is the same as :meth:`ArtifactStore.content_hash` of the stored tree,
so a hash recorded when an output is committed never needs the bytes downloaded again.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import unquote, urlparse

from rayline.config import settings
from rayline.errors import ConfigError, NotFoundError

_CHUNK = 1 << 20


@dataclass(frozen=True)
class ManifestEntry:
    """One stored file of a tree: its path relative to the tree, size and SHA-256."""

    path: str
    size: int
    sha256: str


@dataclass(frozen=True)
class Manifest:
    """What an upload stored: the tree's (or file's) URI, its content hash and its files."""

    uri: str
    sha256: str
    entries: tuple[ManifestEntry, ...]

    @property
    def size(self) -> int:
        """Total bytes of the tree."""
        return sum(e.size for e in self.entries)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (what the metadata DB records)."""
        return {
            "uri": self.uri,
            "sha256": self.sha256,
            "entries": [[e.path, e.size, e.sha256] for e in self.entries],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Manifest:
        """The manifest ``to_dict`` wrote."""
        return cls(
            uri=data["uri"],
            sha256=data["sha256"],
            entries=tuple(ManifestEntry(p, int(s), h) for p, s, h in data["entries"]),
        )


def is_hidden(relative_path: str) -> bool:
    """Whether a path inside a tree is hidden (a part starts with '.'): in-flight temporary files,
    which are never part of a tree's content."""
    return any(part.startswith(".") for part in relative_path.split("/"))


def tree_hash(entries: Iterable[ManifestEntry]) -> str:
    """The content hash of a tree from its files (relative paths and file hashes, in path order;
    hidden files left out): what ``content_hash`` computes for a directory."""
    h = hashlib.sha256()
    for e in sorted(entries, key=lambda e: e.path):
        if is_hidden(e.path):
            continue
        h.update(e.path.encode())
        h.update(b"\0")
        h.update(e.sha256.encode())
    return h.hexdigest()


class ArtifactStore(ABC):
    """The artifact-store interface: what every backend implements.

    URIs are absolute (``file:///...`` or ``s3://bucket/...``). A "tree" is a directory of
    files; a URI names either one file or one tree.
    """

    scheme: ClassVar[str]
    uri: str  # the root

    @abstractmethod
    def uri_for(self, *parts: str) -> str:
        """The URI of ``parts`` joined under the root (nothing is created)."""

    @abstractmethod
    def put_bytes(self, data: bytes, *parts: str) -> str:
        """Store ``data`` at ``parts`` under the root, whole or not at all; returns its URI."""

    @abstractmethod
    def get_bytes(self, uri: str) -> bytes:
        """The bytes of the file at ``uri`` (``NotFoundError`` when there is none)."""

    @abstractmethod
    def exists(self, uri: str) -> bool:
        """Whether a file or a non-empty tree is stored at ``uri``."""

    @abstractmethod
    def delete(self, uri: str) -> None:
        """Remove the file or the whole tree at ``uri``, if there is one."""

    @abstractmethod
    def list_files(self, uri: str) -> list[str]:
        """Paths of the files under the tree ``uri``, relative to it, sorted, hidden files left
        out (empty if none)."""

    @abstractmethod
    def upload(self, local: Path, uri: str) -> Manifest:
        """Store the local file or directory ``local`` at ``uri``; returns its manifest."""

    @abstractmethod
    def download(self, uri: str, local: Path) -> Path:
        """Copy the file or tree at ``uri`` to ``local`` (created); returns ``local``."""

    @abstractmethod
    def content_hash(self, uri: str) -> str:
        """SHA-256 of a file's bytes, or ``tree_hash`` of a tree's files."""

    @abstractmethod
    def filesystem(self, uri: str) -> tuple[Any, str]:
        """``(pyarrow.fs.FileSystem, path)`` for reading or writing ``uri`` with pyarrow, Ray
        Data or Ray Train/Tune (``storage_filesystem``)."""

    def local_path(self, uri: str) -> Path | None:
        """The path of ``uri`` on this machine's disk, when the store is a local directory
        (None for object stores: materialise with ``download`` instead)."""
        return None

    def materialize(self, uri: str, scratch: Path) -> Path:
        """A local path holding the file or tree at ``uri``: the stored path itself for a local
        store, else a download into ``scratch``."""
        local = self.local_path(uri)
        if local is not None:
            if not local.exists():
                raise NotFoundError(f"artifact {uri} does not exist")
            return local
        return self.download(uri, scratch)

    def put_content(self, data: bytes, *, kind: str, suffix: str = "") -> tuple[str, str]:
        """Store ``data`` content-addressed under ``kind/``; returns ``(sha256, uri)``.

        Storing the same bytes twice writes once, so code snapshots cost nothing on re-upsert.
        """
        digest = hashlib.sha256(data).hexdigest()
        return digest, self.put_once(data, kind, f"{digest}{suffix}")

    def put_once(self, data: bytes, *parts: str) -> str:
        """Store ``data`` at ``parts`` unless something is stored there already; returns its URI.

        For names that identify their content (code snapshots): what is stored under such a name
        never changes, so this process remembers the names it has seen stored and does not ask
        the store again (one request less per step and upsert on an object store).
        """
        uri = self.uri_for(*parts)
        if uri in _known_stored:
            return uri
        if not self.exists(uri):
            self.put_bytes(data, *parts)
        _known_stored.add(uri)
        return uri

    def contains(self, uri: str) -> bool:
        """Whether ``uri`` lies under this store's root."""
        root = self.uri.rstrip("/") + "/"
        return uri == self.uri or uri.startswith(root)


_known_stored: set[str] = set()


def open_artifact_store(uri: str | None = None) -> ArtifactStore:
    """The artifact store at ``uri`` (default: ``RAYLINE_ARTIFACT_URI``); an ``s3://`` store's
    bucket and credentials are checked once per process, with one clear error."""
    explicit = uri is not None
    uri = uri or settings().artifact_uri
    scheme = urlparse(uri).scheme
    if scheme in ("", "file") or _is_windows_drive(scheme):
        from rayline.store.local_artifacts import LocalArtifactStore

        return LocalArtifactStore(uri)
    if scheme == "s3":
        from rayline.store.s3_artifacts import S3ArtifactStore

        return S3ArtifactStore(uri, setting="artifact URI" if explicit else "RAYLINE_ARTIFACT_URI")
    raise ConfigError(
        f"RAYLINE_ARTIFACT_URI {uri!r}: the {scheme!r} scheme is not supported; use a local "
        "directory (file://...) or s3://bucket/prefix"
    )


def filesystem_for(uri: str | os.PathLike[str]) -> tuple[Any, str]:
    """``(pyarrow.fs.FileSystem, path)`` for any file or s3 URI (or plain path), for readers of
    data that may live outside the artifact store (a user's ``s3://`` input, a local CSV)."""
    uri = str(uri)
    scheme = urlparse(uri).scheme
    if scheme == "s3":
        from rayline.store.s3 import S3Connection, split_uri

        bucket, key = split_uri(uri)
        return S3Connection.from_environment().filesystem(), f"{bucket}/{key}".rstrip("/")
    import pyarrow.fs as pafs

    return pafs.LocalFileSystem(), str(to_path(str(uri)).resolve())  # pyarrow wants absolute


def is_local(uri: str) -> bool:
    """Whether ``uri`` is a local path or ``file://`` URI."""
    scheme = urlparse(str(uri)).scheme
    return scheme in ("", "file") or _is_windows_drive(scheme)


def to_path(uri_or_path: str) -> Path:
    """A local path from a ``file://`` URI or a plain path (``ConfigError`` for other schemes:
    use the artifact store's ``materialize`` or ``filesystem_for`` for those)."""
    parsed = urlparse(str(uri_or_path))
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    if parsed.scheme and not _is_windows_drive(parsed.scheme):
        raise ConfigError(f"{uri_or_path!r} is not a local path or file:// URI")
    return Path(uri_or_path).expanduser()


def _is_windows_drive(scheme: str) -> bool:
    return len(scheme) == 1


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


def local_entries(path: Path) -> tuple[ManifestEntry, ...]:
    """The manifest entries of a local file (one entry, path ``""``) or directory tree (hidden
    files left out)."""
    if path.is_file():
        return (ManifestEntry("", path.stat().st_size, file_hash(path)),)
    if not path.is_dir():
        raise NotFoundError(f"cannot hash {path}: it does not exist")
    files = ((f.relative_to(path).as_posix(), f) for f in sorted(path.rglob("*")) if f.is_file())
    return tuple(
        ManifestEntry(rel, f.stat().st_size, file_hash(f)) for rel, f in files if not is_hidden(rel)
    )


def manifest_of(path: Path, uri: str) -> Manifest:
    """The manifest of the local file or tree ``path``, to be stored at ``uri``."""
    entries = local_entries(path)
    digest = entries[0].sha256 if path.is_file() else tree_hash(entries)
    return Manifest(uri=uri, sha256=digest, entries=entries)


def content_hash(path: Path) -> str:
    """Content hash of a local file or directory tree (names and bytes; hidden files excluded)."""
    return manifest_of(path, path.as_uri() if path.is_absolute() else str(path)).sha256


def copy_tree(src: Path, dst: Path) -> None:
    """Copy the file or tree ``src`` to ``dst`` (hidden files left out), replacing what was
    there."""
    if dst.exists():
        shutil.rmtree(dst) if dst.is_dir() else dst.unlink()
    dst.parent.mkdir(parents=True, exist_ok=True)
    if src.is_dir():
        shutil.copytree(src, dst, ignore=shutil.ignore_patterns(".*"))
    else:
        shutil.copy2(src, dst)
