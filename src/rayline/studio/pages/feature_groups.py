"""Feature groups: the list, and one group's schema, record counts, sample records, a record
lookup by identifier and a SQL box.

Reads call what the REST API's routes call (``list_feature_groups``, ``FeatureGroup.describe``,
``FeatureGroup.get_record``). Every SQL goes through the feature store's sandbox
(``rayline.featurestore.sandbox``: one read-only SELECT over the groups' views, its timeout and
a row cap), the sample rows too; a query is a read, so a viewer may run it (as ``POST
/api/v1/sql``), but it still carries the session's CSRF token and is audited like the API's.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from rayline.auth.actions import Action
from rayline.errors import PermissionDeniedError, RaylineError
from rayline.server.problems import status_of
from rayline.studio.actions import audited, guarded
from rayline.studio.web import PREFIX, Ctx, error_page, page, render, studio_page

router = APIRouter(prefix=PREFIX, include_in_schema=False)
log = logging.getLogger("rayline.studio")

PageCtx = Annotated[Ctx, Depends(page)]

#: Groups per page of the list (each is described, which counts its records).
PAGE = 50
#: Sample records shown on a group's page.
SAMPLES = 5
#: The most rows the SQL box shows (the sandbox's RAYLINE_SQL_MAX_ROWS when lower): a page
#: of ten thousand rows helps nobody; ``rayline query`` or the API fetch more.
SHOWN_ROWS = 1000
#: Row identifiers longer than this are not looked up (as the REST API's batch-get).
MAX_ID_CHARS = 2048


@dataclass(frozen=True)
class SqlOutcome:
    """What the SQL box shows: the columns with their types, the rows as text, whether rows
    were left out (and at what cap), and how long the query took."""

    columns: list[str]
    types: list[str]
    rows: list[list[Any]]
    truncated: bool
    max_rows: int
    elapsed_s: float


def _group(name: str) -> Any:
    from rayline.featurestore import FeatureGroup

    return FeatureGroup(name)  # checks the name (400)


@router.get("/feature-groups")
@studio_page
def feature_groups(
    ctx: PageCtx, offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0
) -> Response:
    from rayline.featurestore import list_feature_groups

    groups = list_feature_groups()
    shown = groups[offset : offset + PAGE]
    return render(
        ctx,
        "feature_groups.html",
        groups=[_listed(desc) for desc in shown],
        offset=offset,
        more=len(groups) > offset + PAGE,
        page_size=PAGE,
    )


def _listed(desc: Any) -> dict[str, Any]:
    """A group as the list shows it: its description with record counts, or the description
    and why its counts could not be read (one unreachable store does not fail the list)."""
    try:
        return {"desc": _group(desc.name).describe(), "problem": None}
    except RaylineError as exc:
        return {"desc": desc, "problem": f"its record counts could not be read: {exc}"}
    except Exception:  # a store's own failure: logged, the list still shown
        log.exception("feature group %r: counting its records failed", desc.name)
        return {"desc": desc, "problem": "its record counts could not be read; see the log"}


@router.get("/feature-groups/{name}")
@studio_page
def feature_group(
    name: str,
    ctx: PageCtx,
    record: Annotated[str | None, Query(max_length=MAX_ID_CHARS)] = None,
) -> Response:
    return _group_page(ctx, name, record=record)


def _group_page(
    ctx: Ctx,
    name: str,
    *,
    record: str | None = None,
    sql: str | None = None,
    outcome: SqlOutcome | None = None,
    sql_error: str | None = None,
    status: int = 200,
) -> Response:
    group = _group(name)
    desc = group.describe()  # 404 for an unknown group
    lookup = _lookup(group, desc, record) if record is not None and record.strip() else None
    if lookup is not None and lookup["status"] != 200 and status == 200:
        status = lookup["status"]
    columns, samples, samples_problem = _samples(desc)
    return render(
        ctx,
        "feature_group.html",
        status=status,
        group=desc,
        features=[
            {
                "name": f.feature_name,
                "type": f.feature_type.value,
                "role": _role_of(desc, f.feature_name),
            }
            for f in desc.feature_definitions
        ],
        sample_columns=columns,
        samples=samples,
        samples_problem=samples_problem,
        record_id=record or "",
        lookup=lookup,
        sql=sql if sql is not None else _default_sql(desc),
        outcome=outcome,
        sql_error=sql_error,
        max_rows=_max_rows(),
        timeout_s=_timeout_s(),
    )


def _default_sql(desc: Any) -> str:
    """What the SQL box holds at first: the group's view (a group without an offline store
    has none)."""
    if not desc.offline_store_enabled:
        return ""
    return f"SELECT * FROM {_quoted(desc.name)} LIMIT 10"


def _role_of(desc: Any, feature: str) -> str:
    if feature == desc.record_identifier_name:
        return "record identifier"
    if feature == desc.event_time_feature_name:
        return "event time"
    return ""


def _lookup(group: Any, desc: Any, record_id: str) -> dict[str, Any]:
    """The live record of ``record_id`` in the online store (status 200), or the message and
    status of a miss (404) or a refusal (a group without an online store: 400)."""
    record_id = record_id.strip()
    if not desc.online_store_enabled:
        return {
            "status": 400,
            "record": None,
            "message": f"feature group {desc.name!r} has no online store, so records cannot be "
            "looked up by identifier; query its offline store with SQL below",
        }
    try:
        found = group.get_record(record_id)
    except RaylineError as exc:
        return {"status": status_of(exc), "record": None, "message": str(exc)}
    if found is None:
        return {
            "status": 404,
            "record": None,
            "message": f"no record with identifier {record_id!r} in {desc.name!r} (never "
            "written, deleted or expired)",
        }
    ordered = [(n, found.get(n)) for n in desc.feature_names if n in found]
    ordered += [(k, v) for k, v in found.items() if k not in desc.feature_names]
    return {"status": 200, "record": [(k, _cell(v)) for k, v in ordered], "message": None}


def _samples(desc: Any) -> tuple[list[str], list[list[Any]], str | None]:
    """A few of the latest live rows of the offline store (through the sandbox, as any SQL),
    or why there are none to show."""
    if not desc.offline_store_enabled:
        return [], [], "this group has no offline store; look a record up by its identifier"
    from rayline.featurestore import sandbox

    features = ", ".join(_quoted(n) for n in desc.feature_names)
    sql = (
        f"SELECT {features} FROM {_quoted(desc.name)} WHERE NOT is_deleted "
        f"ORDER BY write_time DESC LIMIT {SAMPLES}"
    )
    try:
        table = sandbox.select(sql, max_rows=SAMPLES).table
    except RaylineError as exc:
        return [], [], f"the offline store could not be read: {exc}"
    return table.column_names, _rows(table), None


def _quoted(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _rows(table: Any) -> list[list[Any]]:
    columns = [col.to_pylist() for col in table.columns]
    return [[_cell(v) for v in row] for row in zip(*columns, strict=True)]


def _cell(value: Any) -> Any:
    """A value as a table cell shows it: None stays None (shown as NULL), floats as Python
    writes them, bytes as their length, anything else as its text."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return f"<{len(bytes(value))} bytes>"
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def _max_rows() -> int:
    from rayline.featurestore import sandbox

    return min(sandbox.sql_max_rows(), SHOWN_ROWS)


