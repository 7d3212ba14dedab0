"""``FeatureGroup``: the client-side handle users know from SageMaker.

>>> fg = FeatureGroup("housing", feature_definitions=load_feature_definitions(df))
>>> fg.create(record_identifier_name="record_id", event_time_feature_name="event_time")
>>> report = fg.ingest(df, max_workers=4)
>>> fg.get_record("42", feature_names=["PRICE"])
{'PRICE': 490098}

The handle caches the group's description after the first use, so reads from the online store
cost one key lookup and no metadata query.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable, Sequence

import pyarrow as pa

from rayline.errors import ConflictError, NotFoundError, SchemaError, UserInputError
from rayline.featurestore import _repository as repo
from rayline.featurestore import offline
from rayline.featurestore._batch import OFFLINE, ONLINE
from rayline.featurestore.definitions import (
    FeatureDefinition,
    coerce_definitions,
    load_feature_definitions,
    validate_feature_name,
    validate_group_name,
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


class FeatureGroup:
    """A feature group by name; ``feature_definitions`` are needed only to ``create`` it."""

    def __init__(
        self,
        name: str,
        feature_definitions: Iterable[FeatureDefinition] | None = None,
        *,
        db_url: str | None = None,
        artifact_uri: str | None = None,
    ) -> None:
        self.name = validate_group_name(name)
        self.feature_definitions = coerce_definitions(feature_definitions or [])
        self._db_url = db_url
        self._artifact_uri = artifact_uri
        self._desc: FeatureGroupDescription | None = None

    def __repr__(self) -> str:
        return f"FeatureGroup({self.name!r})"

    # -- lifecycle -------------------------------------------------------------------------

    def _db(self) -> Database:
        return open_database(self._db_url)

    def load_feature_definitions(self, data) -> list[FeatureDefinition]:
        """Infer and keep definitions from a DataFrame's dtypes (int/float/string)."""
        self.feature_definitions = load_feature_definitions(data)
        return self.feature_definitions

    def create(
        self,
        *,
        record_identifier_name: str,
        event_time_feature_name: str,
        enable_online_store: bool = True,
        enable_offline_store: bool = True,
        online_store_uri: str | None = None,
        ttl_seconds: float | None = None,
        description: str = "",
        tags: dict[str, str] | None = None,
        exist_ok: bool = False,
    ) -> FeatureGroupDescription:
        """Create the group (status ``Created`` on return).

        ``exist_ok=True`` returns the existing group when its schema is the same, and raises
        ``ConflictError`` when it differs.
        """
        features = list(self.feature_definitions)
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
        existing = repo.find(db, self.name)
        if existing is not None and exist_ok:
            if (
                list(existing.feature_definitions) != features
                or existing.record_identifier_name != record_identifier_name
                or existing.event_time_feature_name != event_time_feature_name
            ):
                raise ConflictError(
                    f"feature group {self.name!r} exists with a different schema; delete it "
                    "or use another name"
                )
            self._desc = existing
            return existing
        now = time.time()
        offline_uri = None
        if enable_offline_store:
            artifacts = open_artifact_store(self._artifact_uri)
            offline_uri = artifacts.uri_for(*offline.location_parts(self.name, now))
        desc = FeatureGroupDescription(
            name=self.name,
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
            repo.update(db, self.name, status=CREATE_FAILED)
            raise
        self._desc = desc
        return desc

    def exists(self) -> bool:
        """Whether the group is recorded in the metadata DB."""
        return repo.find(self._db(), self.name) is not None

    @property
    def description(self) -> FeatureGroupDescription:
        """The cached description (loaded on first use; ``describe()`` refreshes it)."""
        if self._desc is None:
            self._desc = repo.get(self._db(), self.name)
        return self._desc

    def describe(self) -> FeatureGroupDescription:
        """Status, schema, store locations and record counts (read fresh)."""
        from dataclasses import replace

        db = self._db()
        desc = self._desc = repo.get(db, self.name)
        online_n = offline_n = None
        if desc.online_store_enabled:
            online_n = open_online_store(desc.online_store_uri).count(desc.name)
        if desc.offline_store_enabled:
            offline_n = offline.count_rows(desc, db)
        return replace(desc, online_record_count=online_n, offline_record_count=offline_n)

    def update(
        self,
        *,
        feature_additions: Sequence[FeatureDefinition] | None = None,
        ttl_seconds: float | None = None,
    ) -> FeatureGroupDescription:
        """Add features (add-only, as in SageMaker) and/or change the online TTL."""
        desc = repo.get(self._db(), self.name)
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
        repo.update(self._db(), self.name, last_update_status="Successful", **values)
        self._desc = None
        return self.description

    def delete(self, *, keep_offline_data: bool = False) -> None:
        """Delete the group, its online records and (unless kept) its offline data."""
        db = self._db()
        desc = repo.get(db, self.name)
        repo.update(db, self.name, status=DELETING)
        if desc.online_store_enabled:
            open_online_store(desc.online_store_uri).drop_group(desc.name)
        if desc.offline_store_enabled and not keep_offline_data:
            offline.delete_data(desc)
        repo.delete(db, self.name)
        self._desc = None

    # -- data ------------------------------------------------------------------------------

    def ingest(
        self,
        data,
        *,
        max_workers: int | None = None,
        target_stores: Sequence[str] | None = None,
        ttl_seconds: float | None = None,
    ) -> IngestionReport:
        """Ingest a DataFrame, Arrow table, CSV/Parquet path or Ray Dataset.

        Rows are validated against the schema; valid rows go to the enabled stores (or
        ``target_stores``), rejected rows are listed in the report with their reasons.
        ``max_workers``: see ``rayline.featurestore.ingestion`` (default: chosen by size).
        ``ttl_seconds`` overrides the group's TTL for these records.
        """
        from rayline.featurestore.ingestion import ingest

        db = self._db()
        desc = self._desc = repo.get(db, self.name)
        return ingest(
            desc,
            data,
            db=db,
            max_workers=max_workers,
            target_stores=target_stores,
            ttl_seconds=ttl_seconds,
        )

    def _online(self):
        desc = self.description
        if not desc.online_store_enabled:
            raise UserInputError(f"feature group {self.name!r} has no online store")
        store = getattr(self, "_online_store", None)
        if store is None:
            store = self._online_store = open_online_store(desc.online_store_uri)
        return store

    def get_record(
        self, record_identifier, *, feature_names: Sequence[str] | None = None
    ) -> dict | None:
        """The latest live record as ``{feature: value}`` (only ``feature_names`` if given),
        or None when there is none (never written, deleted or expired)."""
        payload = self._online().get(self.name, str(record_identifier))
        if payload is None:
            return None
        record = json.loads(payload)
        if feature_names is None:
            return record
        return self._subset(record, feature_names)

    def batch_get_record(
        self, record_identifiers: Sequence, *, feature_names: Sequence[str] | None = None
    ) -> list[dict | None]:
        """Records for many identifiers in one round trip, aligned with the input."""
        ids = [str(r) for r in record_identifiers]
        found = self._online().batch_get(self.name, ids)
        out: list[dict | None] = []
        for rid in ids:
            payload = found.get(rid)
            if payload is None:
                out.append(None)
                continue
            record = json.loads(payload)
            out.append(record if feature_names is None else self._subset(record, feature_names))
        return out

    def _subset(self, record: dict, feature_names: Sequence[str]) -> dict:
        try:
            return {n: record[n] for n in feature_names}
        except KeyError as exc:
            if exc.args[0] in self.description.feature_names:
                return {n: record.get(n) for n in feature_names}
            raise SchemaError(
                f"feature {exc.args[0]!r} is not in feature group {self.name!r} (features: "
                f"{', '.join(self.description.feature_names)})"
            ) from None

    def delete_record(
        self,
        record_identifier,
        event_time,
        *,
        deletion_mode: str = SOFT_DELETE,
        target_stores: Sequence[str] | None = None,
    ) -> None:
        """Delete a record as of ``event_time`` (Unix seconds or ISO-8601), as SageMaker does.

        ``SoftDelete`` hides the record online (an older write cannot bring it back);
        ``HardDelete`` removes it and raises ``ConflictError`` when the stored record is not
        older than ``event_time``. Both append an ``is_deleted`` marker row offline (a hard
        delete that fails writes none).
        """
        from rayline.featurestore.ingestion import _targets

        if deletion_mode not in (SOFT_DELETE, HARD_DELETE):
            raise UserInputError(
                f"deletion_mode must be 'SoftDelete' or 'HardDelete' (got {deletion_mode!r})"
            )
        desc = self.description
        seconds = parse_event_time(event_time)
        if seconds is None:
            raise UserInputError(
                f"event time {event_time!r} is not Unix seconds or ISO-8601 (e.g. "
                "'2024-05-01T12:00:00Z')"
            )
        targets = _targets(desc, target_stores)
        rid = str(record_identifier)
        if ONLINE in targets:
            store = self._online()
            if deletion_mode == HARD_DELETE:
                removed = store.hard_delete(self.name, rid, seconds)
                if removed is False:
                    raise ConflictError(
                        f"record {rid!r} of {self.name!r} has an event time at or after "
                        f"{event_time!r}; a hard delete needs a later event time"
                    )
            else:
                store.put(self.name, OnlineRecords.tombstone(rid, seconds))
        if OFFLINE in targets:
            marker = _marker_row(desc, record_identifier, event_time, seconds)
            # One file, committed like an ingestion (its writer may be killed too).
            db, ingest_id = self._db(), uuid.uuid4().hex[:12]
            repo.begin_ingestion(db, self.name, ingest_id)
            offline.append(
                desc,
                marker,
                pa.array([seconds], pa.float64()),
                ingest_id=ingest_id,
                api_invocation_time=time.time(),
                is_deleted=True,
            )
            repo.commit_ingestion(db, ingest_id, rows=1)

    @property
    def offline_store_uri(self) -> str:
        """The offline data directory. Reading its files directly (``ray.data.read_parquet``)
        also reads those of ingestions that have not committed (or never will) and rows two
        concurrent ingestions both stored; ``query``, ``create_dataset`` and preprocessing's
        ``feature_group_source`` read only what is committed, each row once."""
        uri = self.description.offline_store_uri
        if uri is None:
            raise NotFoundError(f"feature group {self.name!r} has no offline store")
        return uri


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


def list_feature_groups(
    *, name_contains: str | None = None, db_url: str | None = None
) -> list[FeatureGroupDescription]:
    """Every feature group (oldest first), optionally those whose name contains a string."""
    return repo.list_all(open_database(db_url), name_contains=name_contains)
