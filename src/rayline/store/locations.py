"""Files and trees at any location: a local path, a ``file://`` URI or an ``s3://`` URI, inside the
artifact store or not (a user's own bucket, a step's committed output, a model in the registry).

The artifact store (``rayline.store.artifacts``) manages what lives under its root; these
functions read and write any location through the one S3 configuration (``filesystem_for``), so
ML code, the registry, endpoints and the engine share one implementation. Local locations are
used in place: nothing is copied that need not be.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from rayline.errors import NotFoundError
from rayline.store.artifacts import (
    _CHUNK,
    Manifest,
    ManifestEntry,
    filesystem_for,
    is_hidden,
    is_local,
    manifest_of,
    to_path,
    tree_hash,
    write_atomic,
)


@dataclass(frozen=True)
class StoredFile:
    """One file of a tree: its path relative to the tree, and its size in bytes."""

    path: str
    size: int


def is_remote(location: str | Path) -> bool:
    """Whether ``location`` is in an object store (``s3://``) rather than on a local disk."""
    return not isinstance(location, Path) and not is_local(str(location))


def join(location: str, relative: str) -> str:
    """``relative`` under the tree ``location``."""
    return f"{location.rstrip('/')}/{relative}" if relative else location


def kind(location: str | Path) -> Literal["file", "dir", "missing"]:
    """What is at ``location``: a file, a tree, or nothing."""
    import pyarrow.fs as pafs

    fs, path = filesystem_for(location)
    found = fs.get_file_info(path).type
    if found == pafs.FileType.File:
        return "file"
    return "dir" if found == pafs.FileType.Directory else "missing"


def list_files(location: str | Path) -> list[StoredFile]:
    """The files under the tree ``location``, sorted by path, hidden files left out."""
    import pyarrow.fs as pafs

    fs, path = filesystem_for(location)
    infos = fs.get_file_info(pafs.FileSelector(path, recursive=True, allow_not_found=True))
    files = (
        StoredFile(info.path[len(path) + 1 :], info.size)
        for info in infos
        if info.type == pafs.FileType.File
    )
    return sorted((f for f in files if not is_hidden(f.path)), key=lambda f: f.path)


def read_bytes(location: str | Path) -> bytes:
    """The bytes of the file at ``location`` (``NotFoundError`` when there is none)."""
    if not is_remote(location):
        path = to_path(str(location))
        if not path.is_file():
            raise NotFoundError(f"file {location} does not exist")
        return path.read_bytes()
    fs, path = filesystem_for(location)
    try:
        # A random-access file reads its size first and fetches it whole; a stream read with
        # no size is about 10x slower on S3.
        with fs.open_input_file(path) as f:
            return f.read()
    except FileNotFoundError:
        raise NotFoundError(f"file {location} does not exist") from None


def write_bytes(location: str | Path, data: bytes) -> None:
    """Write ``data`` at ``location``, whole or not at all (an object is stored whole; a local
    file through a temporary file and a rename)."""
    if not is_remote(location):
        write_atomic(to_path(str(location)), data)
        return
    fs, path = filesystem_for(location)
    with fs.open_output_stream(path) as out:
        out.write(data)


def download(location: str | Path, target: Path) -> Path:
    """Copy the file or tree at ``location`` to the local ``target``; returns ``target``."""
    import pyarrow.fs as pafs

    found = kind(location)
    if found == "missing":
        raise NotFoundError(f"{location} does not exist; check the URI (and the bucket's contents)")
    target = Path(target)
    (target if found == "dir" else target.parent).mkdir(parents=True, exist_ok=True)
    fs, path = filesystem_for(location)
    pafs.copy_files(
        path,
        str(target.resolve()),
        source_filesystem=fs,
        destination_filesystem=pafs.LocalFileSystem(),
        use_threads=True,
    )
    return target


def upload(local: Path, location: str) -> None:
    """Copy the local file or tree ``local`` to ``location`` (every file: the caller writes only
    what belongs there)."""
    import pyarrow.fs as pafs

    fs, path = filesystem_for(location)
    pafs.copy_files(
        str(Path(local).resolve()),
        path,
        source_filesystem=pafs.LocalFileSystem(),
        destination_filesystem=fs,
        use_threads=True,
    )


def manifest(location: str) -> Manifest:
    """The manifest of the file or tree stored at ``location``, hashed where it is (for an
    object store that reads every byte once)."""
    if not is_remote(location):
        return manifest_of(to_path(location), location)
    fs, path = filesystem_for(location)
    found = kind(location)
    if found == "missing":
        raise NotFoundError(f"{location} does not exist")
    if found == "file":
        entry = ManifestEntry("", fs.get_file_info(path).size, _object_hash(fs, path))
        return Manifest(uri=location, sha256=entry.sha256, entries=(entry,))
    entries = tuple(
        ManifestEntry(f.path, f.size, _object_hash(fs, f"{path}/{f.path}"))
        for f in list_files(location)
    )
    return Manifest(uri=location, sha256=tree_hash(entries), entries=entries)


def _object_hash(fs: Any, path: str) -> str:
    h = hashlib.sha256()
    with fs.open_input_stream(path) as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()
