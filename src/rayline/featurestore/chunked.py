"""An ingestion that arrives in chunks: begin, add chunks (Parquet files, in order), then commit
them as ONE ingestion, or abort.

This is how an input larger than the server's upload cap (``RAYLINE_SERVER_MAX_UPLOAD_MB``)
goes through the server (``rayline.featurestore.remote``). Chunks are staged in the artifact
store under ``feature-store-staging/<group>/<ingestion id>/``, outside every group's offline
store, so no reader sees them. The commit ingests the staged chunks in their order with
``FeatureGroup.ingest`` (a Parquet directory): that ingestion's own commit makes every row
visible at once, and rejected rows are numbered across the whole input. Abort, or a commit that
fails, removes the staging; a client that vanishes mid-way leaves staged files, never rows.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rayline.errors import ConflictError, NotFoundError
from rayline.store.artifacts import ArtifactStore, open_artifact_store

if TYPE_CHECKING:
    from rayline.featurestore.group import FeatureGroup
    from rayline.featurestore.report import IngestionReport

STAGING = "feature-store-staging"
#: Written at begin; the leading underscore keeps Parquet readers from taking it for data.
_BEGUN = "_begun.json"
#: An ingestion id, as ``begin`` makes them (routes check the ones they are given).
ID_PATTERN = r"^[0-9a-f]{32}$"


def begin(group: FeatureGroup, *, artifact_uri: str | None = None) -> str:
    """Start a chunked ingestion into ``group`` (which must exist); returns its id."""
    group.description  # noqa: B018 - NotFoundError before anything is staged
    ingest_id = uuid.uuid4().hex
    marker = json.dumps({"feature_group": group.name, "began_at": time.time()}).encode()
    open_artifact_store(artifact_uri).put_bytes(marker, STAGING, group.name, ingest_id, _BEGUN)
    return ingest_id


def add_chunk(
    group: FeatureGroup, ingest_id: str, seq: int, chunk: Path, *, artifact_uri: str | None = None
) -> None:
    """Stage Parquet file ``chunk`` as chunk number ``seq`` (0, 1, ...) of the ingestion; sent
    again, a chunk replaces the one of the same number."""
    store = open_artifact_store(artifact_uri)
    staging = _staging(store, group.name, ingest_id)
    store.upload(chunk, f"{staging}/{_chunk_name(seq)}")


def commit(
    group: FeatureGroup,
    ingest_id: str,
    *,
    chunks: int,
    max_workers: int | None = None,
    target_stores: Sequence[str] | None = None,
    ttl_seconds: float | None = None,
    artifact_uri: str | None = None,
) -> IngestionReport:
    """Ingest the ``chunks`` staged chunks as one ingestion (``ConflictError`` when the staged
    chunks are not exactly 0 .. chunks-1), then remove the staging, whatever happened."""
    store = open_artifact_store(artifact_uri)
    staging = _staging(store, group.name, ingest_id)
    staged = [f for f in store.list_files(staging) if f.startswith("chunk-")]
    expected = [_chunk_name(i) for i in range(chunks)]
    if staged != expected:
        missing = sorted(set(expected) - set(staged))
        extra = sorted(set(staged) - set(expected))
        raise ConflictError(
            f"ingestion {ingest_id} of {group.name!r} cannot commit {chunks} chunk(s): "
            f"{len(staged)} are staged (missing: {missing[:5] or 'none'}, unexpected: "
            f"{extra[:5] or 'none'}); upload the missing chunks and commit again, or abort it"
        )
    try:
        local = store.local_path(staging)
        return group.ingest(
            str(local) if local is not None else staging,
            max_workers=max_workers,
            target_stores=target_stores,
            ttl_seconds=ttl_seconds,
        )
    finally:
        store.delete(staging)


def abort(group_name: str, ingest_id: str, *, artifact_uri: str | None = None) -> None:
    """Remove what the ingestion staged (nothing of it was ever visible)."""
    store = open_artifact_store(artifact_uri)
    store.delete(store.uri_for(STAGING, group_name, ingest_id))


def _staging(store: ArtifactStore, group_name: str, ingest_id: str) -> str:
    """The ingestion's staging URI (``NotFoundError`` when it was never begun, or is over)."""
    staging = store.uri_for(STAGING, group_name, ingest_id)
    if not store.exists(f"{staging}/{_BEGUN}"):
        raise NotFoundError(
            f"feature group {group_name!r} has no chunked ingestion {ingest_id} in progress (it "
            "was never begun, or has committed or been aborted); begin a new one"
        )
    return staging


def _chunk_name(seq: int) -> str:
    return f"chunk-{seq:08d}.parquet"
