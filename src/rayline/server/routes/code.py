"""/api/v1/code: the content-addressed code snapshots steps run (what ``Pipeline.upsert()``
stores under ``code/`` of the artifact store), uploaded by a remote client before it upserts.

A snapshot's name is ``<sha256><suffix>``: a script (``.py``) or a ``source_dir`` archive
(``.tar``) is named by the SHA-256 of its bytes, which the server checks, so a name always holds
the content it says. A pickled function (``.pkl``) is named by the hash recorded in the
definition; pickling the same function again may give other bytes, so that name cannot be
checked, and like the embedded upsert the first upload of a name is the one kept.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import anyio
from fastapi import APIRouter, Depends, Request, Response

from rayline.auth.actions import Action
from rayline.engine import api as engine
from rayline.errors import NotFoundError, UserInputError
from rayline.server import uploads
from rayline.server.compat import check_client
from rayline.server.security import requires

router = APIRouter(prefix="/code", tags=["code"])

#: ``<sha256><suffix>``: the names ``Pipeline.upsert()`` stores snapshots under.
NAME = re.compile(r"^(?P<sha>[0-9a-f]{64})(?P<suffix>\.(?:pkl|py|tar))$")


def _parse(file: str) -> tuple[str, str]:
    match = NAME.match(file)
    if match is None:
        raise UserInputError(
            f"code snapshot name {file!r} is not '<sha256><suffix>': 64 lowercase hex digits "
            "and .pkl (a pickled function), .py (a script) or .tar (a source_dir archive)"
        )
    return match["sha"], match["suffix"]


@router.head("/{file}", dependencies=[Depends(requires(Action.READ))])
def head_code(file: str) -> Response:
    """200 when the snapshot is stored, 404 when it is not (upload it with PUT)."""
    _parse(file)
    if not engine.code_snapshot_stored(file):
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
    sha, suffix = _parse(file)
    data = await uploads.read_upload(
        request, what=f"code snapshot {file}", fix="keep a step's code and source_dir smaller"
    )
    if suffix != ".pkl":
        actual = hashlib.sha256(data).hexdigest()
        if actual != sha:
            raise UserInputError(
                f"code snapshot {file}: the body's SHA-256 is {actual}, not the {sha} its name "
                "says; upload the file's exact bytes under the name of their hash"
            )
    await anyio.to_thread.run_sync(engine.store_code_snapshot, data, file)
    return {"file": file, "size": len(data)}
