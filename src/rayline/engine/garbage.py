"""Collecting orphaned step artifacts: what attempts wrote but never committed.

Each attempt of a step writes under its own prefix, ``executions/<id>/<step>/attempt-<n>/``,
and becomes visible only when the scheduler records its manifests with the Succeeded status
(commit, then publish). An attempt that failed, was stopped or killed, or whose execution was
deleted leaves objects nothing refers to; S3 has no rename to make such writes vanish, so they
are collected here, later: every ``executions/`` prefix that no committed step run refers to
(its outputs, manifests or pickled properties) is deleted, never one of an execution that is
still running.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from rayline.engine.context import PICKLED, attempt_parts
from rayline.engine.records import StepRunRecord
from rayline.engine.repository import PipelineRepository
from rayline.store.artifacts import ArtifactStore


@dataclass(frozen=True)
class Orphan:
    """One prefix no committed step run refers to: an attempt (``attempt-<n>``) of a step of
    an execution, its files, bytes and newest modification (epoch seconds; None if unknown)."""

    uri: str
    execution_id: str
    step_name: str
    attempt: str
    files: int
    size: int
    modified_at: float | None


@dataclass(frozen=True)
class Collection:
    """What a collection found (and deleted, unless it was a dry run)."""

    orphans: tuple[Orphan, ...]
    deleted: bool
    kept: int  # prefixes kept: committed, of a running execution, or too recent

    @property
    def size(self) -> int:
        """Bytes the orphans hold."""
        return sum(o.size for o in self.orphans)


def collect_orphans(
    *,
    store: ArtifactStore,
    repository: PipelineRepository,
    older_than_s: float | None = None,
    dry_run: bool = False,
) -> Collection:
    """Delete the ``executions/`` prefixes of the store that no committed step run refers to.

    Prefixes of executions that have not ended are kept (their attempts may still commit), and
    so, with ``older_than_s``, are those modified more recently than that. ``dry_run=True``
    only reports what would be deleted.
    """
    import pyarrow.fs as pafs

    fs, root = store.filesystem(store.uri_for("executions"))
    infos = fs.get_file_info(pafs.FileSelector(root, recursive=True, allow_not_found=True))
    units: dict[tuple[str, ...], list[Any]] = {}
    for info in infos:
        if info.type != pafs.FileType.File:
            continue
        parts = tuple(info.path[len(root) + 1 :].split("/"))
        # executions/<id>/<step>/attempt-<n>/...: one attempt is collected as a whole.
        units.setdefault(parts[:3], []).append(info)

    statuses = repository.execution_statuses()
    referenced = _referenced(store, repository.committed_artifacts())
    cutoff = None if older_than_s is None else time.time() - older_than_s
    orphans: list[Orphan] = []
    kept = 0
    for unit, files in sorted(units.items()):
        uri = store.uri_for("executions", *unit)
        status = statuses.get(unit[0])
        modified = _newest(files)
        if (
            (status is not None and not status.finished)
            or _is_referenced(uri, referenced)
            or (cutoff is not None and (modified is None or modified > cutoff))
        ):
            kept += 1
            continue
        orphans.append(
            Orphan(
                uri=uri,
                execution_id=unit[0],
                step_name=unit[1] if len(unit) > 1 else "",
                attempt=unit[2] if len(unit) > 2 else "",
                files=len(files),
                size=sum(f.size or 0 for f in files),
                modified_at=modified,
            )
        )
    if not dry_run:
        for orphan in orphans:
            store.delete(orphan.uri)
        _remove_empty_dirs(store, {o.uri for o in orphans})
    return Collection(orphans=tuple(orphans), deleted=not dry_run, kept=kept)


def _referenced(store: ArtifactStore, committed: Iterable[StepRunRecord]) -> set[str]:
    uris: set[str] = set()
    for run in committed:
        if run.attempts:  # the committed attempt itself (its live log copy, code, outputs)
            uris.add(store.uri_for(*attempt_parts(run.execution_id, run.step_name, run.attempts)))
        uris.update(str(u) for u in run.outputs.values())
        uris.update(m["uri"] for m in run.manifests.values())
        uris.update(
            v[PICKLED]
            for v in run.properties.values()
            if isinstance(v, dict) and set(v) == {PICKLED}
        )
    return uris


def _is_referenced(unit_uri: str, referenced: set[str]) -> bool:
    prefix = unit_uri.rstrip("/") + "/"
    return any(
        u == unit_uri or u.startswith(prefix) or unit_uri.startswith(u + "/") for u in referenced
    )


def _newest(files: list[Any]) -> float | None:
    times = [f.mtime.timestamp() for f in files if f.mtime is not None]
    return max(times) if times else None


def _remove_empty_dirs(store: ArtifactStore, deleted: set[str]) -> None:
    # A local store keeps the folders above what was deleted: drop those left empty (object
    # stores have no folders).
    root = store.local_path(store.uri_for("executions"))
    if root is None:
        return
    for uri in deleted:
        path = store.local_path(uri)
        for parent in list(path.parents)[: len(path.relative_to(root).parts) - 1]:
            try:
                parent.rmdir()
            except OSError:
                break
