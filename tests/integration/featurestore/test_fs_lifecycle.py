"""Feature group lifecycle on both metadata DBs (SQLite file, the machine's PostgreSQL)."""

from __future__ import annotations

import pandas as pd
import pytest

from rayline.errors import ConflictError, NotFoundError, SchemaError, UserInputError
from rayline.featurestore import (
    FeatureGroup,
    FractionalFeatureDefinition,
    IntegralFeatureDefinition,
    StringFeatureDefinition,
    list_feature_groups,
)
from rayline.store.artifacts import to_path


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request, rayline_home):
    if request.param == "sqlite":
        return None  # the default: $RAYLINE_HOME/rayline.db
    return request.getfixturevalue("postgres_url")


DEFS = [
    StringFeatureDefinition("id"),
    FractionalFeatureDefinition("t"),
    IntegralFeatureDefinition("n"),
]


def test_lifecycle(db_url):
    fg = FeatureGroup("lifecycle-test", DEFS, db_url=db_url)
    assert not fg.exists()
    with pytest.raises(NotFoundError, match="does not exist"):
        fg.describe()
    desc = fg.create(
        record_identifier_name="id",
        event_time_feature_name="t",
        description="for tests",
        tags={"team": "ml"},
        ttl_seconds=60,
    )
    assert desc.status == "Created"
    assert fg.exists()
    with pytest.raises(ConflictError, match="exists already"):
        FeatureGroup("lifecycle-test", DEFS, db_url=db_url).create(
            record_identifier_name="id", event_time_feature_name="t"
        )
    same = FeatureGroup("lifecycle-test", DEFS, db_url=db_url).create(
        record_identifier_name="id", event_time_feature_name="t", exist_ok=True
    )
    assert same.created_at == desc.created_at
    with pytest.raises(ConflictError, match="different schema"):
        FeatureGroup("lifecycle-test", DEFS[:2], db_url=db_url).create(
            record_identifier_name="id", event_time_feature_name="t", exist_ok=True
        )

    fg.ingest(pd.DataFrame({"id": ["a", "b"], "t": [1e9, 1e9], "n": [1, 2]}))
    d = fg.describe()
    assert (d.online_record_count, d.offline_record_count) == (0, 2)  # TTL 60 s: expired online
    assert d.tags == {"team": "ml"} and d.description == "for tests"
    assert d.feature_names == ("id", "t", "n")
    assert to_path(d.offline_store_uri).is_dir()
    assert d.to_dict()["feature_definitions"][2] == {"FeatureName": "n", "FeatureType": "Integral"}

    updated = fg.update(feature_additions=[StringFeatureDefinition("colour")], ttl_seconds=1e10)
    assert updated.feature_names == ("id", "t", "n", "colour")
    assert updated.ttl_seconds == 1e10 and updated.last_update_status == "Successful"
    with pytest.raises(SchemaError, match="defined twice"):
        fg.update(feature_additions=[IntegralFeatureDefinition("n")])
    with pytest.raises(UserInputError, match="nothing to update"):
        fg.update()
    fg.ingest(pd.DataFrame({"id": ["c"], "t": [2e9], "n": [3], "colour": ["red"]}))
    assert fg.get_record("c") == {"id": "c", "t": 2e9, "n": 3, "colour": "red"}

    names = [g.name for g in list_feature_groups(db_url=db_url)]
    assert "lifecycle-test" in names
    assert list_feature_groups(name_contains="nothing-like-it", db_url=db_url) == []

    fg.delete()
    assert not fg.exists()
    assert not to_path(d.offline_store_uri).exists()
    again = FeatureGroup("lifecycle-test", DEFS, db_url=db_url)
    again.create(record_identifier_name="id", event_time_feature_name="t")
    assert again.get_record("a") is None  # the old group's online records went with it
    again.delete()


def test_create_validates_before_writing(db_url):
    with pytest.raises(UserInputError, match="letters or digits"):
        FeatureGroup("bad name!", DEFS, db_url=db_url)
    fg = FeatureGroup("validated", DEFS, db_url=db_url)
    with pytest.raises(SchemaError, match="record identifier 'nope'"):
        fg.create(record_identifier_name="nope", event_time_feature_name="t")
    with pytest.raises(UserInputError, match="online store, the offline store, or both"):
        fg.create(
            record_identifier_name="id",
            event_time_feature_name="t",
            enable_online_store=False,
            enable_offline_store=False,
        )
    assert not fg.exists()
