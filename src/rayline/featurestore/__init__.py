"""The feature store: feature groups with an online store (latest record per identifier) and an
append-only offline store (Parquet), SQL over the offline store, and point-in-time datasets.

>>> from rayline.featurestore import FeatureGroup, load_feature_definitions
>>> fg = FeatureGroup("housing", load_feature_definitions(df))
>>> fg.create(record_identifier_name="record_id", event_time_feature_name="event_time")
>>> fg.ingest(df, max_workers=4).summary()
"""

from rayline.featurestore.dataset import DatasetBuilder, create_dataset
from rayline.featurestore.definitions import (
    FeatureDefinition,
    FeatureType,
    FractionalFeatureDefinition,
    IntegralFeatureDefinition,
    StringFeatureDefinition,
    load_feature_definitions,
)
from rayline.featurestore.description import FeatureGroupDescription
from rayline.featurestore.group import FeatureGroup, list_feature_groups
from rayline.featurestore.query import query
from rayline.featurestore.report import IngestionReport, RejectedRow

__all__ = [
    "DatasetBuilder",
    "FeatureDefinition",
    "FeatureGroup",
    "FeatureGroupDescription",
    "FeatureType",
    "FractionalFeatureDefinition",
    "IngestionReport",
    "IntegralFeatureDefinition",
    "RejectedRow",
    "StringFeatureDefinition",
    "create_dataset",
    "list_feature_groups",
    "load_feature_definitions",
    "query",
]
