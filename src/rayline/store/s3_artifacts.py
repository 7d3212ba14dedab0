"""The ``s3://bucket/prefix`` artifact store, on ``pyarrow.fs.S3FileSystem``.

S3 has no rename and no directories: a file is one object, written whole or not at all (an
upload becomes visible only when it completes); a tree is the objects under a prefix. What makes
a tree "committed" is the engine's record of its manifest, not anything stored here.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from rayline.errors import BackendError, NotFoundError
from rayline.store.artifacts import (
    _CHUNK,
    ArtifactStore,
    Manifest,
    ManifestEntry,
    is_hidden,
    manifest_of,
    tree_hash,
)
from rayline.store.s3 import S3Connection, check_bucket, split_uri

_UPLOAD_THREADS = 8


class S3ArtifactStore(ArtifactStore):
    """An artifact store under ``s3://bucket/prefix`` (S3 or an S3-compatible server)."""

    scheme = "s3"

    def __init__(
        self,
        root: str,
        *,
        connection: S3Connection | None = None,
        setting: str = "RAYLINE_ARTIFACT_URI",
    ) -> None:
        self.bucket, prefix = split_uri(root)
        self.prefix = prefix.strip("/")
        self.uri = f"s3://{self.bucket}/{self.prefix}".rstrip("/")
        self.connection = connection or S3Connection.from_environment()
        check_bucket(self.connection, self.bucket, setting=setting)
        self.fs = self.connection.filesystem()

    def uri_for(self, *parts: str) -> str:
        return "/".join([self.uri, *(p.strip("/") for p in parts if p)])

    def _key(self, uri: str) -> str:
        bucket, key = split_uri(uri)
        return f"{bucket}/{key}".rstrip("/")

    def put_bytes(self, data: bytes, *parts: str) -> str:
        uri = self.uri_for(*parts)
        with _errors(uri, "write"), self.fs.open_output_stream(self._key(uri)) as out:
            out.write(data)
        return uri

    def get_bytes(self, uri: str) -> bytes:
        # A random-access file knows its size (one HEAD) and reads it in one ranged GET; a
        # stream's unsized read() is about 10x slower for a 10 MB object. A missing object (or
        # a prefix) raises FileNotFoundError, which _errors turns into NotFoundError.
        with _errors(uri, "read"), self.fs.open_input_file(self._key(uri)) as f:
            return f.read()

    def exists(self, uri: str) -> bool:
        import pyarrow.fs as pafs

        with _errors(uri, "look up"):
            return self.fs.get_file_info(self._key(uri)).type != pafs.FileType.NotFound

    def delete(self, uri: str) -> None:
        import pyarrow.fs as pafs

        key = self._key(uri)
        with _errors(uri, "delete"):
            kind = self.fs.get_file_info(key).type
            if kind == pafs.FileType.File:
                self.fs.delete_file(key)
            elif kind == pafs.FileType.Directory:
                self.fs.delete_dir(key)

    def list_files(self, uri: str) -> list[str]:
        return sorted(rel for rel, _ in self._files(uri) if not is_hidden(rel))

    def _files(self, uri: str) -> list[tuple[str, int]]:
        import pyarrow.fs as pafs

        key = self._key(uri)
        with _errors(uri, "list"):
            infos = self.fs.get_file_info(
                pafs.FileSelector(key, recursive=True, allow_not_found=True)
            )
        return [
            (info.path[len(key) + 1 :], info.size)
            for info in infos
            if info.type == pafs.FileType.File
        ]

    def upload(self, local: Path, uri: str) -> Manifest:

        local = Path(local)
        manifest = manifest_of(local, uri)  # hashed from the local bytes: no second download
        key = self._key(uri)
        with _errors(uri, "upload to"):
            self.delete(uri)  # the stored tree is exactly the manifest's files
            if local.is_file():
                self._put_file(local, key)
            else:
                # Objects are uploaded in parallel: S3 latency, not bandwidth, is the cost.
                with ThreadPoolExecutor(max_workers=_UPLOAD_THREADS) as pool:
                    list(
                        pool.map(
                            lambda e: self._put_file(local / e.path, f"{key}/{e.path}"),
                            manifest.entries,
                        )
                    )
        return manifest

    def _put_file(self, local: Path, key: str) -> None:
        with local.open("rb") as src, self.fs.open_output_stream(key) as out:
            while chunk := src.read(_CHUNK):
                out.write(chunk)

    def download(self, uri: str, local: Path) -> Path:
        import pyarrow.fs as pafs

        local = Path(local)
        key = self._key(uri)
        with _errors(uri, "download"):
            is_file = self._stored_type(uri, key) == pafs.FileType.File
            (local.parent if is_file else local).mkdir(parents=True, exist_ok=True)
            pafs.copy_files(
                key,
                str(local.resolve()),
                source_filesystem=self.fs,
                destination_filesystem=pafs.LocalFileSystem(),
                use_threads=True,
            )
        return local

    def content_hash(self, uri: str) -> str:
        import pyarrow.fs as pafs

        key = self._key(uri)
        with _errors(uri, "hash"):
            if self._stored_type(uri, key) == pafs.FileType.File:
                return self._object_hash(key)
            return tree_hash(
                ManifestEntry(rel, size, self._object_hash(f"{key}/{rel}"))
                for rel, size in self._files(uri)
            )

    def _stored_type(self, uri: str, key: str) -> Any:
        """Whether ``uri`` is a file or a tree (a ``pyarrow.fs.FileType``); ``NotFoundError``
        when nothing is stored there."""
        import pyarrow.fs as pafs

        kind = self.fs.get_file_info(key).type
        if kind == pafs.FileType.NotFound:
            raise NotFoundError(f"artifact {uri} does not exist")
        return kind

    def _object_hash(self, key: str) -> str:
        h = hashlib.sha256()
        with self.fs.open_input_stream(key) as f:
            while chunk := f.read(_CHUNK):
                h.update(chunk)
        return h.hexdigest()

    def filesystem(self, uri: str) -> tuple[Any, str]:
        return self.fs, self._key(uri)


@contextlib.contextmanager
def _errors(uri: str, action: str) -> Iterator[None]:
    """Turn pyarrow's S3 ``OSError`` into a ``BackendError`` (or ``NotFoundError``) naming the
    artifact, instead of a stack trace from inside pyarrow."""
    try:
        yield
    except FileNotFoundError:
        raise NotFoundError(f"artifact {uri} does not exist") from None
    except OSError as exc:
        text = str(exc).strip().splitlines()
        raise BackendError(
            f"cannot {action} {uri}: {text[0] if text else type(exc).__name__}"
        ) from exc
