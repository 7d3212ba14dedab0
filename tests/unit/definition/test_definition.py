"""Building, validating and serialising pipelines (no Ray)."""

from __future__ import annotations

import json

import pytest

from rayline import (
    CacheConfig,
    ParameterFloat,
    ParameterString,
    PipelineDefinitionError,
    RetryPolicy,
)
from rayline.definition import (
    ConditionEquals,
    ConditionGreaterThan,
    ConditionIn,
    ConditionLessThanOrEqualTo,
    ConditionNot,
    ConditionOr,
    ExecutionVariables,
    Join,
    JsonGet,
    ParallelismConfiguration,
    PipelineDefinition,
)
from rayline.definition.policies import parse_duration
from rayline.definition.steps import (
    ConditionStep,
    FailStep,
    ProcessingInput,
    ProcessingOutput,
    ProcessingStep,
    PropertyFile,
    step,
)


@pytest.fixture
def script(tmp_path):
    path = tmp_path / "script.py"
    path.write_text("print('hello')\n")
    return str(path)


def reference_like(script: str) -> PipelineDefinition:
    threshold = ParameterFloat("RMSEThreshold", default_value=15000.0)
    group = ParameterString("FeatureGroupName", default_value="fs-housing")
    cache = CacheConfig(enable_caching=True, expire_after="PT12H")
    ingest = ProcessingStep(
        "Ingest",
        code=script,
        arguments=["--group", group],
        inputs=[ProcessingInput(source=script, destination="raw")],
        cache_config=cache,
        retry_policies=[RetryPolicy(max_attempts=2, interval_seconds=0.5)],
    )
    prep = ProcessingStep(
        "Prep",
        code=script,
        depends_on=[ingest],
        outputs=[ProcessingOutput("train"), ProcessingOutput("test")],
        cache_config=cache,
    )
    report = PropertyFile("EvaluationReport", output_name="evaluation", path="evaluation.json")
    evaluate = ProcessingStep(
        "Evaluate",
        code=script,
        inputs=[ProcessingInput(source=prep.outputs["test"], destination="test")],
        arguments=["--run", ExecutionVariables.PIPELINE_EXECUTION_ID],
        outputs=[ProcessingOutput("evaluation")],
        property_files=[report],
    )
    fail = FailStep(
        "Fail", error_message=Join(on=" ", values=["Execution failed due to RMSE >", threshold])
    )

    @step
    def register(uri):
        return uri

    check = ConditionStep(
        "Check",
        conditions=[
            ConditionLessThanOrEqualTo(
                left=JsonGet(
                    step=evaluate, property_file=report, json_path="regression_metrics.rmse.value"
                ),
                right=threshold,
            )
        ],
        if_steps=[register(prep.outputs["train"])],
        else_steps=[fail],
    )
    return PipelineDefinition(
        "housing",
        parameters=[threshold, group],
        steps=[ingest, prep, evaluate, check],
        parallelism_config=ParallelismConfiguration(4),
    )


def test_definition_round_trips(script):
    pipeline = reference_like(script)
    definition = pipeline.definition()
    again = PipelineDefinition.from_definition(definition)
    assert again.definition() == definition
    doc = json.loads(definition)
    assert doc["Version"] == "2020-12-01"
    assert [s["Name"] for s in doc["Steps"]] == ["Ingest", "Prep", "Evaluate", "Check"]
    evaluate = doc["Steps"][2]["Arguments"]
    # A ProcessingStep's output, where SageMaker's ProcessingStep reports it.
    assert evaluate["ProcessingInputs"][0]["S3Input"]["S3Uri"] == {
        "Get": "Steps.Prep.ProcessingOutputConfig.Outputs['test'].S3Output.S3Uri"
    }
    container_arguments = evaluate["AppSpecification"]["ContainerArguments"]
    assert {"Get": "Execution.PipelineExecutionId"} in container_arguments
    cond = doc["Steps"][3]["Arguments"]["Conditions"][0]
    assert cond["LeftValue"]["Std:JsonGet"]["Path"] == "regression_metrics.rmse.value"
    fail = doc["Steps"][3]["Arguments"]["ElseSteps"][0]["Arguments"]["ErrorMessage"]
    assert fail == {
        "Std:Join": {
            "On": " ",
            "Values": ["Execution failed due to RMSE >", {"Get": "Parameters.RMSEThreshold"}],
        }
    }
    assert doc["Steps"][0]["CacheConfig"] == {"Enabled": True, "ExpireAfter": "PT12H"}


