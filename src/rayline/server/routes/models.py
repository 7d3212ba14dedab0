"""/api/v1/model-package-groups: the model registry. Groups and their versions (with metrics
and approval history), and approving or rejecting a version.

Reads need the viewer role; approve and reject the approver role. The registry records the
authenticated identity (the token's name, which the request acts as) as who made a change,
never text the caller sends, and applies its approval rules (``ModelRegistry.update_status``):
four eyes (403) and a reason for a rejection.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field, field_validator

from rayline.auth.actions import Action
from rayline.server.pagination import PageRequest, page_request, paginate_list
from rayline.server.routes import MAX_INT
from rayline.server.security import requires

router = APIRouter(prefix="/model-package-groups", tags=["model registry"])

VIEWER = [Depends(requires(Action.READ))]

GroupName = Annotated[str, Path(min_length=1, max_length=200)]
Version = Annotated[int, Path(ge=1, le=MAX_INT)]


class ApproveBody(BaseModel):
    """``POST .../approve``: why (optional)."""

    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(default=None, max_length=10_000)


class RejectBody(BaseModel):
    """``POST .../reject``: why (required: whoever registered it needs to know)."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=10_000)

    @field_validator("reason")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        # The registry's own rule, so a blank reason is refused in the request's schema (422).
        from rayline.registry.entities import rejection_reason

        rejection_reason(value)
        return value


def _registry() -> Any:
    from rayline.registry import ModelRegistry

    return ModelRegistry()


def package_dict(package: Any) -> dict[str, Any]:
    """A version as JSON: its fields, ``ref`` (``group/version``) and ``arn``."""
    return {**dataclasses.asdict(package), "ref": package.ref, "arn": package.arn}


@router.get("", dependencies=VIEWER)
def list_groups(page: Annotated[PageRequest, Depends(page_request)]) -> dict[str, Any]:
    """Model package groups by name, each with its version count and latest version."""
    return paginate_list(page, [dataclasses.asdict(g) for g in _registry().list_groups()])


@router.get("/{group}", dependencies=VIEWER)
def describe_group(group: GroupName) -> dict[str, Any]:
    return dataclasses.asdict(_registry().describe_group(group))


@router.get("/{group}/versions", dependencies=VIEWER)
def list_versions(
    group: GroupName,
    page: Annotated[PageRequest, Depends(page_request)],
    status: Annotated[
        str | None,
        Query(max_length=64, description="PendingManualApproval (or pending), Approved, Rejected"),
    ] = None,
) -> dict[str, Any]:
    """The group's versions, newest first (only those in ``status``), with their metrics."""
    versions = _registry().list_versions(group, status=status)
    return paginate_list(page, [package_dict(v) for v in versions])


@router.get("/{group}/versions/{version}", dependencies=VIEWER)
def describe_version(group: GroupName, version: Version) -> dict[str, Any]:
    """A version: its files, metrics (the evaluation report), inference spec, where it was
    registered from and its approval history."""
    return package_dict(_registry().describe(group, version))


@router.get("/{group}/versions/{version}/history", dependencies=VIEWER)
def version_history(group: GroupName, version: Version) -> list[dict[str, Any]]:
    """Every approval change of the version, oldest first: from, to, when, by whom, why."""
    return [dataclasses.asdict(h) for h in _registry().history(group, version)]


@router.post(
    "/{group}/versions/{version}/approve", dependencies=[Depends(requires(Action.APPROVE))]
)
def approve_version(
    group: GroupName, version: Version, body: ApproveBody | None = None
) -> dict[str, Any]:
    """Approve the version as the caller (409 when it is Approved already; 403 when the caller
    started the execution that registered it: the registry's four-eyes rule)."""
    reason = (body.reason if body else None) or ""
    return package_dict(_registry().approve(group, version, reason=reason))


@router.post("/{group}/versions/{version}/reject", dependencies=[Depends(requires(Action.APPROVE))])
def reject_version(group: GroupName, version: Version, body: RejectBody) -> dict[str, Any]:
    """Reject the version as the caller, saying why (409 when it is Rejected already)."""
    return package_dict(_registry().reject(group, version, reason=body.reason))
