"""/api/v1/feature-groups, /api/v1/sql and /api/v1/datasets: feature groups (create, describe,
list, update, delete), ingestion of an uploaded CSV or Parquet file or of Parquet chunks under
one ingestion, online records (get, batch-get, delete), one read-only SELECT over the offline
stores, and point-in-time datasets.

Each route calls what an embedded user calls (``FeatureGroup``, ``list_feature_groups``); the
SQL runs in the feature store's sandbox (``rayline.featurestore.sandbox``: one SELECT over the
groups' views, no file or setting besides, a timeout and a row cap). Reads need the viewer
role, changes and ingestion the operator role.

An upload (``POST /feature-groups/{name}/ingest``, ``multipart/form-data`` with one ``file``
part named ``*.csv`` or ``*.parquet``) is parsed as it arrives and written to a temporary file
under ``RAYLINE_HOME/tmp``: a body over ``RAYLINE_SERVER_MAX_UPLOAD_MB`` is refused (413) when
its Content-Length says so, or as soon as that many bytes have come, never read whole. A
larger input comes in chunks under one ingestion (``rayline.featurestore.chunked``): ``POST
.../ingestions`` begins it, ``POST .../ingestions/{id}/chunks?seq=N`` stages each Parquet chunk,
``POST .../ingestions/{id}/commit`` ingests them all at once (nothing is visible before), and
``DELETE .../ingestions/{id}`` aborts it.
"""

from __future__ import annotations

import base64
import math
import os
import tempfile
import time
from datetime import date, datetime, timedelta
from datetime import time as clock
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

import anyio
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field

from rayline.auth.actions import Action
from rayline.config import settings
from rayline.errors import NotFoundError, UserInputError
from rayline.featurestore.chunked import ID_PATTERN
from rayline.server import uploads
from rayline.server.pagination import PageRequest, page_request, paginate_list
from rayline.server.routes import MAX_INT
from rayline.server.security import requires

router = APIRouter(tags=["feature groups"])

VIEWER = [Depends(requires(Action.READ))]
MANAGE = [Depends(requires(Action.MANAGE_FEATURE_GROUPS))]
INGEST = [Depends(requires(Action.INGEST))]

#: The most features one request defines or adds (a feature group holds at most 2500).
MAX_FEATURES = 2500
#: The most identifiers one batch-get asks for.
MAX_BATCH_IDS = 1000
#: How a refused upload is named, and what to do instead.
UPLOAD = "the upload"
UPLOAD_FIX = (
    "ingest it with FeatureGroup.ingest or `rayline ingest` and RAYLINE_SERVER_URL set, which "
    "upload it in chunks under one ingestion, or send it in chunks yourself (POST .../ingestions)"
)
DATASET_FIX = "build it from a feature group, or send fewer entity rows"
CHUNK_FIX = "send smaller chunks (the begin answer says max_upload_bytes)"

#: A group or feature name (the feature store checks its pattern and says what is wrong).
Name = Annotated[str, Field(min_length=1, max_length=64)]
StoreName = Literal["OnlineStore", "OfflineStore"]


class FeatureDefinitionBody(BaseModel):
    """One feature, in SageMaker's form (what ``describe`` returns)."""

    model_config = ConfigDict(extra="forbid")

    FeatureName: Name
    FeatureType: Literal["Integral", "Fractional", "String"]


class CreateBody(BaseModel):
    """``POST /feature-groups``: what ``FeatureGroup(name, definitions).create(...)`` takes
    (SageMaker's CreateFeatureGroup). The online store is the server's own."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    record_identifier_name: Name
    event_time_feature_name: Name
    feature_definitions: list[FeatureDefinitionBody] = Field(min_length=1, max_length=MAX_FEATURES)
    enable_online_store: bool = True
    enable_offline_store: bool = True
    ttl_seconds: float | None = Field(default=None, gt=0, le=1e12, allow_inf_nan=False)
    description: str = Field(default="", max_length=10_000)
    tags: dict[Annotated[str, Field(max_length=128)], Annotated[str, Field(max_length=256)]] = (
        Field(default_factory=dict, max_length=50)
    )
    exist_ok: bool = Field(
        default=False, description="return the group when it exists with the same schema"
    )


class UpdateBody(BaseModel):
    """``PATCH /feature-groups/{name}``: what ``FeatureGroup.update`` changes: features to add
    (add-only, as in SageMaker) and/or the online store's TTL."""

    model_config = ConfigDict(extra="forbid")

    feature_additions: list[FeatureDefinitionBody] | None = Field(
        default=None, max_length=MAX_FEATURES
    )
    ttl_seconds: float | None = Field(default=None, gt=0, le=1e12, allow_inf_nan=False)


