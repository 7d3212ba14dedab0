"""The reference workflow's ingestion as a pipeline step: the engine runs
``examples/housing/scripts/ingest.py`` in a Ray task, which ingests through Ray actors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rayline import ParameterString, Pipeline
from rayline.definition.steps import ProcessingInput, ProcessingOutput, ProcessingStep
from rayline.featurestore import FeatureGroup

pytestmark = pytest.mark.ray

SCRIPT = Path(__file__).resolve().parents[3] / "examples/housing/scripts/ingest.py"
CSV = str(
    Path(__file__).resolve().parents[3] / "examples" / "housing" / "data" / "house_pricing.csv"
)


def test_ingestion_step(ray_session, rayline_home):
    name = ParameterString("FeatureGroupName", default_value="fs-ray-synthetic-housing-data")
    ingest = ProcessingStep(
        "FeatureStoreIngestion",
        code=str(SCRIPT),
        inputs=[ProcessingInput(source=CSV, destination="raw")],
        outputs=[ProcessingOutput("summary")],
        arguments=["--feature_group_name", name, "--num_actors", "4"],
    )
    execution = Pipeline("housing-ingest", parameters=[name], steps=[ingest]).start()
    execution.wait()
    run = execution.step("FeatureStoreIngestion")
    assert run.status == "Succeeded"
    assert "10000 rows received, 0 rejected" in run.logs
    summary = Path(run.outputs["summary"].removeprefix("file://")) / "ingestion.json"
    assert json.loads(summary.read_text())["offline_rows_written"] == 10_000
    desc = FeatureGroup("fs-ray-synthetic-housing-data").describe()
    assert (desc.online_record_count, desc.offline_record_count) == (10_000, 10_000)


def test_ingestion_step_on_s3_artifacts(ray_session, s3_artifacts):
    """The same step with s3:// artifacts: the script sees plain local directories, its
    outputs are uploaded, and the group's offline store is Parquet on S3."""
    from rayline.store.artifacts import open_artifact_store

    ingest = ProcessingStep(
        "FeatureStoreIngestion",
        code=str(SCRIPT),
        inputs=[ProcessingInput(source=CSV, destination="raw")],
        outputs=[ProcessingOutput("summary")],
        arguments=["--feature_group_name", "fs-housing-on-s3", "--num_actors", "2"],
    )
    execution = Pipeline("housing-ingest-s3", steps=[ingest]).start()
    execution.wait()
    run = execution.step("FeatureStoreIngestion")
    assert run.status == "Succeeded", run.logs
    store = open_artifact_store()
    summary_uri = run.outputs["summary"].rstrip("/") + "/ingestion.json"
    assert summary_uri.startswith(s3_artifacts + "/")
    assert json.loads(store.get_bytes(summary_uri))["offline_rows_written"] == 10_000
    desc = FeatureGroup("fs-housing-on-s3").describe()
    assert desc.offline_store_uri.startswith(s3_artifacts + "/offline-store/fs-housing-on-s3-")
    assert (desc.online_record_count, desc.offline_record_count) == (10_000, 10_000)
