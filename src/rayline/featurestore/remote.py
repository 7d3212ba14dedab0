"""The feature store through a rayline server's REST API (``RAYLINE_SERVER_URL``): what
``FeatureGroup``, ``list_feature_groups``, ``query`` and ``create_dataset`` do when the API goes
through a server. Nothing is read or written on this machine but the caller's own input.

Large things stay correct:

- ``ingest`` reads its input here (the same reader as an embedded ingestion, so a malformed
  file fails the same way) and uploads it as Parquet chunks under the server's upload cap, all
  one ingestion: the server stages the chunks and ingests them at the commit, so no reader sees
  a row before the last chunk is in (``rayline.featurestore.chunked``). Any failure on the way
  aborts the ingestion: nothing becomes visible.
- ``query`` raises ``TooLargeError`` naming the server's row cap (``RAYLINE_SQL_MAX_ROWS``) when
  the server cut the result, never a silently short table.
- A dataset too large for the server to answer inline (over its upload cap) is written to the
  server's artifact store; it is read from there when this machine can, else the
  ``TooLargeError`` names its URI (``error.uri``).
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import pyarrow as pa

from rayline.errors import TooLargeError, UserInputError
from rayline.featurestore.description import FeatureGroupDescription
from rayline.featurestore.report import IngestionReport

if TYPE_CHECKING:
    from rayline.featurestore.dataset import DatasetBuilder
    from rayline.featurestore.definitions import FeatureDefinition
    from rayline.remote.client import Client

#: Rows read from the input at a time before they are cut into chunks.
READ_ROWS = 100_000
#: Bytes of each upload left for the multipart envelope around a chunk.
ENVELOPE_BYTES = 4096
ARROW_STREAM = "application/vnd.apache.arrow.stream"


class RemoteFeatureStore:
    """The feature store of the server ``client`` talks to."""

    def __init__(self, client: Client) -> None:
        self._client = client
        self._descs: dict[str, FeatureGroupDescription] = {}

    def __repr__(self) -> str:
        return f"RemoteFeatureStore({self._client.url!r})"

    # -- lifecycle -------------------------------------------------------------------------

    def create(
        self,
        name: str,
        features: Sequence[FeatureDefinition],
        *,
        record_identifier_name: str,
        event_time_feature_name: str,
        enable_online_store: bool,
        enable_offline_store: bool,
        online_store_uri: str | None,
        ttl_seconds: float | None,
        description: str,
        tags: dict[str, str],
        exist_ok: bool,
    ) -> FeatureGroupDescription:
        if online_store_uri is not None:
            raise UserInputError(
                "online_store_uri= names an online store of this machine's choosing, but the "
                "group is created on the server (RAYLINE_SERVER_URL), which uses its own "
                "(RAYLINE_ONLINE_STORE_URI where it runs); drop online_store_uri="
            )
        body = {
            "name": name,
            "record_identifier_name": record_identifier_name,
            "event_time_feature_name": event_time_feature_name,
            "feature_definitions": [f.to_dict() for f in features],
            "enable_online_store": enable_online_store,
            "enable_offline_store": enable_offline_store,
            "ttl_seconds": ttl_seconds,
            "description": description,
            "tags": tags,
            "exist_ok": exist_ok,
        }
        desc = self._descs[name] = FeatureGroupDescription.from_dict(
            self._client.post("/feature-groups", json=body)
        )
        return desc

    def find(self, name: str) -> FeatureGroupDescription | None:
        response = self._client.request("GET", _group(name), allow=(404,))
        if response.status_code == 404:
            return None
        return FeatureGroupDescription.from_dict(response.json())

    def get(self, name: str) -> FeatureGroupDescription:
        desc = self._descs.get(name)
        if desc is None:
            desc = self._descs[name] = self.describe(name)
        return desc

    def describe(self, name: str) -> FeatureGroupDescription:
        desc = FeatureGroupDescription.from_dict(self._client.get(_group(name)))
        self._descs[name] = desc
        return desc

    def update(
        self,
        name: str,
        *,
        feature_additions: Sequence[FeatureDefinition] | None,
        ttl_seconds: float | None,
    ) -> FeatureGroupDescription:
        from rayline.featurestore.definitions import coerce_definitions

        additions = coerce_definitions(feature_additions or [])
        body = {
            "feature_additions": [f.to_dict() for f in additions] or None,
            "ttl_seconds": ttl_seconds,
        }
        answer = self._client.call("PATCH", _group(name), json=body)
        desc = self._descs[name] = FeatureGroupDescription.from_dict(answer)
        return desc

    def delete(self, name: str, *, keep_offline_data: bool) -> None:
        self._client.delete(_group(name), params={"keep_offline_data": keep_offline_data})
        self._descs.pop(name, None)

    def list_groups(self, *, name_contains: str | None) -> list[FeatureGroupDescription]:
        items = self._client.items("/feature-groups", params={"name_contains": name_contains})
        return [FeatureGroupDescription.from_dict(item) for item in items]

    # -- data ------------------------------------------------------------------------------

    def ingest(
        self,
        name: str,
        data,
        *,
        max_workers: int | None,
        target_stores: Sequence[str] | None,
        ttl_seconds: float | None,
    ) -> IngestionReport:
        desc = self.describe(name)
        tables = _input_tables(data, desc)  # the columns are checked before anything is sent
        path = f"{_group(name)}/ingestions"
        begun = self._client.post(path)
        ingestion = f"{path}/{begun['ingestion_id']}"
        budget = max(1, int(begun["max_upload_bytes"]) - ENVELOPE_BYTES)
        try:
            chunks = 0
            for chunk in _parquet_chunks(tables, budget, cap=int(begun["max_upload_bytes"])):
                self._client.post(
                    f"{ingestion}/chunks",
                    params={"seq": chunks},
                    files={"file": (f"chunk-{chunks}.parquet", chunk, "application/octet-stream")},
                )
                chunks += 1
            body = {
                "chunks": chunks,
                "max_workers": max_workers,
                "target_stores": list(target_stores) if target_stores is not None else None,
                "ttl_seconds": ttl_seconds,
            }
            report = self._client.post(f"{ingestion}/commit", json=body)
        except BaseException:
            import contextlib

            with contextlib.suppress(Exception):  # the original error matters more
                self._client.request("DELETE", ingestion, allow=(404,))
            raise
        return IngestionReport.from_dict(report)

    def get_record(
        self, name: str, record_identifier: str, *, feature_names: Sequence[str] | None
    ) -> dict | None:
        # Through batch-get: a 404 of the single-record route could be the group's.
        return self.batch_get_record(name, [record_identifier], feature_names=feature_names)[0]

    def batch_get_record(
        self, name: str, record_identifiers: list[str], *, feature_names: Sequence[str] | None
    ) -> list[dict | None]:
        body = {
            "ids": record_identifiers,
            "feature_names": list(feature_names) if feature_names is not None else None,
        }
        return self._client.post(f"{_group(name)}/records/batch-get", json=body)["records"]

    def delete_record(
        self,
        name: str,
        record_identifier,
        event_time,
        *,
        deletion_mode: str,
        target_stores: Sequence[str] | None,
    ) -> None:
        params: dict[str, Any] = {"event_time": _event_time_text(event_time)}
        params["deletion_mode"] = deletion_mode
        if target_stores is not None:
            params["target_stores"] = list(target_stores)
        record = quote(str(record_identifier), safe="")
        self._client.delete(f"{_group(name)}/records/{record}", params=params)

    # -- SQL and datasets ------------------------------------------------------------------

    def query(self, sql: str):
        return self.query_arrow(sql).to_pandas()

    def query_arrow(self, sql: str) -> pa.Table:
        response = self._client.request(
            "POST", "/sql", params={"format": "arrow"}, json={"sql": sql}
        )
        table = _read_stream(response.content)
        if response.headers.get("X-Rayline-Truncated") == "true":
            cap = response.headers.get("X-Rayline-Max-Rows", "?")
            raise TooLargeError(
                f"the query's result has more than {cap} rows, the most the rayline server at "
                f"{self._client.url} returns (RAYLINE_SQL_MAX_ROWS where the server runs); add "
                "a LIMIT, filter or aggregate, or raise RAYLINE_SQL_MAX_ROWS on the server"
            )
        return table

    def dataset_arrow(self, builder: DatasetBuilder) -> pa.Table:
        response = self._dataset(builder, output="arrow")
        if response.headers.get("content-type", "").startswith(ARROW_STREAM):
            return _read_stream(response.content)
        return self._stored_dataset(response.json())

    def dataset_parquet(self, builder: DatasetBuilder, location: str, *, keep_order: bool) -> int:
        import tempfile
        from pathlib import Path

        import pyarrow.parquet as pq

        from rayline.store import locations

        table = self.dataset_arrow(builder)
        if not locations.is_remote(location):
            path = Path(location).expanduser()
            path.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(table, path)
            return table.num_rows
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "dataset.parquet"
            pq.write_table(table, path)
            locations.upload(path, location)
        return table.num_rows

    def dataset_sql(self, builder: DatasetBuilder) -> str:
        return self._dataset(builder, output="sql").json()["sql"]

    def _dataset(self, builder: DatasetBuilder, *, output: str):
        from rayline.featurestore.dataset import base_table, dataset_spec

        files = {"spec": (None, json.dumps({**dataset_spec(builder), "output": output}))}
        base = base_table(builder)
        if base is not None:
            files["base"] = ("base.parquet", _parquet_bytes(base), "application/octet-stream")
        return self._client.request("POST", "/datasets", files=files)

    def _stored_dataset(self, answer: dict) -> pa.Table:
        """The dataset the server wrote to its artifact store, read from there if this machine
        can reach it."""
        import pyarrow.parquet as pq

        from rayline.store import locations

        uri = answer["uri"]
        try:
            return pq.read_table(io.BytesIO(locations.read_bytes(uri)))
        except Exception as exc:  # any failure to reach the store means the same here
            error = TooLargeError(
                f"the dataset ({answer.get('rows')} rows, {answer.get('bytes')} bytes) is larger "
                f"than the rayline server at {self._client.url} answers inline (its upload cap, "
                f"RAYLINE_SERVER_MAX_UPLOAD_MB), so the server wrote it to {uri}, which this "
                f"machine cannot read ({type(exc).__name__}: {exc}); read it where that store "
                "is reachable (pandas.read_parquet, ray.data.read_parquet), or give this machine "
                "access to it (the AWS_* settings for s3://)"
            )
            error.uri = uri  # type: ignore[attr-defined]
            raise error from None


def _group(name: str) -> str:
    return f"/feature-groups/{quote(name, safe='')}"


def _event_time_text(event_time) -> str:
    """The event time as the route takes it: Unix seconds, or ISO-8601 text."""
    from rayline.featurestore.validation import parse_event_time

    if isinstance(event_time, str):
        return event_time
    seconds = parse_event_time(event_time)
    if seconds is None:
        raise UserInputError(
            f"event time {event_time!r} is not Unix seconds or ISO-8601 (e.g. "
            "'2024-05-01T12:00:00Z')"
        )
    return repr(float(seconds))


def _input_tables(data, desc: FeatureGroupDescription) -> Iterator[pa.Table]:
    """The input as Arrow tables in order, read as the embedded ingestion reads it; the columns
    are checked against the group before this returns."""
    from rayline.featurestore.ingestion import _is_ray_dataset
    from rayline.featurestore.validation import check_columns

    if _is_ray_dataset(data):
        check_columns(list(data.schema().names), desc)
        return (
            pa.Table.from_batches([b]) if isinstance(b, pa.RecordBatch) else b
            for b in data.iter_batches(batch_format="pyarrow", batch_size=READ_ROWS)
        )
    from rayline.featurestore._input import open_input

    source = open_input(data, desc)
    check_columns(list(source.column_names), desc)
    return source.batches(READ_ROWS)


def _parquet_chunks(tables: Iterator[pa.Table], budget: int, *, cap: int) -> Iterator[bytes]:
    """Parquet files of at most ``budget`` bytes holding the tables' rows, in order (one, of
    no rows, for an empty input)."""
    sent = False
    for table in tables:
        if table.num_rows == 0 and sent:
            continue
        yield from _fit(table, budget, cap=cap)
        sent = True


def _fit(table: pa.Table, budget: int, *, cap: int) -> Iterator[bytes]:
    data = _parquet_bytes(table)
    if len(data) <= budget:
        yield data
        return
    if table.num_rows <= 1:
        raise TooLargeError(
            f"one row of the input takes {len(data)} bytes as Parquet, over the server's upload "
            f"cap of {cap} bytes (RAYLINE_SERVER_MAX_UPLOAD_MB where the server runs); raise "
            "the cap on the server"
        )
    # Cut by the measured size (a tenth to spare), then check each piece again.
    pieces = max(2, math.ceil(len(data) * 1.1 / budget))
    rows = max(1, table.num_rows // pieces)
    for start in range(0, table.num_rows, rows):
        yield from _fit(table.slice(start, rows), budget, cap=cap)


def _parquet_bytes(table: pa.Table) -> bytes:
    import pyarrow.parquet as pq

    out = io.BytesIO()
    pq.write_table(table, out)
    return out.getvalue()


def _read_stream(data: bytes) -> pa.Table:
    import pyarrow.ipc as ipc

    with ipc.open_stream(pa.BufferReader(data)) as reader:
        return reader.read_all()
