"""Pagination of list routes: ``?limit=N&next_token=T`` in, ``{"items": [...], "next_token": T}``
out (``next_token`` null on the last page). The token is opaque to clients: the offset of the
next page, encoded."""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel

from rayline.errors import UserInputError

T = TypeVar("T")

MAX_LIMIT = 1000


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_token: str | None = None


class PageRequest(BaseModel):
    limit: int
    offset: int


def page_request(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="items per page")] = 100,
    next_token: Annotated[
        str | None, Query(description="the previous page's next_token", max_length=64)
    ] = None,
) -> PageRequest:
    """A route's page (``Depends(page_request)``)."""
    return PageRequest(limit=limit, offset=_offset(next_token))


def paginate(request: PageRequest, fetch: Callable[[int, int], Sequence[Any]]) -> dict[str, Any]:
    """One page: ``fetch(offset, limit + 1)`` returns up to one item more than the page, which
    tells whether another page follows."""
    rows = list(fetch(request.offset, request.limit + 1))
    more = len(rows) > request.limit
    token = _token(request.offset + request.limit) if more else None
    return {"items": rows[: request.limit], "next_token": token}


def paginate_list(request: PageRequest, items: Sequence[Any]) -> dict[str, Any]:
    """One page of a list already in memory."""
    return paginate(request, lambda offset, n: items[offset : offset + n])


def _token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode().rstrip("=")


def _offset(token: str | None) -> int:
    if not token:
        return 0
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        kind, _, value = text.partition(":")
        offset = int(value)
        if kind != "o" or offset < 0:
            raise ValueError
    except ValueError:
        raise UserInputError(
            f"next_token {token!r} is not one this server gave; pass the next_token of the "
            "previous page, or none for the first"
        ) from None
    return offset