class BatchGetBody(BaseModel):
    """``POST /feature-groups/{name}/records/batch-get``: identifiers, and the features to
    return (default all)."""

    model_config = ConfigDict(extra="forbid")

    ids: list[Annotated[str, Field(max_length=2048)] | int] = Field(
        min_length=1, max_length=MAX_BATCH_IDS
    )
    feature_names: list[Annotated[str, Field(max_length=64)]] | None = Field(
        default=None, max_length=MAX_FEATURES
    )


class CommitBody(BaseModel):
    """``POST /feature-groups/{name}/ingestions/{id}/commit``: how many chunks were staged
    (0 .. chunks-1), and the ingestion's options (``FeatureGroup.ingest``'s)."""

    model_config = ConfigDict(extra="forbid")

    chunks: int = Field(ge=1, le=MAX_INT)
    max_workers: int | None = Field(default=None, ge=1, le=64)
    target_stores: list[StoreName] | None = None
    ttl_seconds: float | None = Field(default=None, gt=0, le=1e12, allow_inf_nan=False)


#: A chunked ingestion's id, as ``chunked.begin`` makes them.
IngestionId = Annotated[str, PathParam(pattern=ID_PATTERN)]


class SqlBody(BaseModel):
    """``POST /sql``: one SELECT over the offline stores (each group is a view named after it)
    and the most rows to return (at most the server's ``RAYLINE_SQL_MAX_ROWS``)."""

    model_config = ConfigDict(extra="forbid")

    # Its length and shape are the sandbox's to check (sandbox.check_select: a 400 saying why).
    sql: str = Field(min_length=1, examples=['SELECT * FROM "my-group"'])
    max_rows: int | None = Field(default=None, ge=1, le=MAX_INT)


def _group(name: str) -> Any:
    from rayline.featurestore import FeatureGroup

    return FeatureGroup(name)  # checks the name (400)


# -- feature groups ----------------------------------------------------------------------------


@router.get("/feature-groups", dependencies=VIEWER)
def list_groups(
    page: Annotated[PageRequest, Depends(page_request)],
    name_prefix: Annotated[str | None, Query(max_length=64)] = None,
    name_contains: Annotated[str | None, Query(max_length=64)] = None,
) -> dict[str, Any]:
    """Feature groups, oldest first (``name_prefix``: names starting with it;
    ``name_contains``: names holding it). Record counts are left out: describe a group."""
    from rayline.featurestore import list_feature_groups

    groups = list_feature_groups(name_contains=name_contains or name_prefix)
    if name_prefix:
        groups = [g for g in groups if g.name.startswith(name_prefix)]
    return paginate_list(page, [g.to_dict() for g in groups])


@router.post("/feature-groups", status_code=201, dependencies=MANAGE)
def create_group(body: CreateBody) -> dict[str, Any]:
    """Create a feature group (409 when the name is taken, unless ``exist_ok`` and the schema
    is the same); a bad schema is a 422 saying what is wrong."""
    from rayline.featurestore import FeatureGroup

    group = FeatureGroup(body.name, [f.model_dump() for f in body.feature_definitions])
    desc = group.create(
        record_identifier_name=body.record_identifier_name,
        event_time_feature_name=body.event_time_feature_name,
        enable_online_store=body.enable_online_store,
        enable_offline_store=body.enable_offline_store,
        ttl_seconds=body.ttl_seconds,
        description=body.description,
        tags=body.tags,
        exist_ok=body.exist_ok,
    )
    return desc.to_dict()


@router.get("/feature-groups/{name}", dependencies=VIEWER)
def describe_group(name: str) -> dict[str, Any]:
    """The group's status, schema, stores and record counts."""
    return _group(name).describe().to_dict()


@router.patch("/feature-groups/{name}", dependencies=MANAGE)
def update_group(name: str, body: UpdateBody) -> dict[str, Any]:
    """Add features and/or change the online TTL; returns the updated description."""
    additions = [f.model_dump() for f in body.feature_additions or []]
    desc = _group(name).update(feature_additions=additions, ttl_seconds=body.ttl_seconds)
    return desc.to_dict()


