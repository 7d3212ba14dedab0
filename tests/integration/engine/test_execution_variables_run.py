"""SageMaker's execution variables reach a step's code on a real local Ray."""

from __future__ import annotations

import pytest

from rayline import ExecutionVariables, Pipeline, step

pytestmark = pytest.mark.ray


@pytest.fixture(autouse=True)
def _ray(ray_session, rayline_home):
    return ray_session


def test_a_step_reads_its_own_job_name_and_the_execution_arn():
    @step
    def report(job, training_job, execution_arn, pipeline_arn):
        return [job, training_job, execution_arn, pipeline_arn]

    done = report(
        ExecutionVariables.PROCESSING_JOB_NAME,
        ExecutionVariables.TRAINING_JOB_NAME,
        ExecutionVariables.PIPELINE_EXECUTION_ARN,
        ExecutionVariables.PIPELINE_ARN,
    )
    execution = Pipeline("exec-vars", steps=[done]).start()
    assert execution.wait().status == "Succeeded"
    run_name = f"exec-vars-report-{execution.id}"
    assert execution.result("report") == [
        run_name,
        run_name,
        f"arn:rayline:pipeline/exec-vars/execution/{execution.id}",
        "arn:rayline:pipeline/exec-vars",
    ]
