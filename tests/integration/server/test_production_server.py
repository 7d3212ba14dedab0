"""``production_server`` is what it says: a ``rayline server`` process whose metadata is in
PostgreSQL, whose files are in the bucket and whose online records are in Redis, answering each
role's token (the remote tests stand on it)."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.ray, pytest.mark.server]

GROUP = {
    "name": "fixture-check",
    "record_identifier_name": "id",
    "event_time_feature_name": "at",
    "feature_definitions": [
        {"FeatureName": "id", "FeatureType": "Integral"},
        {"FeatureName": "at", "FeatureType": "Fractional"},
    ],
}


def test_state_lands_in_postgresql_the_bucket_and_redis(production_server):
    import boto3
    import redis
    import sqlalchemy as sa

    env = production_server.env
    with production_server.client("viewer") as viewer:
        assert viewer.get("/feature-groups").status_code == 200
        assert viewer.post("/feature-groups", json=GROUP).status_code == 403
    with production_server.client("operator") as operator:
        created = operator.post("/feature-groups", json=GROUP)
        assert created.status_code == 201, created.text
        try:
            ingested = operator.post(
                "/feature-groups/fixture-check/ingest",
                files={"file": ("r.csv", "id,at\n1,1.0\n2,2.0\n")},
            )
            assert ingested.status_code == 200, ingested.text

            url = env["RAYLINE_DB_URL"].replace("postgresql://", "postgresql+psycopg://")
            engine = sa.create_engine(url)
            with engine.connect() as conn:
                names = conn.execute(sa.text("SELECT name FROM feature_groups")).scalars()
                assert "fixture-check" in set(names)
            engine.dispose()

            bucket, _, prefix = env["RAYLINE_ARTIFACT_URI"].removeprefix("s3://").partition("/")
            s3 = boto3.client(
                "s3",
                endpoint_url=env["AWS_ENDPOINT_URL_S3"],
                aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
                region_name=env["AWS_REGION"],
            )
            listed = s3.list_objects_v2(Bucket=bucket, Prefix=prefix)
            assert any("fixture-check" in o["Key"] for o in listed.get("Contents", []))

            store, _, key_prefix = env["RAYLINE_ONLINE_STORE_URI"].partition("?prefix=")
            client = redis.Redis.from_url(store)
            assert list(client.scan_iter(match=f"{key_prefix}*")), "no online record in Redis"
            client.close()
        finally:
            assert operator.delete("/feature-groups/fixture-check").status_code == 204