@router.delete("/feature-groups/{name}", status_code=204, dependencies=MANAGE)
def delete_group(name: str, keep_offline_data: bool = False) -> Response:
    """Delete the group, its online records and (unless ``keep_offline_data``) its offline
    data."""
    _group(name).delete(keep_offline_data=keep_offline_data)
    return Response(status_code=204)


# -- ingestion ---------------------------------------------------------------------------------

_UPLOAD_BODY = uploads.multipart_body(
    {"file": uploads.file_part("a .csv or .parquet file whose columns are the group's features")},
    required=("file",),
)
_SUFFIXES = {".csv": ".csv", ".parquet": ".parquet", ".pq": ".parquet"}


@router.post("/feature-groups/{name}/ingest", dependencies=INGEST, openapi_extra=_UPLOAD_BODY)
async def ingest_upload(
    name: str,
    request: Request,
    format: Annotated[
        Literal["csv", "parquet"] | None,
        Query(description="the file's format (default: from its name, .csv or .parquet)"),
    ] = None,
    max_workers: Annotated[int | None, Query(ge=1, le=64)] = None,
    target_stores: Annotated[list[StoreName] | None, Query()] = None,
) -> dict[str, Any]:
    """Ingest the uploaded file (``multipart/form-data``, part ``file``); returns the ingestion
    report, rejected rows with their reasons. 413 over ``RAYLINE_SERVER_MAX_UPLOAD_MB``."""
    group = _group(name)
    await anyio.to_thread.run_sync(lambda: group.description)  # 404 before the upload is read
    uploads.check_declared(request, what=UPLOAD, fix=UPLOAD_FIX)
    path, filename = await _receive_upload(request, limit=uploads.upload_limit(), format=format)
    try:
        report = await anyio.to_thread.run_sync(
            lambda: _ingest_file(group, path, max_workers=max_workers, target_stores=target_stores)
        )
    except UserInputError as exc:
        # The error names the server's temporary copy; the caller knows the file by its name.
        named = str(exc).replace(str(path), f"the uploaded file {filename!r}")
        raise type(exc)(named) from None
    finally:
        path.unlink(missing_ok=True)
    return report.to_dict()


def _ingest_file(group: Any, path: Path, *, max_workers, target_stores) -> Any:
    if path.suffix == ".parquet":
        _check_parquet(path)
    return group.ingest(str(path), max_workers=max_workers, target_stores=target_stores)


