"""What the feature store's front ends need (``FeatureGroup``, ``list_feature_groups``,
``query``, ``create_dataset`` and the CLI over them), and the one rule that picks who does it.

Two backends implement ``FeatureStore``: ``embedded.EmbeddedFeatureStore`` works on this
process's metadata DB, online and offline stores; ``remote.RemoteFeatureStore`` calls a rayline
server's REST API (``RAYLINE_SERVER_URL``). ``open_feature_store`` picks one, once, when a handle
is made (``rayline.remote.client.server_client``); the handles delegate and never ask again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from rayline.featurestore.dataset import DatasetBuilder
    from rayline.featurestore.definitions import FeatureDefinition
    from rayline.featurestore.description import FeatureGroupDescription
    from rayline.featurestore.report import IngestionReport


class FeatureStore(Protocol):
    """Feature groups by name: their lifecycle, data, records, SQL and datasets."""

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
    ) -> FeatureGroupDescription: ...

    def find(self, name: str) -> FeatureGroupDescription | None:
        """The stored description, or None when there is no such group."""

    def get(self, name: str) -> FeatureGroupDescription:
        """The stored description (``NotFoundError`` when there is none), without counts."""

    def describe(self, name: str) -> FeatureGroupDescription:
        """The description with its record counts."""

    def update(
        self,
        name: str,
        *,
        feature_additions: Sequence[FeatureDefinition] | None,
        ttl_seconds: float | None,
    ) -> FeatureGroupDescription: ...

    def delete(self, name: str, *, keep_offline_data: bool) -> None: ...

    def list_groups(self, *, name_contains: str | None) -> list[FeatureGroupDescription]: ...

    def ingest(
        self,
        name: str,
        data,
        *,
        max_workers: int | None,
        target_stores: Sequence[str] | None,
        ttl_seconds: float | None,
    ) -> IngestionReport: ...

    def get_record(
        self, name: str, record_identifier: str, *, feature_names: Sequence[str] | None
    ) -> dict | None: ...

    def batch_get_record(
        self, name: str, record_identifiers: list[str], *, feature_names: Sequence[str] | None
    ) -> list[dict | None]: ...

    def delete_record(
        self,
        name: str,
        record_identifier,
        event_time,
        *,
        deletion_mode: str,
        target_stores: Sequence[str] | None,
    ) -> None: ...

    def query(self, sql: str) -> pd.DataFrame:
        """One read-only SELECT over the offline stores, every row (or an error saying why
        not: never a silently short frame)."""

    def query_arrow(self, sql: str) -> pa.Table:
        """``query`` as a pyarrow Table."""

    def dataset_arrow(self, builder: DatasetBuilder) -> pa.Table: ...

    def dataset_parquet(self, builder: DatasetBuilder, location: str, *, keep_order: bool) -> int:
        """Write the dataset to one Parquet file at ``location``; returns its rows."""

    def dataset_sql(self, builder: DatasetBuilder) -> str: ...


def open_feature_store(
    *, db_url: str | None = None, artifact_uri: str | None = None
) -> FeatureStore:
    """The server's feature store when the API goes through a server (``RAYLINE_SERVER_URL``
    set, no explicit ``db_url``), else this process's own."""
    from rayline.remote.client import server_client

    client = server_client(db_url)
    if client is not None:
        from rayline.featurestore.remote import RemoteFeatureStore

        if artifact_uri is not None:
            from rayline.errors import UserInputError

            raise UserInputError(
                "artifact_uri= names this machine's artifact store, but RAYLINE_SERVER_URL sends "
                "the feature store to the server, which keeps its own; drop artifact_uri= (or "
                "pass db_url= as well to work embedded)"
            )
        return RemoteFeatureStore(client)
    from rayline.featurestore.embedded import EmbeddedFeatureStore

    return EmbeddedFeatureStore(db_url=db_url, artifact_uri=artifact_uri)
