"""The ``Step`` base class every step kind derives from, and the pieces steps share."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any, ClassVar

from rayline.definition.expressions import StepOutputs, StepProperties, from_request
from rayline.definition.policies import CacheConfig, RetryPolicy
from rayline.definition.runtime_envs import checked_runtime_env
from rayline.errors import PipelineDefinitionError

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,255}$")

# Fields of the base class that are configuration, not run-time arguments.
_COMMON = (
    "name",
    "depends_on",
    "cache_config",
    "retry_policies",
    "display_name",
    "description",
    "resources",
    "runtime_env",
)

# Ray's built-in resources, which a step sets with its own options (num_cpus, num_gpus), not as
# custom resources: Ray refuses them in ``resources=``.
_BUILTIN_RESOURCES = {
    "CPU": "set CPUs with the step's num_cpus= option",
    "GPU": "set GPUs with the step's num_gpus= option",
    "memory": "a step reserves no memory; to place it, use a custom resource of the node",
    "object_store_memory": "a step reserves no memory; to place it, use a custom resource",
}


def no_resolve(**kwargs: Any) -> Any:
    """A dataclass field whose value holds no expressions (the engine leaves it alone)."""
    return field(metadata={"resolve": False}, **kwargs)


@dataclass(frozen=True)
class CodeRef:
    """Step code by content: the script or pickled function stored under ``code/<sha256>``.

    ``source_sha256`` is the hash of the source text, which the cache key uses (pickles of the same
    function differ between processes; its source does not).
    """

    path: str
    sha256: str
    source_sha256: str = ""

    def to_request(self) -> dict[str, Any]:
        out = {"Path": self.path, "Sha256": self.sha256}
        if self.source_sha256:
            out["SourceSha256"] = self.source_sha256
        return out

    @classmethod
    def from_request(cls, r: dict[str, Any]) -> CodeRef:
        return cls(r["Path"], r["Sha256"], r.get("SourceSha256", ""))

    @property
    def cache_identity(self) -> str:
        return self.source_sha256 or self.sha256


@dataclass(frozen=True)
class ParseContext:
    """What ``from_arguments`` needs: declared parameters, and a parser for nested steps."""

    parameters: dict[str, Any]
    parse_step: Any

    def value(self, request: Any) -> Any:
        return from_request(request, self.parameters)


@dataclass(frozen=True, kw_only=True)
class Step:
    """Base of every step kind: a frozen, serialisable description of one unit of work.

    Subclasses set ``kind`` (the definition's ``Type``), add their fields, and implement
    ``to_arguments`` / ``from_arguments``. Fields may hold expressions; referring to another
    step's output or property creates a DAG edge. The runner that executes a kind is registered
    beside it in ``rayline.step_kinds``.

    Every step takes ``resources``, custom Ray resources that place its task (``{"worker": 0.1}``
    runs it on a node started with ``--resources='{"worker": 1}'``, as a SageMaker step names an
    instance type); Tune trials and Ray Train workers it starts follow it (a kind the scheduler
    runs itself, as a condition, starts no task to place). It is recorded in the
    definition (``RayResources``) and is no part of the cache key: where a step runs does not
    change what it computes.

    Every step also takes ``runtime_env``, Ray's runtime environment of its task: its own pip
    requirements and environment variables (``{"pip": ["tabulate"], "env_vars": {"K": "v"}}``,
    checked by ``rayline.definition.runtime_envs``), merged with what the engine and the kind
    set. It is recorded in the definition (``RayRuntimeEnv``) and is part of the cache key: the
    packages and settings a step runs with can change what it computes. A kind the scheduler
    runs itself starts no task, so it has no runtime environment to apply.

    The contract between a kind and the rest of rayline: graph, validation, scheduler and lineage
    ask the step, never its kind.

    - ``declared_outputs()`` / ``declared_property_files()`` / ``property_schema()`` /
      ``output_property_paths()``: what other steps may read from it;
    - ``branches()``: the steps it controls, by branch label (a condition's if/else);
    - ``validate()``: checks of its own fields, run before anything executes;
    - ``ray_options()``: the Ray options of its task (``resources`` adds custom Ray resources);
    - ``code_ref()`` / ``local_files()`` / ``code_snapshots()``: what its cache key and the
      upserted definition depend on.

    Its runner, ``run(step, ctx) -> StepResult``, reports the outcome: outputs, properties, the
    branch taken (for a step with branches) or a failure message (the step failed the
    execution on purpose, as ``FailStep`` does).
    """

    __resolvable__ = True
    kind: ClassVar[str] = ""

    name: str = field(kw_only=False)
    depends_on: tuple[Any, ...] = no_resolve(default=())
    cache_config: CacheConfig | None = no_resolve(default=None)
    retry_policies: tuple[RetryPolicy, ...] = no_resolve(default=())
    display_name: str | None = no_resolve(default=None)
    description: str | None = no_resolve(default=None)
    # Placement: custom Ray resources of the step's task (see the class docstring).
    resources: dict[str, float] = no_resolve(default_factory=dict)
    # Ray's runtime_env of the step's task: pip requirements and env vars (see the docstring).
    runtime_env: dict[str, Any] = no_resolve(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise PipelineDefinitionError(
                f"step name {self.name!r} is invalid: use 1-256 letters, digits, '_' or '-', "
                "starting with a letter or digit"
            )
        object.__setattr__(self, "depends_on", tuple(self.depends_on or ()))
        object.__setattr__(self, "retry_policies", tuple(self.retry_policies or ()))
        object.__setattr__(self, "resources", _checked_resources(self.name, self.resources))
        object.__setattr__(self, "runtime_env", checked_runtime_env(self.name, self.runtime_env))

    # --- what the DSL exposes ---------------------------------------------------------------
    @property
    def outputs(self) -> StepOutputs:
        """The step's named outputs as expressions: ``prep.outputs["train"]``."""
        return StepOutputs(self, self.declared_outputs())

    @property
    def properties(self) -> StepProperties:
        """Properties the step reports when it succeeds: ``step.properties["Path"]``."""
        return StepProperties(self)

    def depends_on_names(self) -> tuple[str, ...]:
        return tuple(d if isinstance(d, str) else d.name for d in self.depends_on)

    # --- what a kind overrides --------------------------------------------------------------
    def to_arguments(self) -> dict[str, Any]:
        """The definition's ``Arguments`` for this step (expressions serialised)."""
        raise NotImplementedError

    @classmethod
    def from_arguments(
        cls, name: str, arguments: dict[str, Any], ctx: ParseContext, **common: Any
    ) -> Step:
        raise NotImplementedError

    def declared_outputs(self) -> tuple[str, ...]:
        return ()

    def property_schema(self) -> dict[str, Any] | None:
        """The properties the step reports (``rayline.definition.properties``): references to
        others are refused when the pipeline is defined; ``None``: not checked."""
        return None

    def output_property_paths(self) -> dict[str, str]:
        """``{output: SageMaker property path}`` for outputs SageMaker's counterpart of the kind
        reports as properties (``ModelArtifacts.S3ModelArtifacts``): such a path reads the
        output, and the output is written so in the definition."""
        return {}

    def declared_property_files(self) -> tuple[Any, ...]:
        return ()

    def branches(self) -> dict[str, tuple[Step, ...]]:
        """The steps this step controls, by branch label (empty: the step does not branch).

        A step that branches names each branch with a human-readable label (a condition's are
        ``"if true"`` and ``"if false"``); lineage shows the label as the relation from this step
        to a branch step and the progress view prefixes branch steps with it. The steps of a
        branch run only after this step and only when its runner's ``StepResult.branch`` names
        that branch; the steps of every other branch are skipped.
        """
        return {}

    def branch_steps(self) -> tuple[Step, ...]:
        """Every step of every branch, in branch order (see ``branches``)."""
        return tuple(s for steps in self.branches().values() for s in steps)

    def validate(self) -> None:
        """Kind-specific checks of the step's own fields, run by ``validate`` before anything
        executes; raise ``PipelineDefinitionError`` naming the step and the fix. References to
        other steps and parameters are checked by the pipeline, not here."""

    def code_ref(self) -> CodeRef | None:
        """The code the step runs, whose content is part of the cache key."""
        return None

    def local_files(self) -> tuple[str, ...]:
        """Literal local paths the step reads, whose content is part of the cache key."""
        return ()

    def ray_options(self) -> dict[str, Any]:
        """Ray options of the task that runs the step (``num_cpus``, ``num_gpus``, ...); the
        scheduler adds the step's custom ``resources``."""
        return {"num_cpus": 1}

    def code_snapshots(self) -> list[tuple[bytes, str]]:
        """``(content, suffix)`` of code to store by content hash when the pipeline is upserted."""
        return []

    # --- definition -------------------------------------------------------------------------
    def to_request(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "Name": self.name,
            "Type": self.kind,
            "Arguments": self.to_arguments(),
        }
        if self.depends_on:
            out["DependsOn"] = list(self.depends_on_names())
        if self.cache_config is not None:
            out["CacheConfig"] = self.cache_config.to_request()
        if self.retry_policies:
            out["RetryPolicies"] = [p.to_request() for p in self.retry_policies]
        if self.display_name:
            out["DisplayName"] = self.display_name
        if self.description:
            out["Description"] = self.description
        if self.resources:
            out["RayResources"] = dict(self.resources)
        if self.runtime_env:
            out["RayRuntimeEnv"] = dict(self.runtime_env)
        files = self.declared_property_files()
        if files:
            out["PropertyFiles"] = [pf.to_request() for pf in files]
        return out

    def run_fields(self) -> dict[str, Any]:
        """The kind-specific fields that may hold expressions (resolved at run time)."""
        return {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if f.name not in _COMMON and f.metadata.get("resolve", True)
        }


def common_from_request(request: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments shared by every step kind, read from a step's definition."""
    cache = request.get("CacheConfig")
    return {
        "depends_on": tuple(request.get("DependsOn", ())),
        "cache_config": CacheConfig.from_request(cache) if cache is not None else None,
        "retry_policies": tuple(
            RetryPolicy.from_request(r) for r in request.get("RetryPolicies", ())
        ),
        "display_name": request.get("DisplayName"),
        "description": request.get("Description"),
        "resources": dict(request.get("RayResources", {})),
        "runtime_env": dict(request.get("RayRuntimeEnv", {})),
    }


def _checked_resources(step: str, resources: Any) -> dict[str, float]:
    if resources is None:
        return {}
    if not isinstance(resources, dict):
        raise PipelineDefinitionError(
            f"step {step!r}: resources must be a dict of custom Ray resource names to amounts, "
            f"like {{'worker': 0.1}}, not {type(resources).__name__}"
        )
    for key, amount in resources.items():
        if not isinstance(key, str) or not key:
            raise PipelineDefinitionError(
                f"step {step!r}: resource name {key!r} must be a non-empty string"
            )
        if key in _BUILTIN_RESOURCES:
            raise PipelineDefinitionError(
                f"step {step!r}: {key!r} is a built-in Ray resource, not a custom one for "
                f"resources=: {_BUILTIN_RESOURCES[key]}"
            )
        if isinstance(amount, bool) or not isinstance(amount, (int, float)) or not amount > 0:
            raise PipelineDefinitionError(
                f"step {step!r}: resource {key!r} needs a positive amount, not {amount!r}"
            )
    return {k: float(v) for k, v in resources.items()}