def _check_parquet(path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pq.ParquetFile(str(path)).close()
    except (pa.ArrowException, OSError) as exc:
        raise UserInputError(
            f"the uploaded file is not a readable Parquet file ({exc}); upload a .parquet "
            "file or a .csv"
        ) from None


async def _receive_upload(request: Request, *, limit: int, format: str | None) -> tuple[Path, str]:
    """Stream the multipart body's ``file`` part into a temporary file, counting every byte
    of the body against ``limit``; returns the file (named with the upload's suffix) and the
    name the upload gave it."""
    from python_multipart import multipart

    kind, options = multipart.parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise UserInputError(
            "upload the file as multipart/form-data with one part named 'file' (curl -F "
            "file=@data.csv)"
        )
    parent = settings().home / "tmp"
    parent.mkdir(parents=True, exist_ok=True)
    part = _FilePart(parent, format)
    parser = multipart.MultipartParser(boundary, part.callbacks())
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if received > limit:  # no (or a false) Content-Length: stop reading here
                raise uploads.too_large(UPLOAD, received, fix=UPLOAD_FIX)
            parser.write(chunk)
        parser.finalize()
        return part.finished(), part.filename
    except BaseException as exc:
        part.discard()
        if isinstance(exc, ValueError) and not isinstance(exc, UserInputError):
            # python-multipart's parse errors are ValueErrors: a malformed body.
            raise UserInputError(f"the multipart body is malformed ({exc})") from None
        raise
    finally:
        part.close()


class _FilePart:
    """The parser's callbacks: the headers of each part, and the ``file`` part's bytes into a
    temporary file. Any other part is refused."""

    def __init__(self, parent: Path, format: str | None) -> None:
        self._parent = parent
        self._format = format
        self._field = b""
        self._value = b""
        self._headers: dict[bytes, bytes] = {}
        self._out: Any = None
        self._path: Path | None = None
        self._parts = 0
        self.filename = ""

    def callbacks(self) -> dict[str, Any]:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": self._header_field,
            "on_header_value": self._header_value,
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
        }

    def _part_begin(self) -> None:
        self._headers = {}
        self._field = self._value = b""

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._field.lower()] = self._value
        self._field = self._value = b""

    def _headers_finished(self) -> None:
        disposition = self._headers.get(b"content-disposition", b"")
        from python_multipart import multipart

        _, options = multipart.parse_options_header(disposition)
        field = options.get(b"name", b"").decode("latin-1")
        filename = options.get(b"filename")
        self._parts += 1
        if field != "file" or self._parts > 1:
            raise UserInputError(
                f"the upload has a part {field!r}; send exactly one part, named 'file'"
            )
        self.filename = filename.decode("utf-8", "replace") if filename else ""
        suffix = self._suffix(self.filename)
        fd, name = tempfile.mkstemp(prefix="upload-", suffix=suffix, dir=self._parent)
        self._out = os.fdopen(fd, "wb")
        self._path = Path(name)

    def _suffix(self, filename: str) -> str:
        if self._format is not None:
            return f".{self._format}"
        suffix = _SUFFIXES.get(Path(filename).suffix.lower())
        if suffix is None:
            raise UserInputError(
                f"the uploaded file {filename!r} is neither .csv nor .parquet; rename it or "
                "pass ?format=csv or ?format=parquet"
            )
        return suffix

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._out is not None:
            self._out.write(data[start:end])

    def finished(self) -> Path:
        if self._path is None:
            raise UserInputError(
                "the upload has no part named 'file'; send the data as multipart/form-data "
                "(curl -F file=@data.csv)"
            )
        self.close()
        return self._path

    def close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None

    def discard(self) -> None:
        self.close()
        if self._path is not None:
            self._path.unlink(missing_ok=True)


# -- ingestion in chunks ------------------------------------------------------------------------


@router.post("/feature-groups/{name}/ingestions", status_code=201, dependencies=INGEST)
def begin_ingestion(name: str) -> dict[str, Any]:
    """Begin an ingestion whose data comes in Parquet chunks (each under
    ``max_upload_bytes``); nothing is visible until its commit."""
    from rayline.featurestore import chunked

    ingestion_id = chunked.begin(_group(name))
    return {"ingestion_id": ingestion_id, "max_upload_bytes": uploads.upload_limit()}


@router.post(
    "/feature-groups/{name}/ingestions/{ingestion_id}/chunks",
    dependencies=INGEST,
    openapi_extra=_UPLOAD_BODY,
)
async def upload_chunk(
    name: str,
    ingestion_id: IngestionId,
    request: Request,
    seq: Annotated[int, Query(ge=0, le=MAX_INT, description="the chunk's number, from 0")],
) -> dict[str, Any]:
    """Stage one Parquet chunk (``multipart/form-data``, part ``file``) of the ingestion; sent
    again, a chunk replaces the one of the same number. 413 over
    ``RAYLINE_SERVER_MAX_UPLOAD_MB``."""
    from rayline.featurestore import chunked

    group = _group(name)
    uploads.check_declared(request, what="the chunk", fix=CHUNK_FIX)
    path, _ = await _receive_upload(request, limit=uploads.upload_limit(), format="parquet")

    def stage() -> None:
        _check_parquet(path)
        chunked.add_chunk(group, ingestion_id, seq, path)

    try:
        await anyio.to_thread.run_sync(stage)
    finally:
        path.unlink(missing_ok=True)
    return {"ingestion_id": ingestion_id, "seq": seq}


@router.post("/feature-groups/{name}/ingestions/{ingestion_id}/commit", dependencies=INGEST)
def commit_ingestion(name: str, ingestion_id: IngestionId, body: CommitBody) -> dict[str, Any]:
    """Ingest the staged chunks as one ingestion; returns its report (409 when the staged
    chunks are not 0 .. chunks-1)."""
    from rayline.featurestore import chunked

    report = chunked.commit(
        _group(name),
        ingestion_id,
        chunks=body.chunks,
        max_workers=body.max_workers,
        target_stores=body.target_stores,
        ttl_seconds=body.ttl_seconds,
    )
    return report.to_dict()


