"""MLflow artifacts with an ``s3://`` artifact store: experiments keep them under
``<artifact root>/mlflow-artifacts/<experiment>``, written by MLflow's own S3 repository (boto3)
with the settings rayline hands it, even where the process environment lacks them."""

from __future__ import annotations

import os

from rayline.store.artifacts import open_artifact_store
from rayline.tracking.runs import artifact_location, client, track_step


def test_step_artifacts_go_to_the_bucket(s3_artifacts, tmp_path, monkeypatch):
    assert artifact_location("exp") == f"{s3_artifacts}/mlflow-artifacts/exp"
    model = tmp_path / "model"
    model.mkdir()
    (model / "model.ubj").write_bytes(b"not really a model")
    # MLflow reads MLFLOW_S3_ENDPOINT_URL; rayline sets it (from the AWS settings) around the call.
    monkeypatch.delenv("MLFLOW_S3_ENDPOINT_URL", raising=False)
    with track_step(pipeline_name="s3-tracked", step_name="Train", step_type="Training") as t:
        t.log_artifacts(model, "model")
    assert "MLFLOW_S3_ENDPOINT_URL" not in os.environ
    run = client().get_run(t.run_id)
    assert run.info.artifact_uri.startswith(f"{s3_artifacts}/mlflow-artifacts/s3-tracked/")
    store = open_artifact_store()
    assert store.get_bytes(f"{run.info.artifact_uri}/model/model.ubj") == b"not really a model"
    listed = [a.path for a in client().list_artifacts(t.run_id, "model")]
    assert listed == ["model/model.ubj"]


def test_local_store_keeps_artifacts_in_home(rayline_home):
    assert artifact_location("exp") == (rayline_home / "mlflow-artifacts" / "exp").as_uri()
