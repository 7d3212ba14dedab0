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
