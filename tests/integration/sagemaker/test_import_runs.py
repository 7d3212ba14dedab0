"""A definition the SageMaker SDK wrote (fixture (a), the reference workflow's shape), imported
and run end to end on real Ray: the user's unchanged scripts read and write SageMaker's
container paths, the outputs land in the artifact store, and the condition picks its branch."""

from __future__ import annotations

import contextlib
import csv
import io
import json
from pathlib import Path

import pytest

from rayline import Pipeline
from rayline.store import locations

pytestmark = pytest.mark.ray

FIXTURES = Path(__file__).parents[2] / "fixtures" / "sagemaker"
MAPPINGS = {"s3://sagemaker-us-east-1-111122223333/abalone": FIXTURES}


def _rows(execution, step: str, output: str) -> list[list[str]]:
    uri = execution.step(step).outputs[output].rstrip("/") + f"/{output}.csv"
    return list(csv.reader(io.StringIO(locations.read_bytes(uri).decode())))


def test_the_imported_reference_workflow_runs_and_takes_its_branch(ray_session, rayline_home):
    pipeline = Pipeline.from_sagemaker_definition(
        (FIXTURES / "abalone.json").read_text(), name="abalone", mappings=MAPPINGS
    )
    pipeline.upsert()

    good = pipeline.start(parameters={"TrainRatio": 0.5})
    assert good.wait().status == "Succeeded", [
        (s.step_name, s.failure_reason, s.user_traceback)
        for s in good.list_steps()
        if s.failure_reason
    ]
    # preprocess.py split 60 rows with --train-ratio 0.5 into /opt/ml/processing/<split>.
    train = _rows(good, "PreprocessAbaloneData", "train")
    validation = _rows(good, "PreprocessAbaloneData", "validation")
    test = _rows(good, "PreprocessAbaloneData", "test")
    assert (len(train), len(validation), len(test)) == (30, 15, 15)
    source = list(csv.reader((FIXTURES / "abalone-dataset.csv").open()))
    assert sorted(train + validation + test) == sorted(r for r in source if r)
    # evaluate.py's report is the PropertyFile the condition read; PublishReport (if true) ran.
    report_uri = good.step("EvaluateAbaloneModel").outputs["evaluation"].rstrip("/")
    report = json.loads(locations.read_bytes(report_uri + "/evaluation.json"))
    mean = sum(float(r[-1]) for r in train) / len(train)
    mse = sum((float(r[-1]) - mean) ** 2 for r in test) / len(test)
    assert report["regression_metrics"]["mse"]["value"] == pytest.approx(mse)
    assert good.step("CheckMSEAbaloneEvaluation").properties["Outcome"] is True
    published = good.step("PublishReport").outputs["report"].rstrip("/") + "/evaluation.json"
    assert json.loads(locations.read_bytes(published)) == report
    assert "AbaloneMSEFail" not in {s.step_name for s in good.list_steps()}

    # A threshold below the MSE takes the else branch: the FailStep fails the execution with
    # its Std:Join message, and PublishReport does not run.
    bad = pipeline.start(parameters={"TrainRatio": 0.5, "MseThreshold": mse / 2})
    record = bad.wait(raise_on_failure=False)
    assert record.status == "Failed"
    assert bad.step("CheckMSEAbaloneEvaluation").properties["Outcome"] is False
    assert f"Execution failed due to MSE > {mse / 2}" in (record.failure_reason or "")
    assert "PublishReport" not in {s.step_name for s in bad.list_steps()}


def test_code_and_data_are_read_from_the_users_bucket_through_the_s3_store(
    ray_session, s3_artifacts, local_s3
):
    # The user's bucket as SageMaker left it: the scripts under code/ and the raw data. No
    # mapping: the importer reads the code, and the step its input, through the S3 settings.
    bucket = "sagemaker-us-east-1-111122223333"
    with contextlib.suppress(Exception):  # the session's server may hold it already
        local_s3.create_bucket(bucket)
    prefix = f"s3://{bucket}/abalone"
    for path in [*(FIXTURES / "code").glob("*.py"), FIXTURES / "abalone-dataset.csv"]:
        relative = path.relative_to(FIXTURES).as_posix()
        locations.write_bytes(f"{prefix}/{relative}", path.read_bytes())
    pipeline = Pipeline.from_sagemaker_definition(
        (FIXTURES / "abalone.json").read_text(), name="abalone-s3"
    )
    assert (
        pipeline.graph.steps["PreprocessAbaloneData"].function.source
        == (FIXTURES / "code" / "preprocess.py").read_bytes()
    )
    execution = pipeline.start()
    assert execution.wait().status == "Succeeded"
    train = _rows(execution, "PreprocessAbaloneData", "train")
    assert len(train) == 42  # 60 rows, the default TrainRatio 0.7
    assert execution.step("PreprocessAbaloneData").outputs["train"].startswith(s3_artifacts)
