"""Checking a selective execution before it starts: the selection against the pipeline's graph,
and the source execution it takes the unselected upstream steps from."""

from __future__ import annotations

from typing import Any

from rayline.definition.graph import StepGraph
from rayline.definition.selective import SelectiveExecutionConfig, plan_selection
from rayline.engine.records import ExecutionStatus, StepStatus
from rayline.engine.repository import PipelineRepository
from rayline.errors import ConflictError, NotFoundError, PipelineDefinitionError

#: The statuses a source execution may have (SageMaker's: Failed or Succeeded).
SOURCE_STATUSES = (ExecutionStatus.SUCCEEDED, ExecutionStatus.FAILED)


def selective_request(
    repo: PipelineRepository,
    pipeline_name: str,
    graph: StepGraph,
    config: SelectiveExecutionConfig,
) -> dict[str, Any]:
    """What the new execution records of ``config`` (``SelectiveExecutionConfig.to_request``),
    after checking it: raises ``PipelineDefinitionError`` for a selection the graph does not
    allow, ``NotFoundError``/``ConflictError`` for a source execution that cannot serve it."""
    if not isinstance(config, SelectiveExecutionConfig):
        raise PipelineDefinitionError(
            "selective_execution_config must be a SelectiveExecutionConfig, e.g. "
            f"SelectiveExecutionConfig(selected_steps=['Train']); got {config!r}"
        )
    plan = plan_selection(graph, config.selected_steps)
    source_id = config.source_pipeline_execution_id
    if source_id is None and config.reference_latest_execution:
        latest = repo.list_executions(pipeline_name, limit=1)
        source_id = latest[0].id if latest else None
    if source_id is None:
        if plan.reused:
            raise PipelineDefinitionError(
                f"selected steps need {sorted(plan.reused)} from an earlier execution; give "
                "source_pipeline_execution_id= (pipeline "
                f"{pipeline_name!r} has no execution to reference)"
            )
        return config.to_request(None)
    source = repo.get_execution(source_id)
    if source.pipeline_name != pipeline_name:
        raise NotFoundError(
            f"execution {source_id} belongs to pipeline {source.pipeline_name!r}, not "
            f"{pipeline_name!r}; a selective execution reuses an execution of its own pipeline"
        )
    if source.status not in SOURCE_STATUSES:
        raise ConflictError(
            f"source execution {source_id} is {source.status.value}; it must have ended "
            "(Succeeded or Failed) before a selective execution can reuse it"
        )
    runs = {r.step_name: r for r in repo.list_step_runs(source_id)}
    missing = sorted(
        n for n in plan.reused if n not in runs or runs[n].status != StepStatus.SUCCEEDED
    )
    if missing:
        raise ConflictError(
            f"step(s) {missing} are upstream of the selected steps but did not succeed in "
            f"source execution {source_id}; select them too, or pick a source where they did"
        )
    return config.to_request(source_id)