@router.delete(
    "/feature-groups/{name}/ingestions/{ingestion_id}", status_code=204, dependencies=INGEST
)
def abort_ingestion(name: str, ingestion_id: IngestionId) -> Response:
    """Abort the ingestion: what it staged is removed (none of it was ever visible)."""
    from rayline.featurestore import chunked

    chunked.abort(_group(name).name, ingestion_id)
    return Response(status_code=204)


# -- records -----------------------------------------------------------------------------------


@router.get("/feature-groups/{name}/records/{record_id}", dependencies=VIEWER)
def get_record(
    name: str,
    record_id: str,
    feature_names: Annotated[list[str] | None, Query(max_length=MAX_FEATURES)] = None,
) -> dict[str, Any]:
    """The latest live record (``feature_names``: only those); 404 when there is none."""
    record = _group(name).get_record(record_id, feature_names=feature_names)
    if record is None:
        raise NotFoundError(
            f"feature group {name!r} has no live record {record_id!r} (never written, deleted "
            "or expired)"
        )
    return {"record": _jsonable(record)}


@router.post("/feature-groups/{name}/records/batch-get", dependencies=VIEWER)
def batch_get_records(name: str, body: BatchGetBody) -> dict[str, Any]:
    """Records for many identifiers, aligned with ``ids`` (null where there is none)."""
    records = _group(name).batch_get_record(body.ids, feature_names=body.feature_names)
    return {"records": _jsonable(records)}


@router.delete("/feature-groups/{name}/records/{record_id}", status_code=204, dependencies=INGEST)
def delete_record(
    name: str,
    record_id: str,
    event_time: Annotated[
        str | None,
        Query(
            max_length=64,
            description="Unix seconds or ISO-8601 (default: now); an older write cannot bring "
            "the record back",
        ),
    ] = None,
    deletion_mode: Literal["SoftDelete", "HardDelete"] = "SoftDelete",
    target_stores: Annotated[list[StoreName] | None, Query()] = None,
) -> Response:
    """Delete a record as of ``event_time``, as SageMaker's DeleteRecord does."""
    group = _group(name)
    group.delete_record(
        _typed_id(group.description, record_id),
        _event_time(event_time),
        deletion_mode=deletion_mode,
        target_stores=target_stores,
    )
    return Response(status_code=204)


def _typed_id(desc: Any, record_id: str) -> str | int:
    """The identifier in its feature's type (the offline marker row is typed)."""
    from rayline.featurestore import FeatureType

    if desc.feature_type(desc.record_identifier_name) is not FeatureType.INTEGRAL:
        return record_id
    try:
        return int(record_id)
    except ValueError:
        raise UserInputError(
            f"record identifier {record_id!r} is not a whole number, which feature "
            f"{desc.record_identifier_name!r} of {desc.name!r} is"
        ) from None


def _event_time(value: str | None) -> float | str:
    if value is None:
        return time.time()
    try:
        seconds = float(value)
    except ValueError:
        return value  # ISO-8601, checked by the feature store
    if not math.isfinite(seconds) or seconds < 0:
        raise UserInputError(f"event time {value!r} must be Unix seconds >= 0 or ISO-8601")
    return seconds


# -- SQL ---------------------------------------------------------------------------------------


ARROW_STREAM = "application/vnd.apache.arrow.stream"


@router.post("/sql", dependencies=[Depends(requires(Action.QUERY))], response_model=None)
def run_sql(
    body: SqlBody,
    format: Annotated[
        Literal["json", "arrow"],
        Query(description="json (default) or arrow: an Arrow IPC stream, its types exact"),
    ] = "json",
) -> dict[str, Any] | Response:
    """Run one read-only SELECT over the offline stores: ``{"columns", "types", "rows",
    "truncated"}``, rows as arrays aligned with ``columns`` (``format=arrow``: an Arrow IPC
    stream, with ``X-Rayline-Truncated`` and ``X-Rayline-Max-Rows``). Anything but one SELECT,
    a file access, or a query past ``RAYLINE_SQL_TIMEOUT_S`` is a 400 saying so."""
    from rayline.featurestore import sandbox

    cap = sandbox.sql_max_rows()
    max_rows = min(body.max_rows or cap, cap)
    result = sandbox.select(body.sql, max_rows=max_rows)
    table = result.table
    if format == "arrow":
        return Response(
            content=_arrow_stream(table),
            media_type=ARROW_STREAM,
            headers={
                "X-Rayline-Truncated": "true" if result.truncated else "false",
                "X-Rayline-Max-Rows": str(max_rows),
            },
        )
    columns = [_jsonable(col.to_pylist()) for col in table.columns]
    return {
        "columns": table.column_names,
        "types": [str(t) for t in table.schema.types],
        "rows": [list(row) for row in zip(*columns, strict=True)],
        "truncated": result.truncated,
        "max_rows": max_rows,
    }


