"""The reference workflow once with ``RAYLINE_ARTIFACT_URI=s3://``: ingest -> preprocess -> tune
-> evaluate -> gate -> register, then approve, deploy, invoke with raw CSV rows, lineage and
cleanup, against the local S3 server (moto's, over HTTP). Everything the artifact store holds
must then be objects in the bucket, not files on the driver's disk."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.ray, pytest.mark.slow]

HOUSING = Path(__file__).resolve().parents[2] / "examples" / "housing"
ENDPOINT = "housing-s3"


def _objects(bucket_uri: str, prefix: str) -> list[str]:
    """Keys under ``prefix`` in the bucket (through boto3: an independent look at the server)."""
    from rayline.store.s3 import S3Connection, split_uri

    bucket, _ = split_uri(bucket_uri)
    client = S3Connection.from_environment().client()
    keys: list[str] = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys.extend(o["Key"] for o in page.get("Contents", []))
    return keys


def _sample_rows(n: int) -> tuple[list[str], list[float]]:
    with (HOUSING / "data" / "house_pricing.csv").open() as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[-n:]
    price = header.index("PRICE")
    features = [",".join(v for i, v in enumerate(r) if i != price) for r in body]
    return features, [float(r[price]) for r in body]


def test_housing_workflow_with_s3_artifacts(serve_port, s3_bucket, s3_artifacts, rayline_home):
    sys.path.insert(0, str(HOUSING))
    try:
        from pipeline import MODEL_PACKAGE_GROUP, get_pipeline
    finally:
        sys.path.remove(str(HOUSING))
    from rayline import delete_pipeline
    from rayline.featurestore import FeatureGroup
    from rayline.lineage import lineage
    from rayline.registry import ModelRegistry
    from rayline.serving import Endpoints
    from rayline.store.artifacts import open_artifact_store

    store = open_artifact_store()
    assert store.uri == s3_artifacts
    pipeline = get_pipeline(max_jobs=2, max_parallel_jobs=2)
    pipeline.upsert()
    execution = pipeline.start()
    record = execution.wait()
    assert record.status == "Succeeded", record.failure_reason
    statuses = {s.step_name: s.status.value for s in execution.list_steps()}
    assert statuses == {
        "FeatureStoreIngestion": "Succeeded",
        "PreprocessData": "Succeeded",
        "HPTuning": "Succeeded",
        "EvaluateModel": "Succeeded",
        "CheckEvaluation": "Succeeded",
        "RegisterTrainedModel": "Succeeded",
    }

    # Every step output is an object tree in the bucket, under the artifact root.
    outputs = {
        (step, name): uri
        for step in ("FeatureStoreIngestion", "PreprocessData", "HPTuning", "EvaluateModel")
        for name, uri in execution.step(step).outputs.items()
    }
    for (step, name), uri in outputs.items():
        assert uri.startswith(s3_artifacts + "/"), (step, name, uri)
        assert store.list_files(uri), f"{step}.{name} ({uri}) holds nothing"
    for split in ("train", "validation", "test"):
        files = store.list_files(outputs[("PreprocessData", split)])
        assert files and all(f.endswith(".parquet") for f in files)
    assert "preprocessor.json" in store.list_files(outputs[("PreprocessData", "preprocessor")])
    assert "model.ubj" in store.list_files(outputs[("HPTuning", "best_model")])
    trial_files = store.list_files(outputs[("HPTuning", "models")])
    tuning = execution.step("HPTuning").properties
    # Should a trial's model be missing, say which trial, how it ended and what the step printed.
    trials = [
        (t["trial"], t["status"], t.get("error"), t.get("model_uri")) for t in tuning["Trials"]
    ]
    assert len([f for f in trial_files if f.endswith("/model.ubj")]) == 2, (
        trial_files,
        trials,
        execution.logs("HPTuning")[-4000:],
    )
    assert all(u.startswith(outputs[("HPTuning", "models")]) for u in tuning["TopModelUris"])
    evaluation = json.loads(
        store.get_bytes(outputs[("EvaluateModel", "evaluation")] + "/evaluation.json")
    )
    rmse = evaluation["regression_metrics"]["rmse"]["value"]
    assert rmse < 15000 and execution.step("CheckEvaluation").properties["Outcome"] is True

    # The offline store: Parquet in the bucket, in the partition layout.
    feature_group = record.parameters["FeatureGroupName"]
    group_store = FeatureGroup(feature_group).offline_store_uri
    assert group_store.startswith(s3_artifacts + "/offline-store/")
    offline = [
        k
        for k in _objects(s3_bucket, group_store.removeprefix(s3_bucket + "/"))
        if k.endswith(".parquet")
    ]
    assert offline and all("/year=" in k and "/hour=" in k for k in offline), offline

    # MLflow's artifacts, through its own S3 repository, beside the artifact store.
    root_key = s3_artifacts.removeprefix(s3_bucket + "/")
    mlflow_keys = _objects(s3_bucket, f"{root_key}/mlflow-artifacts/")
    assert any(k.endswith("best_model/model.ubj") for k in mlflow_keys), mlflow_keys
    assert any(k.endswith("results/results.csv") for k in mlflow_keys), mlflow_keys

    # Nothing the store holds went to the driver's disk.
    assert not (rayline_home / "artifacts").exists()
    assert not (rayline_home / "mlflow-artifacts").exists()

    # Registration copied the version's files into the bucket.
    registry = ModelRegistry()
    props = execution.step("RegisterTrainedModel").properties
    group, version = props["ModelPackageGroupName"], props["ModelPackageVersion"]
    assert group == MODEL_PACKAGE_GROUP
    package = registry.describe(group, version)
    for uri in (package.model_uri, package.preprocessor_uri, package.metrics_uri):
        assert uri.startswith(f"{s3_artifacts}/registry/{group}/{version}/") and store.exists(uri)
    assert package.sources["model"].startswith(outputs[("HPTuning", "best_model")])

    # Approve, deploy (replicas read the model from the bucket), invoke with raw rows.
    # A second pair of eyes: the user who started the execution may not approve what it
    # registered (four eyes, enforced by the registry whatever the front end).
    registry.approve(group, version, reason="e2e on s3", by="e2e-reviewer")
    endpoints = Endpoints()
    try:
        endpoints.create(ENDPOINT, f"{group}/{version}")
        rows, actual = _sample_rows(5)
        answer, _ = endpoints.invoke(ENDPOINT, "\n".join(rows), content_type="text/csv")
        predicted = [float(v) for v in answer.decode().split()]
        assert len(predicted) == 5
        for p, a in zip(predicted, actual, strict=True):
            assert abs(p - a) / a < 0.5

        # Lineage: the version comes from the tuning step's output in the bucket.
        up = lineage(f"{group}/{version}").upstream
        assert ("step", "RegisterTrainedModel") in {(e.node.kind, e.node.label) for e in up}
        assert any(e.node.kind == "artifact" and e.relation == "model" for e in up)
    finally:
        endpoints.delete(ENDPOINT)

    # Cleanup removes the version's objects with the group.
    registry.delete_group(group, force=True)
    assert not store.list_files(store.uri_for("registry", group))
    delete_pipeline(pipeline.name)
    FeatureGroup(feature_group).delete()
