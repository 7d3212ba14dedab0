"""rayline: durable, cached ML pipelines on Ray, with a feature store, experiment tracking,
a model registry with approvals, and real-time endpoints on Ray Serve.

The public API is what ``__all__`` lists; everything else is internal. Names are imported on
first use, so ``import rayline`` (and the CLI) stays fast and the pure DSL never pulls in Ray or
the storage layer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rayline._lazy import lazy_exports
from rayline._version import __version__

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    # errors
    "RaylineError": "rayline.errors",
    "UserInputError": "rayline.errors",
    "PipelineDefinitionError": "rayline.errors",
    "ParameterError": "rayline.errors",
    "SchemaError": "rayline.errors",
    "ConfigError": "rayline.errors",
    "NotFoundError": "rayline.errors",
    "ConflictError": "rayline.errors",
    "StepFailedError": "rayline.errors",
    "ExecutionFailedError": "rayline.errors",
    "BackendError": "rayline.errors",
    "TooLargeError": "rayline.errors",
    "LeaseLostError": "rayline.errors",
    "AuthenticationError": "rayline.errors",
    "PermissionDeniedError": "rayline.errors",
    # pipelines
    "Pipeline": "rayline.pipelines",
    "list_pipelines": "rayline.pipelines",
    "delete_pipeline": "rayline.pipelines",
    "ParameterString": "rayline.definition",
    "ParameterInteger": "rayline.definition",
    "ParameterFloat": "rayline.definition",
    "ParameterBoolean": "rayline.definition",
    "CacheConfig": "rayline.definition",
    "RetryPolicy": "rayline.definition",
    "ParallelismConfiguration": "rayline.definition",
    "SelectiveExecutionConfig": "rayline.definition",
    "ExecutionVariables": "rayline.definition",
    "step": "rayline.definition.steps",
    # executions
    "Execution": "rayline.executions",
    "list_executions": "rayline.executions",
    "ExecutionStatus": "rayline.engine.records",
    "StepStatus": "rayline.engine.records",
    "EventKind": "rayline.engine.records",
    # records the pipeline and execution APIs return
    "PipelineRecord": "rayline.engine.records",
    "ExecutionRecord": "rayline.engine.records",
    "StepRunRecord": "rayline.engine.records",
    "EventRecord": "rayline.engine.records",
    "ProcessingContext": "rayline.engine.context",
    "processing_context": "rayline.engine.context",
    # feature store
    "FeatureGroup": "rayline.featurestore",
    "FeatureDefinition": "rayline.featurestore",
    "FeatureType": "rayline.featurestore",
    "IngestionReport": "rayline.featurestore",
    "FeatureGroupDescription": "rayline.featurestore",
    "list_feature_groups": "rayline.featurestore",
    "query": "rayline.featurestore",
    "create_dataset": "rayline.featurestore",
    # machine learning
    "XGBoostTrainer": "rayline.ml",
    "ContinuousParameter": "rayline.ml",
    "IntegerParameter": "rayline.ml",
    "CategoricalParameter": "rayline.ml",
    # registry and serving
    "ModelRegistry": "rayline.registry",
    "ApprovalStatus": "rayline.registry",
    "ModelPackageGroup": "rayline.registry",
    "ModelPackage": "rayline.registry",
    "Endpoints": "rayline.serving",
    "Endpoint": "rayline.serving",
    "EndpointStatus": "rayline.serving",
}

__all__ = sorted([*_EXPORTS, "__version__"])
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs
    from rayline.definition import *
    from rayline.definition.steps import step
    from rayline.engine.context import ProcessingContext, processing_context
    from rayline.engine.records import (
        EventKind,
        EventRecord,
        ExecutionRecord,
        ExecutionStatus,
        PipelineRecord,
        StepRunRecord,
        StepStatus,
    )
    from rayline.errors import *
    from rayline.executions import Execution, list_executions
    from rayline.featurestore import (
        FeatureDefinition,
        FeatureGroup,
        FeatureGroupDescription,
        FeatureType,
        IngestionReport,
        create_dataset,
        list_feature_groups,
        query,
    )
    from rayline.ml import (
        CategoricalParameter,
        ContinuousParameter,
        IntegerParameter,
        XGBoostTrainer,
    )
    from rayline.pipelines import Pipeline, delete_pipeline, list_pipelines
    from rayline.registry import ApprovalStatus, ModelPackage, ModelPackageGroup, ModelRegistry
    from rayline.serving import Endpoint, Endpoints, EndpointStatus
