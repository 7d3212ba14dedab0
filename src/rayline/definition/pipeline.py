"""``Pipeline``: parameters and steps, as data, with a versioned JSON definition."""

from __future__ import annotations

import json
from functools import cached_property
from typing import Any

from rayline.definition.graph import StepGraph, build_graph, collect_steps
from rayline.definition.parameters import Parameter, parameter_from_definition
from rayline.definition.policies import ParallelismConfiguration
from rayline.definition.steps.base import ParseContext, Step, common_from_request
from rayline.definition.steps.processing import EXTENSION_KEY
from rayline.definition.validation import validate
from rayline.errors import PipelineDefinitionError

DEFINITION_VERSION = "2020-12-01"

# ``EXTENSION_KEY`` ("Rayline") holds what rayline records and SageMaker's definition has no key
# for: at the top level the pipeline's name and description (``PipelineName``,
# ``PipelineDescription``; SageMaker takes them as arguments of ``CreatePipeline``, beside the
# definition, whose ``Metadata`` the SDK writes empty), in a step's ``Arguments`` what that kind
# adds (``steps.processing``).

#: ``PipelineExperimentConfig`` as the SDK writes it by default (the experiment named after the
#: pipeline, the trial after the execution): what rayline's tracking does, one MLflow
#: experiment per pipeline and one run per execution. It is written in every definition; any
#: other value would not be applied, so none is accepted.
PIPELINE_EXPERIMENT_CONFIG: dict[str, Any] = {
    "ExperimentName": {"Get": "Execution.PipelineName"},
    "TrialName": {"Get": "Execution.PipelineExecutionId"},
}


