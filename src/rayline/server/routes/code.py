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
from rayline.config import settings
from rayline.errors import NotFoundError, TooLargeError, UserInputError
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
    from rayline.store.artifacts import open_artifact_store

    store = open_artifact_store()
    if not store.exists(store.uri_for("code", file)):
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
    limit = settings().server_max_upload_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(file, int(declared), limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:  # a body without (or with a false) Content-Length: stop reading
            raise _too_large(file, size, limit)
        chunks.append(chunk)
    data = b"".join(chunks)
    if suffix != ".pkl":
        actual = hashlib.sha256(data).hexdigest()
        if actual != sha:
            raise UserInputError(
                f"code snapshot {file}: the body's SHA-256 is {actual}, not the {sha} its name "
                "says; upload the file's exact bytes under the name of their hash"
            )
    await anyio.to_thread.run_sync(_store, data, file)
    return {"file": file, "size": len(data)}


def _store(data: bytes, file: str) -> str:
    from rayline.store.artifacts import open_artifact_store

    # As Pipeline.upsert does: the first snapshot stored under a name stays.
    return open_artifact_store().put_once(data, "code", file)


def _too_large(file: str, size: int, limit: int) -> TooLargeError:
    return TooLargeError(
        f"code snapshot {file} is {size} bytes, over this server's limit of {limit} bytes "
        "(RAYLINE_SERVER_MAX_UPLOAD_MB on the server)"
    )
