"""/api/v1/audit: who changed what, newest first (admin)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from rayline.auth import audit
from rayline.auth.actions import Action
from rayline.errors import UserInputError
from rayline.server.pagination import PageRequest, page_request, paginate
from rayline.server.security import requires

router = APIRouter(tags=["audit"], dependencies=[Depends(requires(Action.READ_AUDIT))])


@router.get("/audit")
def list_audit(
    page: Annotated[PageRequest, Depends(page_request)],
    identity: Annotated[str | None, Query(description="only this identity's requests")] = None,
    since: Annotated[
        str | None,
        Query(description="only requests from then on: a Unix time or ISO 8601 (UTC if no zone)"),
    ] = None,
) -> dict[str, Any]:
    start = _instant(since)
    result = paginate(
        page,
        lambda offset, n: audit.list_audit(identity=identity, since=start, offset=offset, limit=n),
    )
    result["items"] = [asdict(r) for r in result["items"]]
    return result


def _instant(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UserInputError(
            f"since={text!r} is neither a Unix time nor an ISO 8601 time; "
            "write e.g. since=2026-12-01T09:00:00Z or since=1796200000"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()
