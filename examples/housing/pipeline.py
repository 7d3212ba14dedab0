"""The reference workflow as a rayline pipeline: synthetic housing prices.

FeatureStoreIngestion → PreprocessData → HPTuning → EvaluateModel → CheckEvaluation
→ RegisterTrainedModel (RMSE within the threshold) or RMSEFail.

    rayline pipeline upsert examples/housing/pipeline.py
    rayline pipeline start synthetic-housing-training-ray --wait -p RMSEThreshold=20000

or run ``examples/housing/demo.py`` for the whole journey (approve, deploy, invoke, lineage).
"""

from __future__ import annotations

from pathlib import Path

from rayline import CacheConfig, ParameterFloat, ParameterInteger, ParameterString, Pipeline
from rayline.conditions import ConditionLessThanOrEqualTo
from rayline.functions import Join, JsonGet
from rayline.ml import ContinuousParameter, IntegerParameter, XGBoostTrainer
from rayline.steps import (
    ConditionStep,
    FailStep,
    ModelStep,
    ProcessingInput,
    ProcessingOutput,
    ProcessingStep,
    PropertyFile,
    TuningStep,
)

HERE = Path(__file__).resolve().parent
SCRIPTS = HERE / "scripts"
DATA = HERE / "data" / "house_pricing.csv"

PIPELINE_NAME = "synthetic-housing-training-ray"
MODEL_PACKAGE_GROUP = "synthetic-housing-models"


def get_pipeline(
    *,
    data: Path | str = DATA,
    max_jobs: int = 16,
    max_parallel_jobs: int = 2,
    placement: dict[str, float] | None = None,
    ingest_actors: int | str = "auto",
) -> Pipeline:
    """The reference pipeline, with the reference parameter names and defaults.

    ``data``: the raw CSV, a local path or an ``s3://`` URI (on a cluster whose nodes share no
    disk, a location every node reaches). ``placement``: Ray resources for preprocessing,
    tuning (each trial too) and evaluation, e.g. ``{"worker": 0.1}`` for the nodes that offer a
    ``worker`` resource, the way SageMaker steps name an instance type. ``ingest_actors``: the
    Ray actors that ingest the CSV, or ``"auto"``: actors for a large input on a multi-node
    cluster, the step's own process for a small one (starting four actors takes longer than
    ingesting 10k rows); the ingestion report says which ran.
    """
    placed = {"resources": dict(placement)} if placement else {}
    instance_count = ParameterInteger("ProcessingInstanceCount", default_value=1)
    feature_group = ParameterString(
        "FeatureGroupName", default_value="fs-ray-synthetic-housing-data"
    )
    bucket_prefix = ParameterString("Bucket_Prefix", default_value="aws-ray-mlops-workshop")
    rmse_threshold = ParameterFloat("RMSEThreshold", default_value=15000.0)
    train_size = ParameterString("TrainSize", default_value="0.6")
    validation_size = ParameterString("ValidationSize", default_value="0.2")
    test_size = ParameterString("TestSize", default_value="0.2")
    cache = CacheConfig(enable_caching=True, expire_after="PT12H")

    ingest = ProcessingStep(
        "FeatureStoreIngestion",
        code=str(SCRIPTS / "ingest.py"),
        arguments=["--feature_group_name", feature_group, "--num_actors", str(ingest_actors)],
        inputs=[ProcessingInput(source=str(data), destination="raw")],
        outputs=[ProcessingOutput("ingestion")],
        cache_config=cache,
    )
    preprocess = ProcessingStep(
        "PreprocessData",
        code=str(SCRIPTS / "preprocess.py"),
        arguments=[
            "--feature_group_name",
            feature_group,
            "--train_size",
            train_size,
            "--validation_size",
            validation_size,
            "--test_size",
            test_size,
        ],
        # The ingestion report is an input so that new ingested data invalidates this cache.
        inputs=[ProcessingInput(source=ingest.outputs["ingestion"], destination="ingestion")],
        outputs=[ProcessingOutput(n) for n in ("train", "validation", "test", "preprocessor")],
        **placed,
        cache_config=cache,
    )
    tune = TuningStep(
        "HPTuning",
        trainer=XGBoostTrainer(
            label="PRICE",
            num_boost_round=100,
            num_workers=2,
            params={"objective": "reg:squarederror", "eval_metric": ["mae", "rmse"]},
        ),
        hyperparameter_ranges={
            "max_depth": IntegerParameter(1, 8),
            "eta": ContinuousParameter(0.2, 1),
            "min_child_weight": ContinuousParameter(0, 120),
            "subsample": ContinuousParameter(0.2, 1),
        },
        objective_metric="validation:rmse",
        objective_type="Minimize",
        max_jobs=max_jobs,
        max_parallel_jobs=max_parallel_jobs,
        inputs={
            "train": preprocess.outputs["train"],
            "validation": preprocess.outputs["validation"],
        },
        **placed,
        cache_config=cache,
    )
    report = PropertyFile("EvaluationReport", output_name="evaluation", path="evaluation.json")
    evaluate = ProcessingStep(
        "EvaluateModel",
        code=str(SCRIPTS / "evaluate.py"),
        inputs=[
            ProcessingInput(source=tune.get_top_model_uri(top_k=0), destination="model"),
            ProcessingInput(source=preprocess.outputs["test"], destination="test"),
        ],
        outputs=[ProcessingOutput("evaluation")],
        property_files=[report],
        **placed,
        cache_config=cache,
    )
    register = ModelStep(
        "RegisterTrainedModel",
        model=tune.best_model,
        model_package_group=MODEL_PACKAGE_GROUP,
        preprocessor=preprocess.outputs["preprocessor"],
        metrics=evaluate.outputs["evaluation"],
        cache_config=cache,  # the same model, preprocessor and metrics: the same version
    )
    fail = FailStep(
        "RMSEFail",
        error_message=Join(on=" ", values=["Execution failed due to RMSE >", rmse_threshold]),
    )
    check = ConditionStep(
        "CheckEvaluation",
        conditions=[
            ConditionLessThanOrEqualTo(
                left=JsonGet(
                    step=evaluate, property_file=report, json_path="regression_metrics.rmse.value"
                ),
                right=rmse_threshold,
            )
        ],
        if_steps=[register],
        else_steps=[fail],
    )
    return Pipeline(
        PIPELINE_NAME,
        parameters=[
            instance_count,
            feature_group,
            bucket_prefix,
            rmse_threshold,
            train_size,
            validation_size,
            test_size,
        ],
        steps=[ingest, preprocess, tune, evaluate, check],
    )


if __name__ == "__main__":
    pipeline = get_pipeline()
    print(f"stored {pipeline.name} version {pipeline.upsert()}")
