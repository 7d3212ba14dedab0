"""``rayline.__all__`` is the curated public API; changing it is a deliberate act."""

from __future__ import annotations

import inspect

import rayline

EXPECTED = {
    "AuthenticationError",
    "BackendError",
    "LeaseLostError",
    "PermissionDeniedError",
    "TooLargeError",
    "CacheConfig",
    "ConfigError",
    "ConflictError",
    "Execution",
    "ExecutionFailedError",
    "ExecutionStatus",
    "ExecutionVariables",
    "NotFoundError",
    "ParallelismConfiguration",
    "ParameterBoolean",
    "ParameterError",
    "ParameterFloat",
    "ParameterInteger",
    "ParameterString",
    "Pipeline",
    "PipelineDefinitionError",
    "ProcessingContext",
    "RaylineError",
    "RetryPolicy",
    "SchemaError",
    "SelectiveExecutionConfig",
    "StepFailedError",
    "StepStatus",
    "UserInputError",
    "__version__",
    "delete_pipeline",
    "list_executions",
    "list_pipelines",
    "processing_context",
    "step",
    "FeatureGroup",
    "FeatureDefinition",
    "FeatureType",
    "IngestionReport",
    "list_feature_groups",
    "query",
    "create_dataset",
    "XGBoostTrainer",
    "ContinuousParameter",
    "IntegerParameter",
    "CategoricalParameter",
    "ModelRegistry",
    "ApprovalStatus",
    "Endpoints",
    # the records the APIs return
    "EventKind",
    "PipelineRecord",
    "ExecutionRecord",
    "StepRunRecord",
    "EventRecord",
    "FeatureGroupDescription",
    "ModelPackageGroup",
    "ModelPackage",
    "Endpoint",
    "EndpointStatus",
}


def test_all_is_the_curated_api():
    assert set(rayline.__all__) == EXPECTED


def test_every_public_name_exists_and_is_documented():
    for name in rayline.__all__:
        obj = getattr(rayline, name)
        if name != "__version__":
            assert obj.__doc__, f"rayline.{name} has no docstring"


def test_public_methods_of_public_classes_are_documented():
    undocumented = []
    for name in rayline.__all__:
        cls = getattr(rayline, name)
        if not isinstance(cls, type) or issubclass(cls, Exception):
            continue
        for attr, member in vars(cls).items():
            if attr.startswith("_"):
                continue
            func = member.__func__ if isinstance(member, (classmethod, staticmethod)) else member
            func = func.fget if isinstance(func, property) else func
            if inspect.isfunction(func) and not func.__doc__:
                undocumented.append(f"{name}.{attr}")
    assert not undocumented, f"public methods without a docstring: {undocumented}"


def test_errors_share_one_root():
    for name in rayline.__all__:
        obj = getattr(rayline, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, rayline.RaylineError), name


def test_sagemaker_style_facades_import():
    from rayline.conditions import ConditionLessThanOrEqualTo  # noqa: F401
    from rayline.functions import Join, JsonGet  # noqa: F401
    from rayline.steps import (  # noqa: F401
        ConditionStep,
        FailStep,
        ModelStep,
        ProcessingInput,
        ProcessingOutput,
        ProcessingStep,
        PropertyFile,
        TrainingStep,
        TuningStep,
    )