def _timeout_s() -> float:
    from rayline.featurestore import sandbox

    return sandbox.sql_timeout_s()


@router.post("/feature-groups/{name}/sql")
async def run_sql(name: str, request: Request) -> Response:
    """Run the SQL box's query (any signed-in role: it is read-only), through the sandbox."""
    form = await request.form()
    ctx = await run_in_threadpool(page, request)
    sql = str(form.get("sql") or "")

    def run() -> Response:
        _ = _group(name).description  # 404 for an unknown group, before anything runs
        try:
            outcome = audited(
                ctx,
                target=f"feature_group={name}",
                csrf=str(form.get("csrf") or ""),
                action=lambda: _select(sql),
                needs=Action.QUERY,
                doing="running SQL",
            )
        except PermissionDeniedError as exc:
            return error_page(ctx, exc)
        except RaylineError as exc:
            return _group_page(ctx, name, sql=sql, sql_error=str(exc), status=status_of(exc))
        return _group_page(ctx, name, sql=sql, outcome=outcome)

    return await run_in_threadpool(guarded, ctx, run)


def _select(sql: str) -> SqlOutcome:
    from rayline.featurestore import sandbox

    max_rows = _max_rows()
    started = time.perf_counter()
    result = sandbox.select(sql, max_rows=max_rows)
    elapsed = time.perf_counter() - started
    table = result.table
    return SqlOutcome(
        columns=table.column_names,
        types=[str(t) for t in table.schema.types],
        rows=_rows(table),
        truncated=result.truncated,
        max_rows=max_rows,
        elapsed_s=elapsed,
    )
