"""Moving a step's data between the artifact store and the node that runs it.

A step runs against plain local directories (what a SageMaker processing script sees under
``/opt/ml/processing``): its inputs are materialised on the node before it runs, its outputs
uploaded from there when it returns. On a ``file://`` store both are free: inputs are read where
they are stored and outputs are written in place, so "uploading" only hashes them.

A step's ``source_dir`` travels the same way: its snapshot (a tar named by its hash, stored at
upsert) is fetched from the store once per node and unpacked for each attempt.
"""

from __future__ import annotations

import hashlib
import shutil
import tarfile
import tempfile
from pathlib import Path, PurePosixPath

from rayline.definition.source_dirs import SourceDirRef
from rayline.errors import BackendError, NotFoundError
from rayline.store import locations
from rayline.store.artifacts import ArtifactStore, is_local, to_path, write_atomic


def materialize_input(source: str, scratch: Path, *, store: ArtifactStore) -> Path:
    """A local path holding ``source``: the path itself when it is local, the stored tree for a
    ``file://`` store, else a download into ``scratch`` (from the store, or from an ``s3://``
    location outside it). A downloaded tree is ``scratch`` itself; a downloaded file keeps its
    own name, ``scratch/<name>`` (as a local file input does, and as SageMaker downloads it:
    ``s3://bucket/data.csv`` is ``data.csv`` to the script)."""
    source = str(source)
    if is_local(source):
        path = to_path(source)
        if not path.exists():
            raise NotFoundError(f"input {source} does not exist")
        return path
    inside = store.contains(source)
    if inside and store.local_path(source) is not None:
        return store.materialize(source, scratch)
    if locations.kind(source) == "file":
        scratch = scratch / PurePosixPath(source.rstrip("/")).name
    if inside:
        return store.materialize(source, scratch)
    return locations.download(source, scratch)


def materialize_source_dir(ref: SourceDirRef, dest: Path, *, store: ArtifactStore) -> Path:
    """Unpack the snapshot of a step's ``source_dir`` into ``dest`` (replacing what is there),
    a fresh copy per attempt since the script may write into its working directory."""
    uri = store.uri_for("code", f"{ref.sha256}.tar")
    archive = store.local_path(uri) or _node_copy(uri, ref.sha256, store)
    if not archive.is_file():
        raise NotFoundError(f"the snapshot {uri} of source_dir {ref.directory} is not stored")
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    with tarfile.open(archive) as tar:
        tar.extractall(dest, filter="data")
    return dest


def _node_copy(uri: str, sha256: str, store: ArtifactStore) -> Path:
    # Named by its content hash, the snapshot never changes: each node fetches it once.
    path = Path(tempfile.gettempdir(), "rayline-code", f"{sha256}.tar")
    if not path.is_file():
        data = store.get_bytes(uri)
        if hashlib.sha256(data).hexdigest() != sha256:
            raise BackendError(
                f"the snapshot {uri} does not hold the content its name says (sha256 "
                f"{hashlib.sha256(data).hexdigest()[:12]}); upsert the pipeline again"
            )
        write_atomic(path, data)
    return path
