"""The model registry: groups, a group's versions with their status and key metrics, and one
version with its files, where it came from, its evaluation metrics, its approval timeline and
the approve and reject forms.

Reads and writes go through ``rayline.registry.ModelRegistry``, as the REST API's do. Approving
and rejecting need the approver role (``Action.APPROVE``) and are audited like an API request;
the change records the signed-in identity as who made it, and the registry applies its rules:
whoever started the execution that registered a version may not approve it (four eyes, unless
the server allows self-approval), and a rejection needs a reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from rayline.auth.actions import Action, role_for
from rayline.errors import RaylineError, UserInputError
from rayline.server.problems import status_of
from rayline.studio.actions import audited, guarded
from rayline.studio.web import PREFIX, Ctx, page, render, studio_page

router = APIRouter(prefix=PREFIX, include_in_schema=False)

PageCtx = Annotated[Ctx, Depends(page)]

#: What the approve/reject buttons need, and how a refusal names it.
APPROVE = Action.APPROVE
DOING = "approving and rejecting model versions"
MAX_REASON = 10_000


def registry() -> Any:
    """The model registry every page here reads and writes (as the REST API's routes do)."""
    from rayline.registry import ModelRegistry

    return ModelRegistry()


def statuses() -> tuple[str, ...]:
    from rayline.registry import ApprovalStatus

    return ApprovalStatus.ALL


# -- metrics ------------------------------------------------------------------------------


def metric_rows(metrics: Any) -> list[dict[str, Any]]:
    """The evaluation report as table rows, whatever its shape: every ``{"value": v, ...}``
    entry and every bare number is a metric named by its key, in the section of the keys
    above it (``regression_metrics.rmse.value`` → section ``regression_metrics``, name
    ``rmse``); the entry's other numbers (``standard_deviation``) come along."""
    return list(_walk(metrics, ())) if isinstance(metrics, dict) else []


def _walk(node: Any, path: tuple[str, ...]) -> Iterator[dict[str, Any]]:
    for key, value in node.items():
        if isinstance(value, dict) and "value" in value:
            extra = {k: v for k, v in value.items() if k != "value"}
            yield _row(path, str(key), value["value"], extra)
        elif isinstance(value, dict):
            yield from _walk(value, (*path, str(key)))
        elif isinstance(value, int | float) and not isinstance(value, bool):
            yield _row(path, str(key), value, {})


def _row(path: tuple[str, ...], name: str, value: Any, extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "section": ".".join(path),
        "name": name,
        "value": number(value),
        "extra": ", ".join(f"{k.replace('_', ' ')} {number(v)}" for k, v in extra.items()),
    }


def number(value: Any) -> str:
    """A metric as text: from 1000 up a whole number with thousands separators (a price's
    rmse), below that 4 significant digits (an r2); more digits are noise here."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def key_metrics(versions: list[Any]) -> tuple[list[str], list[dict[str, str]]]:
    """The metric names any of ``versions`` has (first seen first), and each version's values
    by name: the group page's columns."""
    names: list[str] = []
    values = []
    for version in versions:
        row = {m["name"]: m["value"] for m in metric_rows(version.metrics)}
        names += [n for n in row if n not in names]
        values.append(row)
    return names, values


# -- pages --------------------------------------------------------------------------------


@router.get("/models")
@studio_page
def groups(ctx: PageCtx) -> Response:
    reg = registry()
    latest: dict[str, Any] = {}
    for version in reg.list_versions():  # by group, newest first: the first is the latest
        latest.setdefault(version.group, version)
    return render(ctx, "models.html", groups=reg.list_groups(), latest=latest)


@router.get("/models/{group}")
@studio_page
def group_page(
    group: str, ctx: PageCtx, status: Annotated[str | None, Query(max_length=64)] = None
) -> Response:
    from rayline.registry import ApprovalStatus

    reg = registry()
    record = reg.describe_group(group)  # 404, naming the groups there are
    chosen = ApprovalStatus.parse(status) if status else ""  # 400 for an unknown status
    every = reg.list_versions(group)
    shown = [v for v in every if v.status == chosen] if chosen else every
    names, values = key_metrics(shown)
    counts = {s: sum(v.status == s for v in every) for s in statuses()}
    return render(
        ctx,
        "model_group.html",
        group=record,
        versions=list(zip(shown, values, strict=True)),
        metric_names=names,
        counts=counts,
        total=len(every),
        chosen=chosen,
        statuses=statuses(),
    )


@router.get("/models/{group}/versions/{version}")
@studio_page
def version_page(group: str, version: str, ctx: PageCtx) -> Response:
    return _version_page(ctx, group, version_number(version))


def version_number(text: str) -> int:
    """The version in the URL, a positive whole number (else a 400 saying so)."""
    if not text.isdigit() or int(text) < 1 or len(text) > 18:
        raise UserInputError(f"model version {text!r} is not a version number (1, 2, ...)")
    return int(text)


def _version_page(
    ctx: Ctx,
    group: str,
    version: int,
    *,
    error: str | None = None,
    status: int = 200,
    reasons: dict[str, str] | None = None,
) -> Response:
    from rayline.registry import ApprovalStatus

    package = registry().describe(group, version)  # 404, naming the versions there are
    return render(
        ctx,
        "model_version.html",
        status=status,
        package=package,
        execution=_execution(package.execution_id),
        metrics=metric_rows(package.metrics),
        history=list(reversed(package.history)),  # newest first
        can_approve=ctx.may(APPROVE),
        approved=package.status == ApprovalStatus.APPROVED,
        rejected=package.status == ApprovalStatus.REJECTED,
        needs=role_for(APPROVE).label,
        error=error,
        reasons=reasons or {},
    )


def _execution(execution_id: str | None) -> Any:
    """The execution that registered the version (None: registered by hand, or since
    cleaned up)."""
    if not execution_id:
        return None
    from rayline.engine.api import find_execution

    return find_execution(execution_id)


# -- approve and reject -------------------------------------------------------------------


@router.post("/models/{group}/versions/{version}/{action}")
async def version_action(group: str, version: str, action: str, request: Request) -> Response:
    """Approve or reject a version (approvers only; the four-eyes rule for approving)."""
    form = await request.form()
    ctx = await run_in_threadpool(page, request)
    reason = str(form.get("reason") or "")

    def run() -> Response:
        from rayline.errors import NotFoundError

        if action not in ("approve", "reject"):
            raise NotFoundError(f"there is no action {action!r}; use approve or reject")
        number = version_number(version)
        try:
            audited(
                ctx,
                target=f"model_version={group}/{number}",
                csrf=str(form.get("csrf") or ""),
                action=lambda: _change(ctx, group, number, action, reason),
                needs=APPROVE,
                doing=DOING,
            )
        except RaylineError as exc:
            return _version_page(
                ctx,
                group,
                number,
                error=str(exc),
                status=status_of(exc),
                reasons={action: reason},
            )
        where = f"{PREFIX}/models/{quote(group, safe='')}/versions/{number}#history"
        return RedirectResponse(where, status_code=303)

    return await run_in_threadpool(guarded, ctx, run)


def _change(ctx: Ctx, group: str, version: int, action: str, reason: str) -> None:
    """Approve or reject as the signed-in identity (``audited`` acts as it); the registry
    applies its rules (four eyes, a reason for a rejection)."""
    if len(reason) > MAX_REASON:
        raise UserInputError(f"the reason is {len(reason)} characters; keep it to {MAX_REASON}")
    reg = registry()
    if action == "approve":
        reg.approve(group, version, reason=reason.strip())
    else:
        reg.reject(group, version, reason=reason)
