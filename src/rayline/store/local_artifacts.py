"""The ``file://`` artifact store: a local directory (the embedded default).

On one machine every Ray worker sees it; on a cluster, only a directory every node mounts will
do (``s3://`` is the store for nodes that share no disk).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from rayline.errors import NotFoundError
from rayline.store.artifacts import (
    ArtifactStore,
    Manifest,
    content_hash,
    copy_tree,
    is_hidden,
    manifest_of,
    to_path,
    write_atomic,
)


class LocalArtifactStore(ArtifactStore):
    """An artifact store rooted at a local directory (a ``file://`` URI or a path)."""

    scheme = "file"

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = to_path(str(root)).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.uri = self.root.as_uri()

    def uri_for(self, *parts: str) -> str:
        return self.root.joinpath(*parts).as_uri()

    def local_path(self, uri: str) -> Path:
        return to_path(uri)

    def put_bytes(self, data: bytes, *parts: str) -> str:
        target = self.root.joinpath(*parts)
        write_atomic(target, data)
        return target.as_uri()

    def get_bytes(self, uri: str) -> bytes:
        path = self.local_path(uri)
        if not path.is_file():
            raise NotFoundError(f"artifact {uri} does not exist")
        return path.read_bytes()

    def exists(self, uri: str) -> bool:
        path = self.local_path(uri)
        return path.is_file() or (path.is_dir() and any(path.iterdir()))

    def delete(self, uri: str) -> None:
        path = self.local_path(uri)
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        elif path.exists():
            path.unlink()

    def list_files(self, uri: str) -> list[str]:
        path = self.local_path(uri)
        if not path.is_dir():
            return []
        files = (p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file())
        return sorted(rel for rel in files if not is_hidden(rel))

    def upload(self, local: Path, uri: str) -> Manifest:
        target = self.local_path(uri)
        if target.resolve() != Path(local).resolve():
            # Copy beside the target, then rename: no reader sees a half-copied tree.
            staging = target.with_name(f".{target.name}.{os.getpid()}.staging")
            copy_tree(Path(local), staging)
            if target.exists():
                shutil.rmtree(target) if target.is_dir() else target.unlink()
            os.replace(staging, target)
        return manifest_of(target, uri)

    def download(self, uri: str, local: Path) -> Path:
        source = self.local_path(uri)
        if not source.exists():
            raise NotFoundError(f"artifact {uri} does not exist")
        copy_tree(source, Path(local))
        return Path(local)

    def content_hash(self, uri: str) -> str:
        return content_hash(self.local_path(uri))

    def filesystem(self, uri: str) -> tuple[Any, str]:
        import pyarrow.fs as pafs

        path = self.local_path(uri)
        # S3 has no folders, so writers through pyarrow never create them: create the parent.
        path.parent.mkdir(parents=True, exist_ok=True)
        return pafs.LocalFileSystem(), str(path)
