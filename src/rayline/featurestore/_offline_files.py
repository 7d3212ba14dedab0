"""Where a group's offline Parquet lives, and how files get there: a local directory or an
``s3://`` prefix, both through ``pyarrow.fs``.

On a local disk a file is written beside the data directory (``<group>-<epoch>/staging``) and
renamed into place, so no reader sees a half-written file. S3 has no rename: a file is
serialised in memory first and stored as one object under a unique name, which becomes visible
only when its upload completes, whole. Readers of either see only complete files.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from rayline.errors import BackendError
from rayline.featurestore.description import FeatureGroupDescription
from rayline.store.artifacts import is_local, to_path
from rayline.store.s3 import S3Connection, split_uri

#: The hive partition columns, typed as DuckDB reads them from directory names.
PARTITION_SCHEMA = pa.schema(
    [("year", pa.int64()), ("month", pa.int64()), ("day", pa.int64()), ("hour", pa.int64())]
)


@dataclass(frozen=True)
class OfflineFiles:
    """A group's offline data directory (``.../<group>-<epoch>/data``) on a pyarrow filesystem.

    ``local`` is the directory on this machine's disk (None on S3); ``root`` is its path on
    ``fs``.
    """

    uri: str
    fs: Any
    root: str
    local: Path | None

    @classmethod
    def of(
        cls, desc: FeatureGroupDescription, *, connection: S3Connection | None = None
    ) -> OfflineFiles:
        """The offline files of ``desc``; on S3 through ``connection`` (default: the one the
        environment describes; a Ray worker is handed its connection explicitly)."""
        uri = desc.offline_store_uri
        if uri is None:
            raise BackendError(f"feature group {desc.name!r} has no offline store")
        if is_local(uri):
            import pyarrow.fs as pafs

            local = to_path(uri)
            return cls(uri=uri, fs=pafs.LocalFileSystem(), root=str(local), local=local)
        bucket, key = split_uri(uri)
        conn = connection or S3Connection.from_environment()
        return cls(uri=uri, fs=conn.filesystem(), root=f"{bucket}/{key}".rstrip("/"), local=None)

    def prepare(self) -> None:
        """Create the data directory (a local disk only: S3 has no directories)."""
        if self.local is not None:
            self.local.mkdir(parents=True, exist_ok=True)

    def parquet_files(self) -> list[tuple[str, int]]:
        """``(path on fs, size)`` of every data file, sorted (one listing on S3; none when nothing
        is written yet)."""
        if self.local is not None:
            if not self.local.is_dir():
                return []
            return [(str(p), p.stat().st_size) for p in sorted(self.local.rglob("*.parquet"))]
        import pyarrow.fs as pafs

        infos = self.fs.get_file_info(
            pafs.FileSelector(self.root, recursive=True, allow_not_found=True)
        )
        return sorted(
            (i.path, i.size)
            for i in infos
            if i.type == pafs.FileType.File and i.path.endswith(".parquet")
        )

    def write(
        self, table: pa.Table, partition: str, name: str, *, options: Mapping[str, Any]
    ) -> None:
        """Store ``table`` as ``<root>/<partition>/<name>`` (``pq.write_table`` ``options``),
        visible only once complete."""
        if self.local is not None:
            staging = self.local.parent / "staging"
            staging.mkdir(parents=True, exist_ok=True)
            tmp = staging / f"{name}.tmp"
            pq.write_table(table, tmp, **options)
            target_dir = self.local / partition
            target_dir.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, target_dir / name)
            return
        # Serialise first, then upload the bytes in one write: a failure while encoding leaves
        # nothing behind, and the object appears only when its upload completes.
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink, **options)
        data = sink.getvalue()
        path = f"{self.root}/{partition}/{name}"
        try:
            with self.fs.open_output_stream(path) as out:
                out.write(data)
        except OSError as exc:
            raise BackendError(
                f"cannot write offline file s3://{path}: {_first_line(exc)}"
            ) from exc

    def dataset(self, paths: list[str] | None, schema: pa.Schema, *, partitioned: bool):
        """A ``pyarrow.dataset`` over ``paths`` (default: every file under the root) with the
        given schema (columns a file lacks read as NULL); ``partitioned`` adds the hive
        partition columns from the directory names."""
        import pyarrow.dataset as ds

        partitioning = ds.partitioning(PARTITION_SCHEMA, flavor="hive") if partitioned else None
        full = pa.schema(list(schema) + list(PARTITION_SCHEMA)) if partitioned else schema
        return ds.dataset(
            self.root if paths is None else paths,
            schema=full,
            format="parquet",
            filesystem=self.fs,
            partitioning=partitioning,
            partition_base_dir=self.root if paths is not None else None,
        )

    def delete_files(self, paths: list[str]) -> None:
        """Remove data files (those already gone are fine)."""
        for path in paths:
            try:
                self.fs.delete_file(path)
            except FileNotFoundError:
                pass
            except OSError as exc:
                raise BackendError(
                    f"cannot delete offline file {path}: {_first_line(exc)}"
                ) from exc

    def delete_group_data(self) -> None:
        """Remove the group's whole offline directory (``<group>-<epoch>/``)."""
        if self.local is not None:
            import shutil

            shutil.rmtree(self.local.parent, ignore_errors=True)
            return
        import pyarrow.fs as pafs

        parent = self.root.rsplit("/", 1)[0]
        try:
            if self.fs.get_file_info(parent).type != pafs.FileType.NotFound:
                self.fs.delete_dir(parent)
        except OSError as exc:
            raise BackendError(
                f"cannot delete offline data s3://{parent}: {_first_line(exc)}"
            ) from exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
