"""Runner of ``ModelStep``: registers the resolved model as a new version (inside a Ray task)."""

from __future__ import annotations

from typing import Any

from rayline.engine.context import StepContext, StepResult
from rayline.registry.registry import ModelRegistry
from rayline.registry.steps import ModelStep
from rayline.store.db import open_database


def run_register(step: ModelStep, ctx: StepContext) -> StepResult:
    """Register ``step.model`` in ``step.model_package_group``; properties name the version."""
    registry = ModelRegistry(open_database(ctx.db_url), artifact_uri=ctx.artifact_uri)
    run_id = producing_run(ctx, str(step.model))
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
        mlflow_run_id=run_id,
        execution_id=ctx.execution_id,
        step_name=ctx.step_name,
        reason=f"registered by pipeline {ctx.pipeline_name} execution {ctx.execution_id}",
    )
    print(f"registered {package.ref} ({package.status}) from {package.sources['model']}")
    if run_id:
        print(f"MLflow run of the model: {run_id}")
    return StepResult(
        properties={
            "ModelPackageGroupName": package.group,
            "ModelPackageVersion": package.version,
            "ModelPackageStatus": package.status,
            "ModelPackageArn": package.arn,
            "ModelUri": package.model_uri,
            "MlflowRunId": run_id,
        }
    )


def producing_run(ctx: StepContext, model: str) -> str | None:
    """The MLflow run of the model being registered: the run of the step of this execution that
    produced ``model`` (an output of it, or a URI among its properties: a tuning step's best
    model), as that step recorded it (a cache hit keeps the run that trained); else the
    execution's run. None outside a recorded execution, or when tracking has no run."""
    from rayline.engine.records import StepStatus
    from rayline.engine.repository import PipelineRepository

    repo = PipelineRepository(open_database(ctx.db_url))
    if repo.find_execution(ctx.execution_id) is None:
        return None
    target = model.rstrip("/")
    for run in reversed(repo.list_step_runs(ctx.execution_id)):
        if run.status != StepStatus.SUCCEEDED or run.step_name == ctx.step_name:
            continue
        if _mentions(run.outputs, target) or _mentions(run.properties, target):
            recorded = run.properties.get("MlflowRunId")
            if isinstance(recorded, str) and recorded:
                return recorded
            if run.mlflow_run_id:
                return run.mlflow_run_id
    # No producing step in this execution (a model given by URI): the execution's run, which
    # tracking's listener opened when this step started.
    from rayline.tracking.runs import step_tracker

    try:
        step_tracker(ctx.execution_id, ctx.step_name, db_url=ctx.db_url, timeout=30.0)
    except Exception:  # the tracking store is unreachable: register without a run
        return None
    found = repo.find_execution(ctx.execution_id)
    return found.mlflow_run_id if found is not None else None


def _mentions(value: Any, uri: str) -> bool:
    """Whether ``uri`` is, or lies under, a string anywhere in ``value``."""
    if isinstance(value, str):
        v = value.rstrip("/")
        return bool(v) and (uri == v or uri.startswith(v + "/"))
    if isinstance(value, dict):
        return any(_mentions(v, uri) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_mentions(v, uri) for v in value)
    return False
