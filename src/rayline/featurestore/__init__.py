"""The feature store: feature groups with an online store (latest record per identifier) and an
append-only offline store (Parquet), SQL over the offline store, and point-in-time datasets.

>>> from rayline.featurestore import FeatureGroup, load_feature_definitions
>>> fg = FeatureGroup("housing", load_feature_definitions(df))
>>> fg.create(record_identifier_name="record_id", event_time_feature_name="event_time")
>>> fg.ingest(df, max_workers=4).summary()

The records the API returns are exported here too: ``FeatureGroupDescription``
(``FeatureGroup.describe()``), ``IngestionReport`` and its ``RejectedRow`` (``ingest``),
``DatasetBuilder`` (``create_dataset``).

With ``RAYLINE_SERVER_URL`` (and ``RAYLINE_TOKEN``) set, all of it goes through the server's
REST API and nothing is read or written on this machine (``backend``: one ``FeatureStore`` per
handle, embedded or ``remote``, chosen when the handle is made).

Names are imported on first use, so the metadata table's module (``_tables``, gathered by the
migrations) and the online stores load without DuckDB and the rest of the feature store.
"""

from __future__ import annotations

from rayline._lazy import lazy_exports

# The public names, by the module that defines them.
_DEFINED_IN = {
    "dataset": ("DatasetBuilder", "create_dataset"),
    "definitions": (
        "FeatureDefinition",
        "FeatureType",
        "FractionalFeatureDefinition",
        "IntegralFeatureDefinition",
        "StringFeatureDefinition",
        "load_feature_definitions",
    ),
    "description": ("FeatureGroupDescription",),
    "group": ("FeatureGroup", "list_feature_groups"),
    "offline_sql": ("query", "query_arrow"),
    "report": ("IngestionReport", "RejectedRow"),
}
_EXPORTS = {name: f"{__name__}.{module}" for module, names in _DEFINED_IN.items() for name in names}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
