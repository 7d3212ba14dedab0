"""``FeatureGroup``: the client-side handle users know from SageMaker.

>>> fg = FeatureGroup("housing", feature_definitions=load_feature_definitions(df))
>>> fg.create(record_identifier_name="record_id", event_time_feature_name="event_time")
>>> report = fg.ingest(df, max_workers=4)
>>> fg.get_record("42", feature_names=["PRICE"])
{'PRICE': 490098}

A handle works on this process's stores, or through the server that ``RAYLINE_SERVER_URL``
names (``backend.open_feature_store``, chosen once when the handle is made). It caches the
group's description after the first use, so reads from the online store cost one key lookup
and no metadata query.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rayline.errors import NotFoundError
from rayline.featurestore.backend import open_feature_store
from rayline.featurestore.definitions import (
    FeatureDefinition,
    coerce_definitions,
    load_feature_definitions,
    validate_group_name,
)
from rayline.featurestore.description import FeatureGroupDescription
from rayline.featurestore.embedded import SOFT_DELETE
from rayline.featurestore.report import IngestionReport


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
        self._store = open_feature_store(db_url=db_url, artifact_uri=artifact_uri)

    def __repr__(self) -> str:
        return f"FeatureGroup({self.name!r})"

    # -- lifecycle -------------------------------------------------------------------------

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
        return self._store.create(
            self.name,
            list(self.feature_definitions),
            record_identifier_name=record_identifier_name,
            event_time_feature_name=event_time_feature_name,
            enable_online_store=enable_online_store,
            enable_offline_store=enable_offline_store,
            online_store_uri=online_store_uri,
            ttl_seconds=ttl_seconds,
            description=description,
            tags=dict(tags or {}),
            exist_ok=exist_ok,
        )

    def exists(self) -> bool:
        """Whether the group is recorded in the metadata DB."""
        return self._store.find(self.name) is not None

    @property
    def description(self) -> FeatureGroupDescription:
        """The cached description (loaded on first use; ``describe()`` refreshes it)."""
        return self._store.get(self.name)

    def describe(self) -> FeatureGroupDescription:
        """Status, schema, store locations and record counts (read fresh)."""
        return self._store.describe(self.name)

    def update(
        self,
        *,
        feature_additions: Sequence[FeatureDefinition] | None = None,
        ttl_seconds: float | None = None,
    ) -> FeatureGroupDescription:
        """Add features (add-only, as in SageMaker) and/or change the online TTL."""
        return self._store.update(
            self.name, feature_additions=feature_additions, ttl_seconds=ttl_seconds
        )

    def delete(self, *, keep_offline_data: bool = False) -> None:
        """Delete the group, its online records and (unless kept) its offline data."""
        self._store.delete(self.name, keep_offline_data=keep_offline_data)

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
        ``ttl_seconds`` overrides the group's TTL for these records. Through a server, the
        input is uploaded in chunks under the server's upload cap, all of them one ingestion:
        nothing is visible before the last chunk commits (``rayline.featurestore.remote``).
        """
        return self._store.ingest(
            self.name,
            data,
            max_workers=max_workers,
            target_stores=target_stores,
            ttl_seconds=ttl_seconds,
        )

    def get_record(
        self, record_identifier, *, feature_names: Sequence[str] | None = None
    ) -> dict | None:
        """The latest live record as ``{feature: value}`` (only ``feature_names`` if given),
        or None when there is none (never written, deleted or expired)."""
        return self._store.get_record(
            self.name, str(record_identifier), feature_names=feature_names
        )

    def batch_get_record(
        self, record_identifiers: Sequence, *, feature_names: Sequence[str] | None = None
    ) -> list[dict | None]:
        """Records for many identifiers in one round trip, aligned with the input."""
        ids = [str(r) for r in record_identifiers]
        return self._store.batch_get_record(self.name, ids, feature_names=feature_names)

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
        self._store.delete_record(
            self.name,
            record_identifier,
            event_time,
            deletion_mode=deletion_mode,
            target_stores=target_stores,
        )

    @property
    def offline_store_uri(self) -> str:
        """The offline data directory (through a server: where the server keeps it). Reading
        its files directly (``ray.data.read_parquet``) also reads those of ingestions that have
        not committed (or never will) and rows two concurrent ingestions both stored; ``query``,
        ``create_dataset`` and preprocessing's ``feature_group_source`` read only what is
        committed, each row once."""
        uri = self.description.offline_store_uri
        if uri is None:
            raise NotFoundError(f"feature group {self.name!r} has no offline store")
        return uri


def list_feature_groups(
    *, name_contains: str | None = None, db_url: str | None = None
) -> list[FeatureGroupDescription]:
    """Every feature group (oldest first), optionally those whose name contains a string."""
    return open_feature_store(db_url=db_url).list_groups(name_contains=name_contains)
