"""/api/v1/model-package-groups: the model registry. Groups and their versions (with metrics
and approval history), and approving or rejecting a version.

Reads need the viewer role; approve and reject the approver role. A change records the
authenticated identity (the token's name) as who made it, never text the caller sends.

Four eyes: the identity that started the execution which registered a version may not approve
it (403), unless ``RAYLINE_ALLOW_SELF_APPROVAL`` is true on the server. A version registered
outside an execution, or by an execution that records no starter, has no such restriction.
Rejecting one's own version is always allowed: it ships nothing.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field, field_validator

from rayline.auth.roles import Role
from rayline.config import settings
from rayline.errors import PermissionDeniedError
from rayline.server.pagination import PageRequest, page_request, paginate_list
from rayline.server.routes import MAX_INT
from rayline.server.security import Identity, requires

router = APIRouter(prefix="/model-package-groups", tags=["model registry"])

VIEWER = [Depends(requires(Role.VIEWER))]

#: The server setting that lets an identity approve versions its own executions registered.

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
        if not value.strip():
            raise ValueError("give the reason for the rejection: whoever registered it needs it")
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


@router.post("/{group}/versions/{version}/approve")
def approve_version(
    group: GroupName,
    version: Version,
    identity: Annotated[Identity, Depends(requires(Role.APPROVER))],
    body: ApproveBody | None = None,
) -> dict[str, Any]:
    """Approve the version (409 when it is Approved already; 403 when the caller started the
    execution that registered it, see the module's four-eyes rule)."""
    registry = _registry()
    check_four_eyes(registry.describe(group, version), identity)
    reason = (body.reason if body else None) or ""
    return package_dict(registry.approve(group, version, reason=reason, by=identity.name))


@router.post("/{group}/versions/{version}/reject")
def reject_version(
    group: GroupName,
    version: Version,
    body: RejectBody,
    identity: Annotated[Identity, Depends(requires(Role.APPROVER))],
) -> dict[str, Any]:
    """Reject the version, saying why (409 when it is Rejected already)."""
    return package_dict(_registry().reject(group, version, reason=body.reason, by=identity.name))


def check_four_eyes(package: Any, identity: Identity) -> None:
    """Refuse the identity that started the execution which registered ``package`` (public:
    Studio's approve form applies this very rule)."""
    if not package.execution_id or settings().allow_self_approval:
        return
    from rayline.engine.repository import open_repository

    execution = open_repository().find_execution(package.execution_id)
    started_by = execution.started_by if execution is not None else None
    if started_by and started_by == identity.name:
        raise PermissionDeniedError(
            f"{identity.name!r} started execution {package.execution_id}, which registered "
            f"{package.ref}: another approver must approve it (four eyes). To let an identity "
            "approve what it registered, start the server with RAYLINE_ALLOW_SELF_APPROVAL=true"
        )