def test_graph_edges_come_from_data_references(script):
    graph = reference_like(script).graph
    assert graph.upstream["Prep"] == {"Ingest"}
    assert graph.upstream["Evaluate"] == {"Prep"}
    assert graph.upstream["Check"] == {"Evaluate"}
    assert graph.upstream["register"] == {"Check", "Prep"}
    assert graph.owner == {"register": ("Check", "if true"), "Fail": ("Check", "if false")}
    order = graph.topological_order()
    assert order.index("Ingest") < order.index("Prep") < order.index("Evaluate")


def test_function_steps_collect_their_upstream():
    @step
    def add(a, b):
        return a + b

    x = add(1, 2)
    total = add(add(x, 1), add(x, 2))
    pipeline = PipelineDefinition("sums", steps=[total])
    assert len(pipeline.graph.steps) == 4
    assert pipeline.graph.upstream[total.name] == {
        n for n in pipeline.graph.steps if n not in (x.name, total.name)
    }


def test_undeclared_property_file_is_named(script):
    producer = ProcessingStep(
        "EvaluateModel", code=script, outputs=[ProcessingOutput("evaluation")]
    )
    reader = FailStep(
        "F", error_message=JsonGet(step=producer, property_file="EvaluationReport", json_path="a.b")
    )
    with pytest.raises(
        PipelineDefinitionError,
        match=r"reads property file 'EvaluationReport' that step 'EvaluateModel' "
        r"does not declare .*outputs: 'evaluation'",
    ):
        PipelineDefinition("p", steps=[producer, reader])


def test_undeclared_output_is_named(script):
    prep = ProcessingStep("Prep", code=script, outputs=[ProcessingOutput("train")])
    with pytest.raises(PipelineDefinitionError, match=r"has no output 'test'.*'train'"):
        prep.outputs["test"]


def test_unknown_dependency_and_duplicate_names(script):
    a = ProcessingStep("A", code=script, depends_on=["Nope"])
    with pytest.raises(PipelineDefinitionError, match="depends on 'Nope'"):
        PipelineDefinition("p", steps=[a])
    with pytest.raises(PipelineDefinitionError, match="two different steps are named 'A'"):
        PipelineDefinition(
            "p",
            steps=[
                ProcessingStep("A", code=script),
                ProcessingStep("A", code=script, arguments=["x"]),
            ],
        )


def test_cycle_is_reported_with_its_path(script):
    a = ProcessingStep("A", code=script, depends_on=["B"])
    b = ProcessingStep("B", code=script, depends_on=["A"])
    with pytest.raises(PipelineDefinitionError, match=r"cycle: (A -> B -> A|B -> A -> B)"):
        PipelineDefinition("p", steps=[a, b])


def test_undeclared_parameter(script):
    t = ParameterFloat("T", default_value=1.0)
    with pytest.raises(PipelineDefinitionError, match=r"uses parameter 'T'.*does not declare"):
        PipelineDefinition("p", steps=[ProcessingStep("A", code=script, arguments=[t])])


def test_incomparable_condition_types():
    group = ParameterString("Group", default_value="a")
    fail = FailStep("F", error_message="x")
    with pytest.raises(PipelineDefinitionError, match=r"compares a string .*with a number"):
        PipelineDefinition(
            "p",
            parameters=[group],
            steps=[
                ConditionStep(
                    "C", conditions=[ConditionGreaterThan(left=group, right=3)], if_steps=[fail]
                )
            ],
        )


def test_missing_script_and_bad_names(tmp_path):
    with pytest.raises(PipelineDefinitionError, match="does not exist"):
        ProcessingStep("A", code=str(tmp_path / "missing.py"))
    with pytest.raises(PipelineDefinitionError, match="step name"):
        FailStep("no spaces allowed")
    with pytest.raises(PipelineDefinitionError, match="exactly one of code"):
        ProcessingStep("A")


