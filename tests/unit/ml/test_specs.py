"""ML specs and step definitions: validation, JSON round trips, expressions (no Ray)."""

from __future__ import annotations

import json
import sys

import pytest

from rayline.definition.expressions import StepOutput, StepProperty
from rayline.errors import PipelineDefinitionError, UserInputError
from rayline.ml import (
    CategoricalParameter,
    ContinuousParameter,
    IntegerParameter,
    TrainingStep,
    TuningStep,
    XGBoostTrainer,
)
from rayline.ml.hyperparameters import (
    normalize_objective_type,
    normalize_strategy,
    parameter_from_dict,
)
from rayline.ml.tuning import grid_points


def test_parameter_ranges_validate():
    with pytest.raises(UserInputError, match="greater than"):
        IntegerParameter(8, 1)
    with pytest.raises(UserInputError, match="positive min_value"):
        ContinuousParameter(0, 120, scaling_type="Logarithmic")
    with pytest.raises(UserInputError, match="scaling_type"):
        ContinuousParameter(0, 1, scaling_type="Quadratic")
    with pytest.raises(UserInputError, match="at least one"):
        CategoricalParameter([])
    for p in (
        IntegerParameter(1, 8),
        ContinuousParameter(0.01, 1, "Logarithmic"),
        CategoricalParameter(["a", 2]),
    ):
        assert parameter_from_dict(json.loads(json.dumps(p.to_dict()))) == p


def test_strategy_and_objective_names():
    assert normalize_strategy("bayesian") == "Bayesian"
    assert normalize_strategy("ASHA") == "Hyperband"
    assert normalize_objective_type("min") == "Minimize"
    with pytest.raises(UserInputError, match="Random, Bayesian, Hyperband, Grid"):
        normalize_strategy("genetic")


def test_grid_points_stay_within_max_jobs_and_ranges():
    ranges = {
        "max_depth": IntegerParameter(1, 8),
        "eta": ContinuousParameter(0.2, 1),
        "booster": CategoricalParameter(["gbtree", "dart"]),
    }
    points = grid_points(ranges, max_jobs=18)
    # 2 categorical values leave 9 points for 2 numeric axes: 3 evenly spaced values each.
    assert len(points) == 18
    assert {p["booster"] for p in points} == {"gbtree", "dart"}
    assert {p["max_depth"] for p in points} == {1, 4, 8}
    assert all(isinstance(p["max_depth"], int) for p in points)
    assert sorted({p["eta"] for p in points}) == pytest.approx([0.2, 0.6, 1.0])
    # A small integer range is not repeated beyond its distinct values.
    assert sorted({p["d"] for p in grid_points({"d": IntegerParameter(1, 2)}, max_jobs=10)}) == [
        1,
        2,
    ]


def test_trainer_validates_and_round_trips():
    with pytest.raises(UserInputError, match="num_boost_round"):
        XGBoostTrainer(label="y", num_boost_round=0)
    with pytest.raises(UserInputError, match="cpus_per_worker"):
        XGBoostTrainer(label="y", cpus_per_worker=0)
    t = XGBoostTrainer(label="y", params={"max_depth": 3}, num_workers=2, distributed=True)
    assert XGBoostTrainer.from_dict(json.loads(json.dumps(t.to_dict()))) == t
    assert t.with_params(eta=0.1).params == {"max_depth": 3, "eta": 0.1}


def _tuning(**kw):
    return TuningStep(
        "Tune",
        trainer=XGBoostTrainer(label="PRICE"),
        hyperparameter_ranges=kw.pop("ranges", {"max_depth": IntegerParameter(1, 8)}),
        inputs=kw.pop(
            "inputs",
            {"train": StepOutput("Prep", "train"), "validation": StepOutput("Prep", "validation")},
        ),
        **kw,
    )


def test_tuning_step_outputs_and_expressions():
    tune = _tuning(strategy="random", objective_type="maximize")
    assert tune.strategy == "Random" and tune.objective_type == "Maximize"
    assert tune.declared_outputs() == ("models", "results", "best_model")
    assert tune.get_top_model_uri(0) == StepOutput("Tune", "best_model")
    top2 = tune.get_top_model_uri(top_k=2)
    assert isinstance(top2, StepProperty) and top2.path == "TopModelUris[2]"
    assert tune.best_model.to_request() == {"Get": "Steps.Tune.Outputs['best_model']"}


def test_step_definitions_need_inputs_and_ranges():
    with pytest.raises(PipelineDefinitionError, match="'train' and 'validation'"):
        _tuning(inputs={"train": "x"})
    with pytest.raises(PipelineDefinitionError, match="hyperparameter_ranges"):
        _tuning(ranges={})
    with pytest.raises(PipelineDefinitionError, match="unknown input channel"):
        TrainingStep("T", trainer=XGBoostTrainer(label="y"), inputs={"train": "a", "tst": "b"})
    with pytest.raises(PipelineDefinitionError, match="XGBoostTrainer"):
        TrainingStep("T", trainer={"label": "y"}, inputs={"train": "a"})


