"""Feature groups over the REST API, as a remote client drives them: create from a JSON spec,
list, describe, update, ingest an uploaded CSV and Parquet file, read and delete online records,
run one read-only SELECT; and every refusal (bad schema, taken name, unknown group, a file over
the upload limit, a statement other than a SELECT, a query past its timeout, a viewer writing)."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest

from rayline.auth import Role, create_token

pytestmark = [pytest.mark.ray, pytest.mark.server]

SPEC = {
    "name": "houses",
    "record_identifier_name": "house_id",
    "event_time_feature_name": "event_time",
    "feature_definitions": [
        {"FeatureName": "house_id", "FeatureType": "Integral"},
        {"FeatureName": "event_time", "FeatureType": "Fractional"},
        {"FeatureName": "city", "FeatureType": "String"},
        {"FeatureName": "price", "FeatureType": "Fractional"},
    ],
    "description": "house prices",
    "tags": {"team": "ml"},
}


def _frame(ids, *, at: float = 1_700_000_000.0) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "house_id": list(ids),
            "event_time": [at + i for i in ids],
            "city": [f"city-{i % 3}" for i in ids],
            "price": [1000.0 * i for i in ids],
        }
    )


def _csv(df: pd.DataFrame) -> bytes:
    return df.to_csv(index=False).encode()


def _parquet(df: pd.DataFrame) -> bytes:
    out = io.BytesIO()
    df.to_parquet(out, index=False)
    return out.getvalue()


def _problem(response, status: int) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    return response.json()["detail"]


def test_a_group_from_create_to_delete(api_server):
    client = api_server.client
    created = client.post("/feature-groups", json=SPEC)
    assert created.status_code == 201, created.text
    desc = created.json()
    assert desc["status"] == "Created" and desc["tags"] == {"team": "ml"}
    assert desc["feature_definitions"] == SPEC["feature_definitions"]

    # The same spec again is a conflict, unless exist_ok; a different schema conflicts anyway.
    assert "exists already" in _problem(client.post("/feature-groups", json=SPEC), 409)
    assert client.post("/feature-groups", json={**SPEC, "exist_ok": True}).status_code == 201
    other = {**SPEC, "exist_ok": True, "record_identifier_name": "city"}
    assert "different schema" in _problem(client.post("/feature-groups", json=other), 409)
    # What the caller got wrong is said.
    bad = {**SPEC, "name": "flats", "event_time_feature_name": "built"}
    assert "'built' is not among the features" in _problem(
        client.post("/feature-groups", json=bad), 422
    )
    reserved = {
        **SPEC,
        "name": "flats",
        "feature_definitions": [
            *SPEC["feature_definitions"],
            {"FeatureName": "year", "FeatureType": "Integral"},
        ],
    }
    assert "reserved" in _problem(client.post("/feature-groups", json=reserved), 422)
    assert "invalid" in _problem(client.post("/feature-groups", json={**SPEC, "name": "a b"}), 400)
    assert client.post("/feature-groups", json={**SPEC, "colour": "red"}).status_code == 422
    assert (
        client.post(
            "/feature-groups", json={**SPEC, "name": "flats", "exist_ok": False}
        ).status_code
        == 201
    )

    # Listing: paginated, filtered by name prefix.
    first = client.get("/feature-groups", params={"limit": 1}).json()
    assert [g["name"] for g in first["items"]] == ["houses"] and first["next_token"]
    second = client.get("/feature-groups", params={"limit": 1, "next_token": first["next_token"]})
    assert [g["name"] for g in second.json()["items"]] == ["flats"]
    assert second.json()["next_token"] is None
    only = client.get("/feature-groups", params={"name_prefix": "fl"}).json()["items"]
    assert [g["name"] for g in only] == ["flats"]
    assert client.get("/feature-groups", params={"name_prefix": "ats"}).json()["items"] == []

    # Ingest a CSV and a Parquet upload; the report says what was written and rejected.
    csv = client.post(
        "/feature-groups/houses/ingest", files={"file": ("a.csv", _csv(_frame(range(5))))}
    )
    assert csv.status_code == 200, csv.text
    report = csv.json()
    assert (
        report["rows_received"],
        report["online_rows_written"],
        report["offline_rows_written"],
    ) == (5, 5, 5)
    bad_rows = _frame(range(5, 8))
    bad_rows["event_time"] = bad_rows["event_time"].astype(object)
    bad_rows.loc[1, "event_time"] = "whenever"
    parquet = client.post(
        "/feature-groups/houses/ingest",
        files={"file": ("b.parquet", _parquet(bad_rows.astype({"event_time": str})))},
    )
    assert parquet.status_code == 200, parquet.text
    report = parquet.json()
    assert report["rows_received"] == 3 and [r["row"] for r in report["rejected"]] == [1]
    assert "'whenever'" in report["rejected"][0]["reason"]
    described = client.get("/feature-groups/houses").json()
    assert (described["online_record_count"], described["offline_record_count"]) == (7, 7)

    # Records: one, many (aligned, null where none), deleted.
    one = client.get(
        "/feature-groups/houses/records/3", params={"feature_names": ["price", "city"]}
    )
    assert one.json() == {"record": {"price": 3000.0, "city": "city-0"}}
    many = client.post("/feature-groups/houses/records/batch-get", json={"ids": [4, "1", 99]})
    records = many.json()["records"]
    assert [r and r["house_id"] for r in records] == [4, 1, None]
    assert "nope" in _problem(
        client.post(
            "/feature-groups/houses/records/batch-get", json={"ids": [1], "feature_names": ["nope"]}
        ),
        422,
    )
    assert client.delete("/feature-groups/houses/records/3").status_code == 204
    assert "no live record '3'" in _problem(client.get("/feature-groups/houses/records/3"), 404)
    assert "whole number" in _problem(client.delete("/feature-groups/houses/records/x"), 400)
    marker = client.post("/sql", json={"sql": 'SELECT house_id FROM "houses" WHERE is_deleted'})
    assert marker.json()["rows"] == [[3]]

    # Update: add a feature, change the TTL; nothing to update is refused.
    patched = client.patch(
        "/feature-groups/houses",
        json={
            "feature_additions": [{"FeatureName": "rooms", "FeatureType": "Integral"}],
            "ttl_seconds": 3600,
        },
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["ttl_seconds"] == 3600
    assert patched.json()["feature_definitions"][-1] == {
        "FeatureName": "rooms",
        "FeatureType": "Integral",
    }
    assert "nothing to update" in _problem(client.patch("/feature-groups/houses", json={}), 400)

    # Delete; then the group is gone.
    assert client.delete("/feature-groups/houses").status_code == 204
    assert "does not exist" in _problem(client.get("/feature-groups/houses"), 404)
    assert "does not exist" in _problem(
        client.post("/feature-groups/houses/ingest", files={"file": ("a.csv", b"x")}), 404
    )
    assert [g["name"] for g in client.get("/feature-groups").json()["items"]] == ["flats"]


def test_uploads_over_the_limit_are_refused_before_they_are_read(
    api_server, monkeypatch, rayline_home
):
    client = api_server.client
    assert client.post("/feature-groups", json=SPEC).status_code == 201
    monkeypatch.setenv("RAYLINE_SERVER_MAX_UPLOAD_MB", "0.01")  # 10,485 bytes
    big = _csv(_frame(range(2000)))
    assert len(big) > 20_000
    declared = client.post("/feature-groups/houses/ingest", files={"file": ("big.csv", big)})
    assert "over this server's limit of 10485 bytes" in _problem(declared, 413)

    # Without a Content-Length (chunked), the server stops reading at the limit.
    boundary = "rayline-test-boundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\n'
        "Content-Type: text/csv\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()

    def chunks():
        yield head
        for start in range(0, len(big), 4096):
            yield big[start : start + 4096]
        yield tail

    chunked = client.post(
        "/feature-groups/houses/ingest",
        content=chunks(),
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert "over this server's limit" in _problem(chunked, 413)
    # Nothing was ingested and no upload was left behind.
    assert client.get("/feature-groups/houses").json()["offline_record_count"] == 0
    assert not list((rayline_home / "tmp").glob("upload-*"))

    # Under the limit, the same kind of body goes in.
    small = _csv(_frame(range(10)))
    ok = client.post("/feature-groups/houses/ingest", files={"file": ("small.csv", small)})
    assert ok.status_code == 200 and ok.json()["offline_rows_written"] == 10


def test_malformed_uploads_are_refused_saying_why(api_server):
    client = api_server.client
    assert client.post("/feature-groups", json=SPEC).status_code == 201
    url = "/feature-groups/houses/ingest"
    assert "multipart/form-data" in _problem(client.post(url, content=b"house_id\n1\n"), 400)
    assert "neither .csv nor .parquet" in _problem(
        client.post(url, files={"file": ("a.xlsx", b"x")}), 400
    )
    assert "part 'data'" in _problem(client.post(url, files={"data": ("a.csv", b"x")}), 400)
    assert "not a readable Parquet" in _problem(
        client.post(url, files={"file": ("a.parquet", b"not parquet")}), 400
    )
    as_parquet = client.post(
        url, params={"format": "parquet"}, files={"file": ("upload", _parquet(_frame([1])))}
    )
    assert as_parquet.status_code == 200 and as_parquet.json()["offline_rows_written"] == 1
    wrong_columns = _csv(_frame([2]).drop(columns="price"))
    assert "lacks columns ['price']" in _problem(
        client.post(url, files={"file": ("c.csv", wrong_columns)}), 422
    )


def test_sql_runs_one_select_and_refuses_the_rest(api_server, monkeypatch, tmp_path):
    client = api_server.client
    assert client.post("/feature-groups", json=SPEC).status_code == 201
    frame = _frame(range(6))
    frame.loc[0, "price"] = float("nan")
    ingest = client.post(
        "/feature-groups/houses/ingest", files={"file": ("a.parquet", _parquet(frame))}
    )
    assert ingest.status_code == 200, ingest.text

    result = client.post(
        "/sql",
        json={"sql": 'SELECT house_id, price, write_time FROM "houses" ORDER BY house_id'},
    ).json()
    assert result["columns"] == ["house_id", "price", "write_time"]
    assert result["types"][:2] == ["int64", "double"]
    assert [r[:2] for r in result["rows"]] == [[0, None], *[[i, 1000.0 * i] for i in range(1, 6)]]
    assert result["rows"][0][2].endswith("+00:00") and result["truncated"] is False

    capped = client.post("/sql", json={"sql": 'SELECT * FROM "houses"', "max_rows": 4}).json()
    assert len(capped["rows"]) == 4 and capped["truncated"] is True
    monkeypatch.setenv("RAYLINE_SQL_MAX_ROWS", "2")  # the server's cap bounds what one asks
    clamped = client.post("/sql", json={"sql": "SELECT * FROM range(10)", "max_rows": 100}).json()
    assert (len(clamped["rows"]), clamped["truncated"], clamped["max_rows"]) == (2, True, 2)

    out = tmp_path / "stolen.csv"
    for sql in (
        f"COPY (SELECT * FROM \"houses\") TO '{out}'",
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM glob('/*')",
        "ATTACH '/tmp/x.db'",
        "INSTALL httpfs",
        "SET threads = 1",
        "PRAGMA version",
        "SELECT 1; SELECT 2",
        'DELETE FROM "houses"',
    ):
        detail = _problem(client.post("/sql", json={"sql": sql}), 400)
        assert "only one read-only SELECT" in detail, sql
    assert not out.exists()
    assert "quote names" in _problem(client.post("/sql", json={"sql": "SELECT * FROM nosuch"}), 400)
    assert client.post("/sql", json={"sql": "SELECT 1", "extra": 1}).status_code == 422

    monkeypatch.setenv("RAYLINE_SQL_TIMEOUT_S", "0.5")
    slow = client.post(
        "/sql", json={"sql": "SELECT count(*) FROM range(1000000000) a, range(1000000000) b"}
    )
    assert "ran longer than 0.5 s" in _problem(slow, 400)
    after = client.post("/sql", json={"sql": 'SELECT count(*) AS n FROM "houses"'})
    assert after.json()["rows"] == [[6]]


def test_a_viewer_reads_and_an_operator_writes(api_server, monkeypatch):
    assert api_server.client.post("/feature-groups", json=SPEC).status_code == 201
    _, viewer = create_token(name="viewer", role=Role.VIEWER)
    _, operator = create_token(name="operator", role=Role.OPERATOR)
    monkeypatch.setenv("RAYLINE_SERVER_AUTH", "on")
    as_viewer, as_operator = api_server.as_token(viewer), api_server.as_token(operator)
    assert as_viewer.get("/feature-groups/houses").status_code == 200
    assert as_viewer.post("/sql", json={"sql": "SELECT 1"}).status_code == 200
    upload = {"file": ("a.csv", _csv(_frame([1])))}
    assert "operator" in _problem(
        as_viewer.post("/feature-groups/houses/ingest", files=upload), 403
    )
    assert as_viewer.delete("/feature-groups/houses").status_code == 403
    assert as_viewer.post("/feature-groups", json={**SPEC, "name": "flats"}).status_code == 403
    assert as_operator.post("/feature-groups/houses/ingest", files=upload).status_code == 200
    record = as_viewer.get("/feature-groups/houses/records/1").json()["record"]
    assert json.loads(json.dumps(record))["price"] == 1000.0