def test_unknown_step_type_in_definition():
    with pytest.raises(PipelineDefinitionError, match="unknown type 'Teleport'"):
        PipelineDefinition.from_definition(
            {
                "Version": "2020-12-01",
                "Parameters": [],
                "Steps": [{"Name": "x", "Type": "Teleport"}],
            }
        )


def test_durations():
    assert parse_duration("PT12H").total_seconds() == 12 * 3600
    assert parse_duration("P1DT30M").total_seconds() == 86400 + 1800
    for bad in ("12h", "P", "PT", "P1H"):
        with pytest.raises(PipelineDefinitionError, match="ISO-8601"):
            parse_duration(bad)
    with pytest.raises(PipelineDefinitionError):
        CacheConfig(enable_caching=True, expire_after="12 hours")


class _Values:
    def __init__(self, **params):
        self.params = params

    def parameter(self, name):
        return self.params[name]

    def execution_variable(self, name):
        return name

    def step_output(self, step, output):
        return f"file:///{step}/{output}"

    def step_property(self, step, path):
        return 1

    def property_file(self, step, property_file):
        return {"regression_metrics": {"rmse": {"value": 9000.0}}, "items": [5, 6]}


def test_conditions_evaluate():
    r = _Values(T=15000.0, Mode="a")
    t = ParameterFloat("T", default_value=1.0)
    rmse = JsonGet(step="E", property_file="R", json_path="regression_metrics.rmse.value")
    assert ConditionLessThanOrEqualTo(left=rmse, right=t).evaluate(r)
    assert not ConditionGreaterThan(left=rmse, right=t).evaluate(r)
    assert ConditionIn(
        value=ParameterString("Mode", default_value="a"), in_values=["a", "b"]
    ).evaluate(r)
    assert ConditionNot(ConditionEquals(left=1, right=2)).evaluate(r)
    assert ConditionOr(
        [ConditionEquals(left=1, right=2), ConditionEquals(left=2, right=2)]
    ).evaluate(r)
    assert JsonGet(step="E", property_file="R", json_path="items[1]").resolve(r) == 6
    assert Join(on=" ", values=["RMSE >", t]).resolve(r) == "RMSE > 15000.0"
    with pytest.raises(PipelineDefinitionError, match="cannot compare"):
        ConditionGreaterThan(left="abc", right=t).evaluate(r)
    with pytest.raises(PipelineDefinitionError, match="has no value at"):
        JsonGet(step="E", property_file="R", json_path="regression_metrics.mae").resolve(r)


def test_retry_policy_schedule():
    policy = RetryPolicy(
        exception_types=["ConnectionError"], interval_seconds=1, backoff_rate=2, max_attempts=3
    )
    assert [policy.delay(n) for n in (1, 2, 3)] == [1, 2, 4]
    assert policy.allows(2, 0) and not policy.allows(3, 0)
    assert policy.matches(("ConnectionError", "OSError")) and not policy.matches(("KeyError",))
    with pytest.raises(PipelineDefinitionError, match="retry forever"):
        RetryPolicy(max_attempts=None)


def test_a_twin_reached_only_as_an_upstream_is_a_duplicate():
    from rayline import step

    @step(name="a")
    def first():
        return 1

    @step(name="a")
    def second(x):
        return x

    upstream = first()
    consumer = second(upstream)  # both named "a" (a second call would be named "a-2")
    with pytest.raises(PipelineDefinitionError, match="two different steps are named 'a'"):
        PipelineDefinition("p", steps=[consumer])
    with pytest.raises(PipelineDefinitionError, match="two different steps are named 'a'"):
        PipelineDefinition("p", steps=[upstream, consumer])


def test_steps_must_be_a_list_and_a_step_is_not_iterable():
    from rayline import step

    @step
    def one():
        return 1

    single = one()
    with pytest.raises(PipelineDefinitionError, match=r"steps= must be a list.*steps=\[\.\.\.\]"):
        PipelineDefinition("p", steps=single)
    with pytest.raises(TypeError, match="not iterable"):
        list(single)
    assert single["key"].to_request()  # indexing still reads the result
