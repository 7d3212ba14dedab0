"""/api/v1/code: the content-addressed code snapshots steps run (what ``Pipeline.upsert()``
stores under ``code/`` of the artifact store), uploaded by a remote client before it upserts.

A snapshot's name is ``<sha256><suffix>``: a script (``.py``) or a ``source_dir`` archive
(``.tar``) is named by the SHA-256 of its bytes, which the engine checks
(``rayline.engine.api.store_code_snapshot``), so a name always holds the content it says. A
pickled function (``.pkl``) is named by the hash recorded in the definition; pickling the same
function again may give other bytes, so that name cannot be checked, and like the embedded
upsert the first upload of a name is the one kept.
"""

from __future__ import annotations

from typing import Any

import anyio
from fastapi import APIRouter, Depends, Request, Response

from rayline.auth.actions import Action
from rayline.engine import api as engine
from rayline.errors import NotFoundError
from rayline.server import uploads
from rayline.server.compat import check_client
from rayline.server.security import requires

router = APIRouter(prefix="/code", tags=["code"])


@router.head("/{file}", dependencies=[Depends(requires(Action.READ))])
def head_code(file: str) -> Response:
    """200 when the snapshot is stored, 404 when it is not (upload it with PUT)."""
    if not engine.code_snapshot_stored(file):  # 400 for a name that is not a snapshot's
        raise NotFoundError(f"code snapshot {file} is not stored; upload it with PUT /code/{file}")
    return Response(status_code=200)


@router.put(
    "/{file}",
    status_code=201,
    dependencies=[Depends(requires(Action.MANAGE_PIPELINES)), Depends(check_client)],
)
async def put_code(file: str, request: Request) -> dict[str, Any]:
    """Store the raw body as snapshot ``file`` (400 when a script's or archive's SHA-256
    differs from its name, 413 over ``RAYLINE_SERVER_MAX_UPLOAD_MB``)."""
    engine.parse_snapshot_name(file)  # 400 before the body is read
    data = await uploads.read_upload(
        request, what=f"code snapshot {file}", fix="keep a step's code and source_dir smaller"
    )
    await anyio.to_thread.run_sync(engine.store_code_snapshot, data, file)
    return {"file": file, "size": len(data)}