class PipelineDefinition:
    """A pipeline as pure data: name, parameters, steps. Validated when built.

    ``rayline.Pipeline`` adds the operations (upsert, start, ...) on top of this class.
    """

    def __init__(
        self,
        name: str,
        *,
        parameters: list[Parameter] | tuple[Parameter, ...] = (),
        steps: list[Step] | tuple[Step, ...] = (),
        parallelism_config: ParallelismConfiguration | None = None,
        description: str = "",
    ) -> None:
        if (
            not isinstance(name, str)
            or not name
            or len(name) > 256
            or not all(c.isalnum() or c in "-_." for c in name)
        ):
            raise PipelineDefinitionError(
                f"pipeline name {name!r} is invalid: use 1-256 letters, digits, '-', '_' or '.'"
            )
        self.name = name
        for what, value in (("steps", steps), ("parameters", parameters)):
            if not isinstance(value, (list, tuple)):
                raise PipelineDefinitionError(
                    f"pipeline {name!r}: {what}= must be a list, got {type(value).__name__} "
                    f"{value!r}; write {what}=[...]"
                )
        self.parameters = tuple(parameters)
        self.steps = tuple(steps)
        self.parallelism_config = parallelism_config
        self.description = description
        if not self.steps:
            raise PipelineDefinitionError(f"pipeline {name!r} has no steps")
        validate(self.parameters, self.graph)

    @cached_property
    def graph(self) -> StepGraph:
        return build_graph(collect_steps(self.steps))

    def step(self, name: str) -> Step:
        try:
            return self.graph.steps[name]
        except KeyError:
            raise PipelineDefinitionError(
                f"pipeline {self.name!r} has no step {name!r} "
                f"(steps: {', '.join(self.graph.steps)})"
            ) from None

    @property
    def pipeline_experiment_config(self) -> dict[str, Any]:
        """SageMaker's ``PipelineExperimentConfig`` of this pipeline: always the SDK's default,
        which is how rayline tracks it (``PIPELINE_EXPERIMENT_CONFIG``)."""
        return {key: dict(value) for key, value in PIPELINE_EXPERIMENT_CONFIG.items()}

    # --- definition -------------------------------------------------------------------------
    def to_request(self) -> dict[str, Any]:
        """The definition as the SageMaker SDK's ``Pipeline.definition()`` writes it: ``Version``,
        ``Metadata`` (empty), ``Parameters``, ``PipelineExperimentConfig`` and ``Steps``; then
        ``ParallelismConfiguration`` when set (SageMaker's is an argument of ``CreatePipeline``)
        and ``Rayline``: the name and description (see ``EXTENSION_KEY``)."""
        out: dict[str, Any] = {
            "Version": DEFINITION_VERSION,
            "Metadata": {},
            "Parameters": [p.definition() for p in self.parameters],
            "PipelineExperimentConfig": self.pipeline_experiment_config,
            "Steps": [s.to_request() for s in self.graph.top_level],
        }
        if self.parallelism_config is not None:
            out["ParallelismConfiguration"] = {
                "MaxParallelExecutionSteps": self.parallelism_config.max_parallel_execution_steps
            }
        out[EXTENSION_KEY] = {"PipelineName": self.name, "PipelineDescription": self.description}
        return out

    def definition(self) -> str:
        """The pipeline's JSON definition (SageMaker's shape)."""
        return json.dumps(self.to_request(), indent=2, sort_keys=False)

    @classmethod
    def from_definition(cls, definition: str | dict[str, Any], *, name: str | None = None):
        """Rebuild a pipeline from its JSON definition (``definition()`` round-trips).

        The name is ``name``, else the definition's ``Rayline.PipelineName``, else (a definition
        rayline wrote before) ``Metadata.Name``."""
        try:
            request = json.loads(definition) if isinstance(definition, str) else definition
        except json.JSONDecodeError as exc:
            raise PipelineDefinitionError(
                f"the pipeline definition is not valid JSON: {exc}"
            ) from None
        if not isinstance(request, dict) or "Steps" not in request:
            raise PipelineDefinitionError(
                "a pipeline definition is a JSON object with 'Version', 'Parameters' and 'Steps'"
            )
        if request.get("Version") != DEFINITION_VERSION:
            raise PipelineDefinitionError(
                f"definition version {request.get('Version')!r} is not supported "
                f"(this rayline reads {DEFINITION_VERSION!r})"
            )
        parameters = [parameter_from_definition(p) for p in request.get("Parameters", [])]
        by_name = {p.name: p for p in parameters}
        ctx = ParseContext(by_name, None)
        ctx = ParseContext(by_name, lambda r: step_from_request(r, ctx))
        steps = [step_from_request(s, ctx) for s in request["Steps"]]
        _check_experiment_config(request)
        # Where rayline keeps the name and description, or where it kept them before.
        meta = request.get(EXTENSION_KEY) or {}
        old = request.get("Metadata") or {}
        par = request.get("ParallelismConfiguration")
        return cls(
            name or meta.get("PipelineName") or old.get("Name") or "pipeline",
            parameters=parameters,
            steps=steps,
            parallelism_config=ParallelismConfiguration(par["MaxParallelExecutionSteps"])
            if par
            else None,
            description=meta.get("PipelineDescription", old.get("Description", "")),
        )


def _check_experiment_config(request: dict[str, Any]) -> None:
    # Definitions rayline wrote before have none: they were tracked the default's way too.
    config = request.get("PipelineExperimentConfig", PIPELINE_EXPERIMENT_CONFIG)
    if config != PIPELINE_EXPERIMENT_CONFIG:
        raise PipelineDefinitionError(
            f"PipelineExperimentConfig {config!r} is not applied by rayline, whose tracking names "
            "the MLflow experiment after the pipeline and its run after the execution; write "
            f"{PIPELINE_EXPERIMENT_CONFIG!r} (the SageMaker SDK's default) or leave it out"
        )


def step_from_request(request: dict[str, Any], ctx: ParseContext) -> Step:
    """One step from its definition, via the step kind table."""
    from rayline.step_kinds import STEP_KINDS, load

    kind = request.get("Type")
    entry = STEP_KINDS.get(kind)  # type: ignore[arg-type]
    if entry is None:
        raise PipelineDefinitionError(
            f"step {request.get('Name')!r} has unknown type {kind!r}; known types: "
            f"{', '.join(sorted(STEP_KINDS))}"
        )
    common = common_from_request(request)
    if "PropertyFiles" in request:
        from rayline.definition.steps.processing import PropertyFile

        common["property_files"] = tuple(
            PropertyFile.from_request(pf) for pf in request["PropertyFiles"]
        )
    return load(entry.definition).from_arguments(
        request["Name"], request.get("Arguments", {}), ctx, **common
    )
