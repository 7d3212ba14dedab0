"""Runner of ``ModelStep``: registers the resolved model as a new version (inside a Ray task)."""

from __future__ import annotations

from rayline.engine.context import StepContext, StepResult
from rayline.registry.registry import ModelRegistry
from rayline.registry.steps import ModelStep
from rayline.store.db import open_database


def run_register(step: ModelStep, ctx: StepContext) -> StepResult:
    """Register ``step.model`` in ``step.model_package_group``; properties name the version."""
    registry = ModelRegistry(open_database(ctx.db_url), artifact_uri=ctx.artifact_uri)
    package = registry.register(
        str(step.model_package_group),
        model=str(step.model),
        preprocessor=str(step.preprocessor) if step.preprocessor else None,
        metrics=str(step.metrics) if step.metrics else None,
        input_columns=list(step.input_columns) if step.input_columns else None,
        content_types=step.content_types,
        response_types=step.response_types,
        approval_status=str(step.approval_status),
        description=str(step.model_description or ""),
        mlflow_run_id=ctx.mlflow_run_id,
        execution_id=ctx.execution_id,
        step_name=ctx.step_name,
        reason=f"registered by pipeline {ctx.pipeline_name} execution {ctx.execution_id}",
    )
    print(f"registered {package.ref} ({package.status}) from {package.sources['model']}")
    return StepResult(
        properties={
            "ModelPackageGroupName": package.group,
            "ModelPackageVersion": package.version,
            "ModelPackageStatus": package.status,
            "ModelPackageArn": package.arn,
            "ModelUri": package.model_uri,
        }
    )
