"""The whole reference workflow from a second machine: a client process with an empty
``RAYLINE_HOME``, no database, S3 or Ray settings, only the server's URL and a token, against a
real ``rayline server`` process on PostgreSQL, S3 (the local S3 server) and Redis.

The client (``remote_workflow_client.py``) creates the feature group and ingests the CSV,
upserts and starts the housing pipeline, follows its event stream and a running step's logs,
stops and retries another execution, is refused its own approval (four eyes) before a second
approver approves, deploys, invokes, reads lineage, runs SQL and deletes everything. The data
is in the server's bucket already, as a team's is in S3: the client cannot read it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import boto3
import pytest

pytestmark = pytest.mark.server

CLIENT = Path(__file__).with_name("remote_workflow_client.py")
DATA = Path(__file__).resolve().parents[3] / "examples" / "housing" / "data" / "house_pricing.csv"


def test_reference_workflow_through_the_server(production_server, local_s3, tmp_path):
    bucket = production_server.env["RAYLINE_ARTIFACT_URI"].removeprefix("s3://").split("/")[0]
    env = local_s3.environment()
    s3 = boto3.client(
        "s3",
        endpoint_url=env["AWS_ENDPOINT_URL_S3"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name=env["AWS_DEFAULT_REGION"],
    )
    s3.upload_file(str(DATA), bucket, "data/house_pricing.csv")

    # A second approver, made through the server by its admin (the token API is remote too).
    admin = production_server.client("admin")
    second = admin.post("/tokens", json={"name": "approver-two", "role": "approver"})
    assert second.status_code == 201, second.text

    suffix = uuid.uuid4().hex[:8]
    state = {
        "data_uri": f"s3://{bucket}/data/house_pricing.csv",
        "approver_tokens": [production_server.tokens["approver"], second.json()["secret"]],
        "feature_group": f"remote-housing-{suffix}",
        "endpoint": f"remote-housing-{suffix}",
        "prefix": f"remote-{suffix}",
        "gate": str(tmp_path / "gate"),
    }
    state_file = tmp_path / "state.json"
    state_file.write_text(json.dumps(state))
    home = tmp_path / "client-home"
    home.mkdir()

    done = subprocess.run(
        [sys.executable, str(CLIENT), str(state_file)],
        env=production_server.client_env("approver", home=home),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, (
        f"the client failed:\n{done.stderr[-6000:]}\n--- server log ---\n"
        f"{production_server.log.read_text()[-4000:]}"
    )
    seen = json.loads(done.stdout.strip().splitlines()[-1])

    rows = sum(1 for _ in DATA.open()) - 1
    assert seen["ingested_rows"] == rows
    assert seen["record_5"]["record_id"] == 5
    assert seen["status"] == "Succeeded", seen["failure"]
    assert "execution:Succeeded" in seen["events"]
    assert any(e.startswith("RegisterTrainedModel:") for e in seen["events"])
    assert seen["followed_log_chars"] > 0
    assert seen["stopped"] == "Stopped"
    assert seen["retried"] == "Succeeded"
    assert "four eyes" in seen["four_eyes"]
    assert seen["approved_by"] == "approver-two"
    assert seen["approval_status"] == "Approved"
    assert abs(seen["prediction"] - seen["price"]) <= 0.5 * seen["price"]
    assert "feature_group" in seen["lineage_kinds"]
    assert seen["sql_count"] == rows
    left = seen["left"]
    assert state["prefix"] + "-gated" not in left["pipelines"]
    assert "synthetic-housing-training-ray" not in left["pipelines"]
    assert state["feature_group"] not in left["feature_groups"]
    assert state["endpoint"] not in left["endpoints"]

    # The client wrote nothing of its own: no database, no artifacts, no MLflow store.
    assert [p.relative_to(home) for p in home.rglob("*")] == []
