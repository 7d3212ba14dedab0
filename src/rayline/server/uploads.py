"""What a request may send: the server's upload cap (``RAYLINE_SERVER_MAX_UPLOAD_MB``), and a
body read no further than a limit. The REST routes and Studio's pages read bodies with these,
so the cap and its refusal are written once.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from rayline.config import settings
from rayline.errors import TooLargeError


def multipart_body(properties: dict[str, Any], *, required: tuple[str, ...] = ()) -> dict:
    """The ``openapi_extra`` of a route that reads a ``multipart/form-data`` body itself
    (streamed, bounded): its parts as the OpenAPI document shows them."""
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    return {
        "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": schema}}}
    }


def file_part(description: str) -> dict[str, str]:
    """A file part of a multipart body, for ``multipart_body``."""
    return {"type": "string", "format": "binary", "description": description}


def upload_limit() -> int:
    """The most bytes one upload may carry (``RAYLINE_SERVER_MAX_UPLOAD_MB``)."""
    return settings().server_max_upload_bytes


def too_large(what: str, size: int, *, fix: str) -> TooLargeError:
    """The refusal of an upload of ``size`` bytes (or more) over the cap (413)."""
    return TooLargeError(
        f"{what} is {size} bytes or more, over this server's limit of {upload_limit()} bytes "
        f"(RAYLINE_SERVER_MAX_UPLOAD_MB on the server); {fix}"
    )


def check_declared(request: Request, *, what: str, fix: str) -> None:
    """Refuse an upload whose ``Content-Length`` is over the cap before reading any of it."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > upload_limit():
        raise too_large(what, int(declared), fix=fix)


async def read_upload(request: Request, *, what: str, fix: str) -> bytes:
    """The whole body, refused (``too_large``) as soon as it is, or says it is, over the cap."""
    check_declared(request, what=what, fix=fix)
    limit = upload_limit()
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:  # a body without (or with a false) Content-Length: stop reading
            raise too_large(what, size, fix=fix)
        chunks.append(chunk)
    return b"".join(chunks)


async def read_at_most(request: Request, limit: int) -> bytes:
    """The body, but no more than ``limit`` bytes of it (the rest is left unread): pass one
    more than the domain takes, and the domain's own check refuses a longer body."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        chunks.append(chunk)
        if size >= limit:
            break
    return b"".join(chunks)[:limit]