# -- datasets ----------------------------------------------------------------------------------

_DATASET_BODY = uploads.multipart_body(
    {
        "spec": {
            "type": "string",
            "description": "the dataset as JSON (rayline.featurestore.dataset.dataset_spec), "
            "with output: arrow or sql",
        },
        "base": uploads.file_part(
            "the base (entity) rows as a Parquet file, unless the spec names a base feature group"
        ),
    },
    required=("spec",),
)


@router.post("/datasets", dependencies=VIEWER, response_model=None, openapi_extra=_DATASET_BODY)
async def create_dataset(request: Request) -> dict[str, Any] | Response:
    """Build a dataset (``create_dataset``) and answer it as an Arrow IPC stream, or, when that
    is over ``RAYLINE_SERVER_MAX_UPLOAD_MB``, write it to the artifact store and answer
    ``{"uri", "rows", "bytes"}``; ``output: sql`` answers ``{"sql"}``."""
    uploads.check_declared(request, what="the dataset request", fix=DATASET_FIX)
    spec, base = await _dataset_request(request)
    output = spec.pop("output", "arrow")
    if output not in ("arrow", "sql"):
        raise UserInputError(f"output {output!r} is unknown; use 'arrow' or 'sql'")

    def build() -> dict[str, Any] | Response:
        from rayline.featurestore.dataset import builder_from_spec, store_dataset

        try:
            builder = builder_from_spec(spec, base)
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, UserInputError):
                raise
            raise UserInputError(f"the dataset spec is malformed ({exc!r})") from None
        if output == "sql":
            return {"sql": builder.sql()}
        table = builder.to_arrow()
        data = _arrow_stream(table)
        if len(data) <= uploads.upload_limit():
            return Response(content=data, media_type=ARROW_STREAM)
        uri = store_dataset(table)
        return {"uri": uri, "rows": table.num_rows, "bytes": len(data)}

    return await anyio.to_thread.run_sync(build)


async def _dataset_request(request: Request) -> tuple[dict[str, Any], Any]:
    """The spec (JSON) and the base table (Parquet, or None) of a ``POST /datasets``."""
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        form = await request.form(max_files=1, max_fields=1)
    except Exception as exc:  # starlette's multipart errors: a malformed body
        raise UserInputError(
            f"send the dataset as multipart/form-data with a 'spec' field ({exc})"
        ) from None
    try:
        raw = form.get("spec")
        if not isinstance(raw, str):
            raise UserInputError("the dataset request has no 'spec' field (JSON)")
        try:
            spec = json.loads(raw)
        except ValueError as exc:
            raise UserInputError(f"the dataset spec is not JSON ({exc})") from None
        if not isinstance(spec, dict):
            raise UserInputError("the dataset spec must be a JSON object")
        upload = form.get("base")
        base = None
        if upload is not None and not isinstance(upload, str):
            data = await upload.read()
            try:
                base = pq.read_table(pa.BufferReader(data))
            except (pa.ArrowException, OSError) as exc:
                raise UserInputError(f"the dataset's base is not a Parquet file ({exc})") from None
        return spec, base
    finally:
        await form.close()


def _arrow_stream(table: Any) -> bytes:
    import pyarrow as pa
    import pyarrow.ipc as ipc

    sink = pa.BufferOutputStream()
    with ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def _jsonable(value: Any) -> Any:
    """``value`` as JSON can carry it: NaN and infinities as null (JSON has neither), bytes as
    base64, times as ISO-8601, durations in seconds, anything else unknown as its text."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, datetime | date | clock):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal):  # whole numbers (HUGEINT) keep every digit
        if not value.is_finite():
            return None
        return int(value) if value == value.to_integral_value() else float(value)
    return str(value)
