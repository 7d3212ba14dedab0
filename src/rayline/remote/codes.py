"""The content-addressed code snapshots a definition names, and their upload to a server.

A step's code is stored under ``code/<sha256><suffix>`` of the artifact store: a script
(``.py``) or a ``source_dir`` archive (``.tar``) by the SHA-256 of its bytes, a pickled
function (``.pkl``) by the hash the definition records (pickling one function twice may give
other bytes). ``snapshots`` names them; the embedded ``Pipeline.upsert()`` stores them with it,
and a remote one uploads them through the server (``PUT /api/v1/code/<file>``), so the two
always agree on the names and a client needs no credentials of the object store.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rayline.errors import PipelineDefinitionError

if TYPE_CHECKING:
    from rayline.definition.pipeline import PipelineDefinition
    from rayline.remote.client import Client


@dataclass(frozen=True)
class Snapshot:
    """One code snapshot: the step that runs it, its file name under ``code/`` and its bytes."""

    step: str
    file: str
    content: bytes


def snapshots(definition: PipelineDefinition) -> list[Snapshot]:
    """The snapshots the definition's steps run, named as the runners look them up. Raises
    ``PipelineDefinitionError`` when a script or ``source_dir`` changed after its step was
    defined (its bytes no longer match the hash in the definition)."""
    found = []
    for step in definition.graph.steps.values():
        ref = step.code_ref()
        for content, suffix in step.code_snapshots():
            if suffix != ".pkl" and hashlib.sha256(content).hexdigest() != ref.sha256:
                raise PipelineDefinitionError(
                    f"step {step.name!r}: script {ref.path} changed after the step was "
                    "defined; build the pipeline again"
                )
            found.append(Snapshot(step.name, f"{ref.sha256}{suffix}", content))
    return found


def upload(client: Client, definition: PipelineDefinition) -> list[str]:
    """Upload the definition's snapshots the server does not have yet; returns the files
    uploaded (a snapshot's name says its content, so one the server has is never sent)."""
    uploaded = []
    for snapshot in snapshots(definition):
        path = f"/code/{snapshot.file}"
        if client.request("HEAD", path, allow=(404,)).status_code == 200:
            continue
        client.request(
            "PUT",
            path,
            content=snapshot.content,
            headers={"Content-Type": "application/octet-stream"},
        )
        uploaded.append(snapshot.file)
    return uploaded
