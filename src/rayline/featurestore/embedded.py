"""The feature store in this process: the metadata DB (``_repository``), the online stores and
the offline Parquet store. What ``FeatureGroup`` and the module functions do when no server is
named, and what the server itself runs.

One instance serves one handle: it caches each group's description after the first use (and
the online store it names), so reads from the online store cost one key lookup and no metadata
query.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Sequence
from dataclasses import replace

import pyarrow as pa

from rayline.errors import ConflictError, SchemaError, UserInputError
from rayline.featurestore import _repository as repo
from rayline.featurestore import offline
from rayline.featurestore._batch import OFFLINE, ONLINE
from rayline.featurestore.definitions import (
    FeatureDefinition,
    coerce_definitions,
    validate_feature_name,
    validate_schema,
)
from rayline.featurestore.description import (
    CREATE_FAILED,
    CREATED,
    DELETING,
    FeatureGroupDescription,
)
from rayline.featurestore.online import OnlineRecords, default_online_store_uri, open_online_store
from rayline.featurestore.report import IngestionReport
from rayline.featurestore.validation import parse_event_time
from rayline.store.artifacts import open_artifact_store
from rayline.store.db import Database, open_database

SOFT_DELETE, HARD_DELETE = "SoftDelete", "HardDelete"


class EmbeddedFeatureStore:
    """The feature store on the metadata DB at ``db_url`` and the artifact store at
    ``artifact_uri`` (defaults: the settings')."""

    def __init__(self, *, db_url: str | None = None, artifact_uri: str | None = None) -> None:
        self._db_url = db_url
        self._artifact_uri = artifact_uri
        self._descs: dict[str, FeatureGroupDescription] = {}
        self._online_stores: dict[str, object] = {}

    def _db(self) -> Database:
        return open_database(self._db_url)

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
        features = list(features)
        validate_schema(
            features,
            record_identifier_name=record_identifier_name,
            event_time_name=event_time_feature_name,
        )
        if not (enable_online_store or enable_offline_store):
            raise UserInputError("enable the online store, the offline store, or both")
        if ttl_seconds is not None and ttl_seconds <= 0:
            raise UserInputError(f"ttl_seconds must be positive (got {ttl_seconds})")
        db = self._db()
        existing = repo.find(db, name)
        if existing is not None and exist_ok:
            if (
                list(existing.feature_definitions) != features
                or existing.record_identifier_name != record_identifier_name
                or existing.event_time_feature_name != event_time_feature_name
            ):
                raise ConflictError(
                    f"feature group {name!r} exists with a different schema; delete it "
                    "or use another name"
                )
            self._descs[name] = existing
            return existing
        now = time.time()
        offline_uri = None
        if enable_offline_store:
            artifacts = open_artifact_store(self._artifact_uri)
            offline_uri = artifacts.uri_for(*offline.location_parts(name, now))
        desc = FeatureGroupDescription(
            name=name,
            status=CREATED,
            record_identifier_name=record_identifier_name,
            event_time_feature_name=event_time_feature_name,
            feature_definitions=tuple(features),
            online_store_enabled=enable_online_store,
            offline_store_enabled=enable_offline_store,
            online_store_uri=(online_store_uri or default_online_store_uri())
            if enable_online_store
            else None,
            offline_store_uri=offline_uri,
            ttl_seconds=ttl_seconds,
            description=description,
            tags=dict(tags or {}),
            created_at=now,
            updated_at=now,
        )
        repo.insert(db, desc)
        try:
            if offline_uri:
                offline.prepare(desc)
            if enable_online_store:
                open_online_store(desc.online_store_uri)
        except Exception:
            repo.update(db, name, status=CREATE_FAILED)
            raise
        self._descs[name] = desc
        return desc

    def find(self, name: str) -> FeatureGroupDescription | None:
        return repo.find(self._db(), name)

    def get(self, name: str) -> FeatureGroupDescription:
        desc = self._descs.get(name)
        if desc is None:
            desc = self._descs[name] = repo.get(self._db(), name)
        return desc

    def describe(self, name: str) -> FeatureGroupDescription:
        db = self._db()
        desc = self._descs[name] = repo.get(db, name)
        online_n = offline_n = None
        if desc.online_store_enabled:
            online_n = open_online_store(desc.online_store_uri).count(desc.name)
        if desc.offline_store_enabled:
            offline_n = offline.count_rows(desc, db)
        return replace(desc, online_record_count=online_n, offline_record_count=offline_n)

    def update(
        self,
        name: str,
        *,
        feature_additions: Sequence[FeatureDefinition] | None,
        ttl_seconds: float | None,
    ) -> FeatureGroupDescription:
        db = self._db()
        desc = repo.get(db, name)
        values: dict = {}
        if feature_additions:
            additions = coerce_definitions(feature_additions)
            for f in additions:
                validate_feature_name(f.feature_name)
            merged = [*desc.feature_definitions, *additions]
            validate_schema(
                merged,
                record_identifier_name=desc.record_identifier_name,
                event_time_name=desc.event_time_feature_name,
            )
            values["feature_definitions"] = merged
        if ttl_seconds is not None:
            if ttl_seconds <= 0:
                raise UserInputError(f"ttl_seconds must be positive (got {ttl_seconds})")
            values["ttl_seconds"] = ttl_seconds
        if not values:
            raise UserInputError("nothing to update: pass feature_additions or ttl_seconds")
        repo.update(db, name, last_update_status="Successful", **values)
        desc = self._descs[name] = repo.get(db, name)
        return desc

    def delete(self, name: str, *, keep_offline_data: bool) -> None:
        db = self._db()
        desc = repo.get(db, name)
        repo.update(db, name, status=DELETING)
        if desc.online_store_enabled:
            open_online_store(desc.online_store_uri).drop_group(desc.name)
        if desc.offline_store_enabled and not keep_offline_data:
            offline.delete_data(desc)
        repo.delete(db, name)
        self._descs.pop(name, None)

    def list_groups(self, *, name_contains: str | None) -> list[FeatureGroupDescription]:
        return repo.list_all(self._db(), name_contains=name_contains)

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
        from rayline.featurestore.ingestion import ingest

        db = self._db()
        desc = self._descs[name] = repo.get(db, name)
        return ingest(
            desc,
            data,
            db=db,
            max_workers=max_workers,
            target_stores=target_stores,
            ttl_seconds=ttl_seconds,
        )

    def _online(self, name: str):
        desc = self.get(name)
        if not desc.online_store_enabled:
            raise UserInputError(f"feature group {name!r} has no online store")
        store = self._online_stores.get(desc.online_store_uri)
        if store is None:
            store = self._online_stores[desc.online_store_uri] = open_online_store(
                desc.online_store_uri
            )
        return store

    def get_record(
        self, name: str, record_identifier: str, *, feature_names: Sequence[str] | None
    ) -> dict | None:
        payload = self._online(name).get(name, record_identifier)
        if payload is None:
            return None
        record = json.loads(payload)
        return record if feature_names is None else self._subset(name, record, feature_names)

    def batch_get_record(
        self, name: str, record_identifiers: list[str], *, feature_names: Sequence[str] | None
    ) -> list[dict | None]:
        found = self._online(name).batch_get(name, record_identifiers)
        out: list[dict | None] = []
        for rid in record_identifiers:
            payload = found.get(rid)
            if payload is None:
                out.append(None)
                continue
            record = json.loads(payload)
            out.append(
                record if feature_names is None else self._subset(name, record, feature_names)
            )
        return out

    def _subset(self, name: str, record: dict, feature_names: Sequence[str]) -> dict:
        try:
            return {n: record[n] for n in feature_names}
        except KeyError as exc:
            features = self.get(name).feature_names
            if exc.args[0] in features:
                return {n: record.get(n) for n in feature_names}
            raise SchemaError(
                f"feature {exc.args[0]!r} is not in feature group {name!r} (features: "
                f"{', '.join(features)})"
            ) from None

    def delete_record(
        self,
        name: str,
        record_identifier,
        event_time,
        *,
        deletion_mode: str,
        target_stores: Sequence[str] | None,
    ) -> None:
        from rayline.featurestore.ingestion import _targets

        if deletion_mode not in (SOFT_DELETE, HARD_DELETE):
            raise UserInputError(
                f"deletion_mode must be 'SoftDelete' or 'HardDelete' (got {deletion_mode!r})"
            )
        desc = self.get(name)
        seconds = parse_event_time(event_time)
        if seconds is None:
            raise UserInputError(
                f"event time {event_time!r} is not Unix seconds or ISO-8601 (e.g. "
                "'2024-05-01T12:00:00Z')"
            )
        targets = _targets(desc, target_stores)
        rid = str(record_identifier)
        if ONLINE in targets:
            store = self._online(name)
            if deletion_mode == HARD_DELETE:
                removed = store.hard_delete(name, rid, seconds)
                if removed is False:
                    raise ConflictError(
                        f"record {rid!r} of {name!r} has an event time at or after "
                        f"{event_time!r}; a hard delete needs a later event time"
                    )
            else:
                store.put(name, OnlineRecords.tombstone(rid, seconds))
        if OFFLINE in targets:
            marker = _marker_row(desc, record_identifier, event_time, seconds)
            # One file, committed like an ingestion (its writer may be killed too).
            db, ingest_id = self._db(), uuid.uuid4().hex[:12]
            repo.begin_ingestion(db, name, ingest_id)
            offline.append(
                desc,
                marker,
                pa.array([seconds], pa.float64()),
                ingest_id=ingest_id,
                api_invocation_time=time.time(),
                is_deleted=True,
            )
            repo.commit_ingestion(db, ingest_id, rows=1)

    # -- SQL and datasets ------------------------------------------------------------------

    def query(self, sql: str):
        return self._select(sql, fetch=lambda rel: rel.df())

    def query_arrow(self, sql: str) -> pa.Table:
        from rayline.featurestore._sql import to_arrow

        return self._select(sql, fetch=to_arrow)

    def _select(self, sql: str, *, fetch):
        from rayline.featurestore import sandbox

        sandbox.check_select(sql)  # before any view is made: a refused statement costs nothing
        con = sandbox.open_sandbox(db=self._db())
        try:
            result, _truncated = sandbox.run_select(con, sql, fetch=fetch)
        finally:
            con.close()
        return result

    def dataset_arrow(self, builder) -> pa.Table:
        from rayline.featurestore._sql import fetch_arrow

        con, sql, params = builder._prepare()
        try:
            return fetch_arrow(con, sql, params)
        finally:
            con.close()

    def dataset_parquet(self, builder, location: str, *, keep_order: bool) -> int:
        return builder._write_parquet(location, keep_order=keep_order)

    def dataset_sql(self, builder) -> str:
        con, sql, _params = builder._prepare()
        con.close()
        return sql


def _marker_row(
    desc: FeatureGroupDescription, record_identifier, event_time, seconds: float
) -> pa.Table:
    """The offline ``is_deleted`` row: identifier and event time (in the feature's own type)."""
    from datetime import UTC, datetime

    from rayline.featurestore.definitions import FeatureType
    from rayline.featurestore.validation import validate

    et_type = desc.feature_type(desc.event_time_feature_name)
    if et_type is FeatureType.STRING and not isinstance(event_time, str):
        event_time = datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")
    elif et_type is not FeatureType.STRING:
        event_time = int(seconds) if et_type is FeatureType.INTEGRAL else seconds

    columns = {}
    for f in desc.feature_definitions:
        if f.feature_name == desc.record_identifier_name:
            value = record_identifier
        elif f.feature_name == desc.event_time_feature_name:
            value = event_time
        else:
            value = None
        columns[f.feature_name] = pa.array([value]) if value is not None else pa.nulls(1)
    checked = validate(pa.table(columns), desc)
    if checked.rejected:
        raise UserInputError(checked.rejected[0].reason)
    return checked.table
