"""/api/v1/model-packages: model versions across every group (SageMaker's ListModelPackages),
by approval status or by the pipeline execution that registered them. Viewer role."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from rayline.auth.actions import Action
from rayline.errors import UserInputError
from rayline.server.pagination import PageRequest, page_request, paginate_list
from rayline.server.routes.models import package_dict
from rayline.server.security import requires

router = APIRouter(prefix="/model-packages", tags=["model registry"])


@router.get("", dependencies=[Depends(requires(Action.READ))])
def list_model_packages(
    page: Annotated[PageRequest, Depends(page_request)],
    status: Annotated[
        str | None,
        Query(max_length=64, description="PendingManualApproval (or pending), Approved, Rejected"),
    ] = None,
    execution_id: Annotated[
        str | None, Query(max_length=256, description="the execution that registered them")
    ] = None,
) -> dict[str, Any]:
    """Versions of every group, newest first: those in ``status``, or those execution
    ``execution_id`` registered."""
    from rayline.registry import ModelRegistry

    if status is not None and execution_id is not None:
        raise UserInputError("list model packages by status or by execution_id, not both")
    registry = ModelRegistry()
    if execution_id is not None:
        versions = registry.registered_by(execution_id)
    else:
        versions = registry.list_versions(status=status)
    return paginate_list(page, [package_dict(v) for v in versions])
