"""SageMaker's ``ExecutionVariables``: every one resolves, an unknown one is an error (no Ray)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from rayline import PipelineDefinitionError
from rayline.definition import ExecutionVariable, ExecutionVariables, Join, PipelineDefinition
from rayline.definition.expressions import from_request, resolve
from rayline.definition.steps import FailStep, ProcessingStep
from rayline.engine.resolution import CacheKeyResolver, ExecutionResolver, cache_key

# sagemaker.workflow.execution_variables.ExecutionVariables (SDK v2), attribute -> name.
SAGEMAKER = {
    "START_DATETIME": "StartDateTime",
    "CURRENT_DATETIME": "CurrentDateTime",
    "PIPELINE_NAME": "PipelineName",
    "PIPELINE_ARN": "PipelineArn",
    "PIPELINE_EXECUTION_ID": "PipelineExecutionId",
    "PIPELINE_EXECUTION_ARN": "PipelineExecutionArn",
    "TRAINING_JOB_NAME": "TrainingJobName",
    "PROCESSING_JOB_NAME": "ProcessingJobName",
}


@pytest.fixture
def script(tmp_path):
    path = tmp_path / "script.py"
    path.write_text("print('hello')\n")
    return str(path)


def _resolver(pipeline: PipelineDefinition, execution_id: str = "0123abcd4567ef89"):
    return ExecutionResolver(pipeline, execution_id, 0.0, {}, {}, None)


def test_every_sagemaker_execution_variable_exists_with_its_definition_name():
    for attribute, name in SAGEMAKER.items():
        variable = getattr(ExecutionVariables, attribute)
        assert variable.expr == {"Get": f"Execution.{name}"}
        assert from_request(variable.expr, {}) == variable
    assert set(SAGEMAKER.values()) == ExecutionVariables.NAMES


def test_the_pipeline_and_execution_variables_resolve(script):
    pipeline = PipelineDefinition("housing", steps=[ProcessingStep("Prep", code=script)])
    r = _resolver(pipeline)
    assert r.execution_variable("PipelineExecutionId") == "0123abcd4567ef89"
    assert r.execution_variable("PipelineName") == "housing"
    assert r.execution_variable("PipelineArn") == "arn:rayline:pipeline/housing"
    assert r.execution_variable("PipelineExecutionArn") == (
        "arn:rayline:pipeline/housing/execution/0123abcd4567ef89"
    )
    assert r.execution_variable("StartDateTime") == "1970-01-01T00:00:00+00:00"
    current = datetime.fromisoformat(r.execution_variable("CurrentDateTime"))
    assert abs((datetime.now(UTC) - current).total_seconds()) < 60


def test_an_unknown_variable_at_run_time_is_an_error_not_the_time(script):
    r = _resolver(PipelineDefinition("p", steps=[ProcessingStep("Prep", code=script)]))
    with pytest.raises(PipelineDefinitionError, match="unknown execution variable 'Nope'"):
        r.execution_variable("Nope")


def test_the_job_name_variables_name_the_run_of_the_step_that_reads_them(script):
    prep = ProcessingStep(
        "Prep",
        code=script,
        arguments=[
            "--job",
            ExecutionVariables.PROCESSING_JOB_NAME,
            "--training",
            ExecutionVariables.TRAINING_JOB_NAME,
            "--pipeline",
            ExecutionVariables.PIPELINE_NAME,
        ],
    )
    other = ProcessingStep("Other", code=script, arguments=[ExecutionVariables.TRAINING_JOB_NAME])
    pipeline = PipelineDefinition("housing", steps=[prep, other])
    r = _resolver(pipeline)
    # What the scheduler does before it submits a step: resolve the whole step.
    assert resolve(prep, r).arguments == (
        "--job",
        "housing-Prep-0123abcd4567ef89",
        "--training",
        "housing-Prep-0123abcd4567ef89",
        "--pipeline",
        "housing",
    )
    assert resolve(other, r).arguments == ("housing-Other-0123abcd4567ef89",)
    # The cache key is resolved the same way: another execution is another run name.
    keys = {
        cache_key(other, CacheKeyResolver(pipeline, execution_id, 0.0, {}, {}, None))
        for execution_id in ("e1", "e2")
    }
    assert len(keys) == 2


def test_a_job_name_outside_a_step_that_runs_a_job_says_so():
    message = Join(on=" ", values=["failed in", ExecutionVariables.TRAINING_JOB_NAME])
    pipeline = PipelineDefinition("p", steps=[FailStep("Fail", error_message=message)])
    # A fail step's message is resolved on its own, with the execution's unbound resolver.
    with pytest.raises(PipelineDefinitionError, match="'TrainingJobName' names the run of"):
        resolve(message, _resolver(pipeline))


def test_an_unknown_variable_in_python_is_refused_naming_the_valid_ones():
    with pytest.raises(PipelineDefinitionError, match="unknown execution variable 'Nope'") as info:
        ExecutionVariable("Nope")
    for name in SAGEMAKER.values():
        assert repr(name) in str(info.value)


def test_an_unknown_variable_in_a_definition_read_back_is_refused():
    message = Join(on=" ", values=["in", ExecutionVariables.PIPELINE_NAME])
    definition = PipelineDefinition("p", steps=[FailStep("Fail", error_message=message)])
    text = definition.definition()
    assert PipelineDefinition.from_definition(text).definition() == text
    broken = json.loads(text.replace("Execution.PipelineName", "Execution.PipelineNmae"))
    with pytest.raises(PipelineDefinitionError, match=r"'Execution\.PipelineNmae'") as info:
        PipelineDefinition.from_definition(broken)
    assert "unknown execution variable 'PipelineNmae'" in str(info.value)
    assert "'PipelineExecutionArn'" in str(info.value)


def test_validation_names_the_step_of_a_variable_renamed_after_creation():
    variable = ExecutionVariable("PipelineName")
    variable.name = "Nope"
    with pytest.raises(PipelineDefinitionError, match="variable 'Nope' in step 'Fail'"):
        PipelineDefinition("p", steps=[FailStep("Fail", error_message=Join(values=[variable]))])
