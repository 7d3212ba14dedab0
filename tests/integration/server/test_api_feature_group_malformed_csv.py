"""Malformed CSV files uploaded to ``POST /feature-groups/{name}/ingest``: each a 400 problem
naming the uploaded file (not the server's temporary copy) and the line, and nothing written."""

from __future__ import annotations

import re

import pytest
from tests.malformed_csv import CASES, FEATURES

pytestmark = [pytest.mark.ray, pytest.mark.server]


@pytest.fixture
def houses(api_server):
    created = api_server.client.post(
        "/feature-groups",
        json={
            "name": "houses",
            "record_identifier_name": "id",
            "event_time_feature_name": "event_time",
            "feature_definitions": [f.to_dict() for f in FEATURES],
        },
    )
    assert created.status_code == 201, created.text
    return api_server.client


@pytest.mark.parametrize(("content", "error"), CASES)
def test_upload(houses, content, error):
    response = houses.post(
        "/feature-groups/houses/ingest", files={"file": ("houses.csv", content, "text/csv")}
    )
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    detail = response.json()["detail"]
    assert re.search("the uploaded file 'houses.csv'" + error, detail), detail
    assert "upload-" not in detail  # the server's temporary file stays its own
    described = houses.get("/feature-groups/houses").json()
    assert (described["online_record_count"], described["offline_record_count"]) == (0, 0)
