"""Moving a step's data between the artifact store and the node that runs it.

A step runs against plain local directories (what a SageMaker processing script sees under
``/opt/ml/processing``): its inputs are materialised on the node before it runs, its outputs
uploaded from there when it returns. On a ``file://`` store both are free: inputs are read where
they are stored and outputs are written in place, so "uploading" only hashes them.
"""

from __future__ import annotations

from pathlib import Path

from rayline.errors import NotFoundError
from rayline.store import locations
from rayline.store.artifacts import ArtifactStore, is_local, to_path


def materialize_input(source: str, scratch: Path, *, store: ArtifactStore) -> Path:
    """A local path holding ``source``: the path itself when it is local, the stored tree for a
    ``file://`` store, else a download into ``scratch`` (from the store, or from an ``s3://``
    location outside it)."""
    source = str(source)
    if is_local(source):
        path = to_path(source)
        if not path.exists():
            raise NotFoundError(f"input {source} does not exist")
        return path
    if store.contains(source):
        return store.materialize(source, scratch)
    return locations.download(source, scratch)