def test_steps_round_trip_through_a_pipeline_definition():
    from rayline import ParameterInteger, Pipeline

    rounds = ParameterInteger("Rounds", default_value=50)
    train = TrainingStep(
        "Train",
        trainer=XGBoostTrainer(label="PRICE", num_boost_round=rounds, params={"eta": 0.3}),
        inputs={"train": "/data/train", "validation": "/data/val"},
    )
    tune = _tuning(
        inputs={"train": train.outputs["model"], "validation": "/data/val"},
        ranges={"eta": ContinuousParameter(0.01, 1, "Logarithmic"), "d": CategoricalParameter([1])},
        max_jobs=16,
        max_parallel_jobs=2,
    )
    pipeline = Pipeline("p", parameters=[rounds], steps=[train, tune])
    definition = pipeline.definition()
    again = Pipeline.from_definition(definition)
    assert again.definition() == definition
    steps = {s["Name"]: s for s in json.loads(definition)["Steps"]}
    train_args, tune_args = steps["Train"]["Arguments"], steps["Tune"]["Arguments"]
    # SageMaker's shape: string hyperparameters (expressions as they are), a channel list.
    assert train_args["HyperParameters"] == {
        "eta": "0.3",
        "num_round": {"Get": "Parameters.Rounds"},
    }
    assert train_args["InputDataConfig"][1]["ChannelName"] == "validation"
    assert train_args["InputDataConfig"][1]["DataSource"]["S3DataSource"]["S3Uri"] == "/data/val"
    assert train_args["Rayline"]["Trainer"]["NumBoostRound"] == {"Get": "Parameters.Rounds"}
    config = tune_args["HyperParameterTuningJobConfig"]
    assert config["ResourceLimits"]["MaxNumberOfTrainingJobs"] == 16
    assert config["ParameterRanges"]["ContinuousParameterRanges"] == [
        {"Name": "eta", "MinValue": "0.01", "MaxValue": "1", "ScalingType": "Logarithmic"}
    ]
    assert config["ParameterRanges"]["CategoricalParameterRanges"] == [
        {"Name": "d", "Values": ["1"]}
    ]
    assert again.graph.steps["Tune"].hyperparameter_ranges == tune.hyperparameter_ranges


def test_steps_in_the_shape_rayline_wrote_before_still_read():
    # A pipeline version stored before the ML kinds took SageMaker's shape.
    from rayline.definition.pipeline import PipelineDefinition

    trainer = {"Label": "PRICE", "Params": {"eta": 0.3}, "NumBoostRound": 20}
    old = {
        "Version": "2020-12-01",
        "Parameters": [],
        "Steps": [
            {
                "Name": "Train",
                "Type": "Training",
                "Arguments": {
                    "Trainer": trainer,
                    "InputDataConfig": {"train": "/data/train", "validation": "/data/val"},
                    "Resources": {"NumCpus": 2},
                },
            },
            {
                "Name": "Tune",
                "Type": "Tuning",
                "Arguments": {
                    "Trainer": trainer,
                    "HyperParameterRanges": {
                        "eta": {"Type": "Continuous", "MinValue": 0.1, "MaxValue": 1}
                    },
                    "Strategy": "Random",
                    "Objective": {"MetricName": "validation:mae", "Type": "Minimize"},
                    "ResourceLimits": {
                        "MaxNumberOfTrainingJobs": 3,
                        "MaxParallelTrainingJobs": 1,
                    },
                    "InputDataConfig": {"train": "/data/train", "validation": "/data/val"},
                    "RandomSeed": 7,
                    "Resources": {"NumCpus": 1},
                },
            },
        ],
    }
    steps = PipelineDefinition.from_definition(json.dumps(old)).graph.steps
    train, tune = steps["Train"], steps["Tune"]
    assert train.trainer == XGBoostTrainer(label="PRICE", params={"eta": 0.3}, num_boost_round=20)
    assert (train.inputs["validation"], train.num_cpus) == ("/data/val", 2)
    assert tune.hyperparameter_ranges == {"eta": ContinuousParameter(0.1, 1)}
    assert (tune.strategy, tune.objective_metric, tune.max_jobs, tune.seed) == (
        "Random",
        "validation:mae",
        3,
        7,
    )


def test_importing_step_definitions_stays_light():
    # The DSL must not pull in Ray, XGBoost or MLflow (the engine's hot path imports it).
    import subprocess

    code = (
        "import sys, rayline.ml.steps, rayline.ml.runners;"
        "print(sorted(m for m in ('ray', 'xgboost', 'mlflow') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
