"""/api/v1/schedules: cron schedules of pipelines, which this server starts (its schedules
service). Reads need the viewer role, changes the operator role."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from rayline.auth.actions import Action
from rayline.errors import UserInputError
from rayline.schedules import api
from rayline.schedules.entities import Schedule
from rayline.schedules.timing import check_cron, check_timezone
from rayline.server.pagination import PageRequest, page_request, paginate
from rayline.server.routes import MAX_INT
from rayline.server.security import requires

router = APIRouter(tags=["schedules"])

_VIEWER = [Depends(requires(Action.READ))]
_MANAGE = [Depends(requires(Action.MANAGE_SCHEDULES))]


class ScheduleBody(BaseModel):
    """A new schedule: start ``pipeline`` at each time of ``cron`` (5 fields, in
    ``timezone``) with ``parameters``."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=256, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    pipeline: str = Field(min_length=1, max_length=256)
    cron: str = Field(min_length=1, max_length=256, examples=["0 2 * * *"])
    parameters: dict[str, Any] = Field(default_factory=dict)
    version: int | None = Field(
        default=None, ge=1, le=MAX_INT, description="null: the latest at fire time"
    )
    timezone: str = Field(default="UTC", max_length=64)
    missed: Literal["skip", "catch_up"] = "skip"

    # Checked here so a bad expression or zone is a 422 naming the field.
    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        return _checked(check_cron, value)

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        return _checked(check_timezone, value)


def _checked(check: Any, value: str) -> str:
    try:
        return check(value)
    except UserInputError as exc:
        raise ValueError(str(exc)) from None


@router.get("/schedules", dependencies=_VIEWER)
def list_schedules(
    page: Annotated[PageRequest, Depends(page_request)],
    pipeline: Annotated[str | None, Query(max_length=256)] = None,
) -> dict[str, Any]:
    """Schedules by name (only ``pipeline``'s), each with its next fire time."""
    return paginate(
        page, lambda offset, n: api.list_schedules(pipeline=pipeline, offset=offset, limit=n)
    )


@router.post("/schedules", status_code=201, dependencies=_MANAGE)
def create_schedule(body: ScheduleBody) -> Schedule:
    """Create a schedule; its parameters are checked against the pipeline's (422)."""
    return api.create_schedule(
        body.name,
        pipeline=body.pipeline,
        cron=body.cron,
        parameters=body.parameters,
        version=body.version,
        timezone=body.timezone,
        missed=body.missed,
    )


@router.get("/schedules/{name}", dependencies=_VIEWER)
def get_schedule(name: str) -> Schedule:
    """A schedule with its next fire times, what it last started and any error."""
    return api.get_schedule(name)


@router.delete("/schedules/{name}", status_code=204, dependencies=_MANAGE)
def delete_schedule(name: str) -> Response:
    api.delete_schedule(name)
    return Response(status_code=204)


@router.post("/schedules/{name}/pause", dependencies=_MANAGE)
def pause_schedule(name: str) -> Schedule:
    return api.pause_schedule(name)


@router.post("/schedules/{name}/resume", dependencies=_MANAGE)
def resume_schedule(name: str) -> Schedule:
    """Resume from now: the paused period is not caught up."""
    return api.resume_schedule(name)
