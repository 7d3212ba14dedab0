"""/api/v1/tokens: the server's API tokens (admin). A created token's secret is in the
response of its creation only; the server keeps its hash."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field

from rayline.auth import tokens
from rayline.auth.actions import Action
from rayline.auth.roles import Role
from rayline.server.pagination import PageRequest, page_request, paginate
from rayline.server.security import Identity, requires

router = APIRouter(tags=["tokens"], dependencies=[Depends(requires(Action.MANAGE_TOKENS))])


class TokenCreate(BaseModel):
    """A new token: a name unique among the active tokens, and a role."""

    name: str = Field(min_length=1, max_length=256, examples=["alice"])
    role: str = Field(examples=["viewer", "operator", "approver", "admin"])


@router.get("/tokens")
def list_tokens(
    page: Annotated[PageRequest, Depends(page_request)],
    active_only: Annotated[bool, Query(description="leave out revoked tokens")] = False,
) -> dict[str, Any]:
    result = paginate(
        page,
        lambda offset, n: tokens.list_tokens(
            include_revoked=not active_only, offset=offset, limit=n
        ),
    )
    result["items"] = [t.to_dict() for t in result["items"]]
    return result


@router.post("/tokens", status_code=201)
def create_token(
    body: TokenCreate, identity: Annotated[Identity, Depends(requires(Action.MANAGE_TOKENS))]
) -> dict[str, Any]:
    """The token and its ``secret`` (shown this once)."""
    record, secret = tokens.create_token(
        name=body.name, role=Role.parse(body.role), created_by=identity.name
    )
    return {"token": record.to_dict(), "secret": secret}


@router.get("/tokens/{token_id}")
def get_token(token_id: str) -> dict[str, Any]:
    return tokens.get_token(token_id).to_dict()


@router.delete("/tokens/{token_id}", status_code=204)
def revoke_token(token_id: str) -> Response:
    """Revoke the token (it stops working at once on this server); its record stays."""
    tokens.get_token(token_id)  # 404 for an unknown id
    tokens.revoke_token(token_id)
    return Response(status_code=204)
