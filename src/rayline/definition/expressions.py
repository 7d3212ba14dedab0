"""Values that are known only when an execution runs: parameters, step outputs and properties,
execution variables, ``Join`` and ``JsonGet``.

Each expression serialises to SageMaker's definition shape (``{"Get": ...}``, ``{"Std:Join": ...}``,
``{"Std:JsonGet": ...}``) and back, and names the steps it reads so that using one step's output in
another's arguments creates a DAG edge. Resolution is pure: the engine supplies a ``Resolver``.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from rayline.definition.properties import output_named_by
from rayline.errors import PipelineDefinitionError


class Resolver(Protocol):
    """What the engine knows while an execution runs.

    A resolver may also offer ``for_step(name) -> Resolver``, the same resolver reading as step
    ``name`` (the job-name execution variables name that step's run): ``resolve`` uses it for
    the fields of each step it resolves.
    """

    def parameter(self, name: str) -> Any: ...
    def execution_variable(self, name: str) -> Any: ...
    def step_output(self, step: str, output: str) -> Any: ...
    def step_property(self, step: str, path: str) -> Any: ...
    def property_file(self, step: str, property_file: str) -> Any: ...


class Expression:
    """Base of every run-time value. Subclasses are frozen dataclasses."""

    def to_request(self) -> Any:
        raise NotImplementedError

    def resolve(self, resolver: Resolver) -> Any:
        raise NotImplementedError

    def step_names(self) -> set[str]:
        """Names of the steps whose results this expression reads."""
        return set()

    def children(self) -> list[Any]:
        return []

    @property
    def expr(self) -> Any:
        """SageMaker's name for the serialised form."""
        return self.to_request()


# SageMaker's execution variables (sagemaker.workflow.execution_variables), by their names in
# the definition (``{"Get": "Execution.<name>"}``); the engine's resolver gives each its value.
EXECUTION_VARIABLE_NAMES = (
    "StartDateTime",
    "CurrentDateTime",
    "PipelineName",
    "PipelineArn",
    "PipelineExecutionId",
    "PipelineExecutionArn",
    "TrainingJobName",
    "ProcessingJobName",
)


def unknown_execution_variable(name: str, where: str = "") -> PipelineDefinitionError:
    """The error for an execution variable SageMaker does not define (``where``: in what)."""
    return PipelineDefinitionError(
        f"unknown execution variable {name!r}{' in ' + where if where else ''}; the execution "
        f"variables are {', '.join(repr(n) for n in EXECUTION_VARIABLE_NAMES)} "
        "(in Python: ExecutionVariables.<NAME>, e.g. ExecutionVariables.PIPELINE_EXECUTION_ID)"
    )


class ExecutionVariable(Expression):
    """``{"Get": "Execution.<name>"}``: a fact about the running execution.

    What each resolves to (strings, as in SageMaker):

    - ``PipelineExecutionId``: the execution's id; ``PipelineName``: the pipeline's name;
    - ``PipelineArn``: ``arn:rayline:pipeline/<pipeline>``, and ``PipelineExecutionArn``:
      ``arn:rayline:pipeline/<pipeline>/execution/<execution id>`` (SageMaker's resource path
      under a ``rayline`` prefix: there is no region or account);
    - ``StartDateTime``: when the execution was created; ``CurrentDateTime``: the time the
      value is resolved (both ISO-8601, UTC);
    - ``TrainingJobName`` and ``ProcessingJobName``: the run name of the step that reads it,
      ``<pipeline>-<step>-<execution id>``, unique per step run (both name the same run: a
      rayline step is not a SageMaker job). Only a step that runs a job has one: a condition or
      fail step that reads it fails with an error saying so.

    Any other name is refused with ``PipelineDefinitionError``.
    """

    def __init__(self, name: str) -> None:
        if name not in EXECUTION_VARIABLE_NAMES:
            raise unknown_execution_variable(name)
        self.name = name

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ExecutionVariable) and other.name == self.name

    def __hash__(self) -> int:
        return hash(("Execution", self.name))

    def __repr__(self) -> str:
        return f"ExecutionVariables.{self.name}"

    def to_request(self) -> Any:
        return {"Get": f"Execution.{self.name}"}

    def resolve(self, resolver: Resolver) -> Any:
        return resolver.execution_variable(self.name)


class ExecutionVariables:
    """The execution variables a step can read: SageMaker's ``ExecutionVariables``, all of them
    (see ``ExecutionVariable`` for what each resolves to)."""

    START_DATETIME = ExecutionVariable("StartDateTime")
    CURRENT_DATETIME = ExecutionVariable("CurrentDateTime")
    PIPELINE_NAME = ExecutionVariable("PipelineName")
    PIPELINE_ARN = ExecutionVariable("PipelineArn")
    PIPELINE_EXECUTION_ID = ExecutionVariable("PipelineExecutionId")
    PIPELINE_EXECUTION_ARN = ExecutionVariable("PipelineExecutionArn")
    TRAINING_JOB_NAME = ExecutionVariable("TrainingJobName")
    PROCESSING_JOB_NAME = ExecutionVariable("ProcessingJobName")

    NAMES: ClassVar[frozenset[str]] = frozenset(EXECUTION_VARIABLE_NAMES)


def _step_name(step: Any) -> str:
    return step if isinstance(step, str) else step.name


@dataclass(frozen=True)
class StepOutput(Expression):
    """The URI of a named output of a step: ``step.outputs["train"]``."""

    step: str
    output: str
    source: Any = field(default=None, compare=False, repr=False)  # the Step object, if known
    # Where SageMaker's counterpart of the step reports this URI (a ProcessingStep's
    # ``ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri``); written so when set.
    path: str | None = field(default=None, compare=False, repr=False)

    def to_request(self) -> Any:
        if self.path:
            return {"Get": f"Steps.{self.step}.{self.path}"}
        return {"Get": f"Steps.{self.step}.Outputs['{self.output}']"}

    def resolve(self, resolver: Resolver) -> Any:
        return resolver.step_output(self.step, self.output)

    def step_names(self) -> set[str]:
        return {self.step}


@dataclass(frozen=True)
class StepProperty(Expression):
    """A property a step reports when it succeeds, in SageMaker's shape:
    ``tune.properties.BestTrainingJob.TrainingJobName``,
    ``train.properties.FinalMetricDataList["validation:rmse"].Value`` (or one dotted path:
    ``step.properties["BestTrainingJob.TrainingJobName"]``)."""

    step: str
    path: str
    source: Any = field(default=None, compare=False, repr=False)

    def to_request(self) -> Any:
        return {"Get": f"Steps.{self.step}.{self.path}"}

    def resolve(self, resolver: Resolver) -> Any:
        return resolver.step_property(self.step, self.path)

    def step_names(self) -> set[str]:
        return {self.step}

    def __getitem__(self, key: str | int) -> StepProperty:
        suffix = f"[{key}]" if isinstance(key, int) else f"['{key}']"
        return StepProperty(self.step, self.path + suffix, source=self.source)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return _property(self.source, self.step, f"{self.path}.{name}")


class StepOutputs(Mapping[str, StepOutput]):
    """``step.outputs``: the step's declared outputs as expressions."""

    def __init__(self, step: Any, names: tuple[str, ...]) -> None:
        self._step = step
        self._names = names

    def __getitem__(self, name: str) -> StepOutput:
        if name not in self._names:
            declared = ", ".join(repr(n) for n in self._names) or "none"
            raise PipelineDefinitionError(
                f"step {self._step.name!r} has no output {name!r} (declared: {declared})"
            )
        aliases = self._step.output_property_paths()
        return StepOutput(self._step.name, name, source=self._step, path=aliases.get(name))

    def __iter__(self):
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


class StepProperties:
    """``step.properties``: any property path the step reports (checked when it runs)."""

    def __init__(self, step: Any) -> None:
        self._step = step

    def __getitem__(self, path: str) -> Any:
        return _property(self._step, self._step.name, path)

    def __getattr__(self, path: str) -> Any:
        if path.startswith("_"):
            raise AttributeError(path)
        return self[path]


def _property(step: Any, name: str, path: str) -> Any:
    """A property of ``step``, or the output it names (``ModelArtifacts.S3ModelArtifacts``)."""
    aliases = getattr(step, "output_property_paths", None)
    for output, alias in (aliases() if aliases else {}).items():
        if alias == path:
            return StepOutput(name, output, source=step, path=path)
    return StepProperty(name, path, source=step)


@dataclass(frozen=True)
class Join(Expression):
    """Join values into a string at run time: ``Join(on=" ", values=["RMSE >", threshold])``."""

    on: str = ""
    values: tuple[Any, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", tuple(self.values))

    def to_request(self) -> Any:
        return {"Std:Join": {"On": self.on, "Values": [to_request(v) for v in self.values]}}

    def resolve(self, resolver: Resolver) -> Any:
        return self.on.join(_as_text(resolve(v, resolver)) for v in self.values)

    def children(self) -> list[Any]:
        return list(self.values)


@dataclass(frozen=True)
class JsonGet(Expression):
    """Read a value from a step's ``PropertyFile`` (a JSON file in one of its outputs).

    ``json_path`` is dotted with optional indexes: ``regression_metrics.rmse.value``, ``a.b[0]``.
    """

    step: Any
    property_file: Any
    json_path: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "property_file", _property_file_name(self.property_file))
        parse_json_path(self.json_path)  # fail at definition time, not at run time

    @property
    def step_name(self) -> str:
        return _step_name(self.step)

    def to_request(self) -> Any:
        return {
            "Std:JsonGet": {
                "PropertyFile": {
                    "Get": f"Steps.{self.step_name}.PropertyFiles.{self.property_file}"
                },
                "Path": self.json_path,
            }
        }

    def resolve(self, resolver: Resolver) -> Any:
        document = resolver.property_file(self.step_name, self.property_file)
        return get_json_path(
            document,
            self.json_path,
            where=f"property file {self.property_file!r} of step {self.step_name!r}",
        )

    def step_names(self) -> set[str]:
        return {self.step_name}


def _property_file_name(pf: Any) -> str:
    return pf if isinstance(pf, str) else pf.name


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


_PATH_TOKEN = re.compile(r"\.?([A-Za-z_][\w\-]*)|\[(\d+)\]|\['([^']*)'\]")


def parse_json_path(path: str) -> list[str | int]:
    """``a.b[0]['c d']`` → ``["a", "b", 0, "c d"]``; raises on malformed paths."""
    tokens: list[str | int] = []
    pos = 0
    while pos < len(path):
        m = _PATH_TOKEN.match(path, pos)
        if not m or m.end() == pos:
            raise PipelineDefinitionError(
                f"JSON path {path!r} is malformed at position {pos}; use dotted names with "
                "optional [index], e.g. 'regression_metrics.rmse.value'"
            )
        name, index, quoted = m.groups()
        tokens.append(int(index) if index is not None else (quoted if quoted is not None else name))
        pos = m.end()
    if not tokens:
        raise PipelineDefinitionError("JSON path is empty")
    return tokens


def get_json_path(document: Any, path: str, *, where: str) -> Any:
    value = document
    for token in parse_json_path(path):
        try:
            if isinstance(value, list) and isinstance(token, str):
                value = _named_item(value, token)
            else:
                value = value[token]
        except (KeyError, IndexError, TypeError):
            raise PipelineDefinitionError(
                f"{where} has no value at {path!r} (missing {token!r})"
            ) from None
    return value


#: The fields that name an item of a list of objects (SageMaker's ``FinalMetricDataList``).
_ITEM_NAMES = ("MetricName", "Name")


def _named_item(items: list[Any], name: str) -> Any:
    """The item of ``items`` named ``name``: ``FinalMetricDataList['validation:rmse']``."""
    for item in items:
        if isinstance(item, dict) and any(item.get(k) == name for k in _ITEM_NAMES):
            return item
    raise KeyError(name)


# --- serialisation ------------------------------------------------------------------------------

_GET_STEP = re.compile(
    r"^Steps\.([^.\[]+)\.(Outputs\['([^']+)'\]|Properties\.(.+)|PropertyFiles\.(.+))$"
)
_GET_STEP_PATH = re.compile(r"^Steps\.([^.\[]+)\.([A-Za-z_].*)$")


def to_request(value: Any) -> Any:
    """The JSON form of a value that may hold expressions (lists and dicts are walked)."""
    if isinstance(value, Expression):
        return value.to_request()
    if isinstance(value, (list, tuple)):
        return [to_request(v) for v in value]
    if isinstance(value, dict):
        return {k: to_request(v) for k, v in value.items()}
    return value


def from_request(value: Any, parameters: Mapping[str, Any]) -> Any:
    """The inverse of ``to_request``; ``parameters`` maps names to Parameter objects."""
    if isinstance(value, list):
        return [from_request(v, parameters) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1 and "Get" in value and isinstance(value["Get"], str):
        return _from_get(value["Get"], parameters)
    if len(value) == 1 and "Std:Join" in value:
        body = value["Std:Join"]
        return Join(on=body.get("On", ""), values=tuple(from_request(body["Values"], parameters)))
    if len(value) == 1 and "Std:JsonGet" in value:
        body = value["Std:JsonGet"]
        ref = body["PropertyFile"]["Get"]
        m = _GET_STEP.match(ref)
        if not m or m.group(5) is None:
            raise PipelineDefinitionError(
                f"Std:JsonGet has a malformed PropertyFile reference {ref!r}"
            )
        return JsonGet(step=m.group(1), property_file=m.group(5), json_path=body["Path"])
    return {k: from_request(v, parameters) for k, v in value.items()}


def _from_get(ref: str, parameters: Mapping[str, Any]) -> Expression:
    if ref.startswith("Parameters."):
        name = ref.removeprefix("Parameters.")
        if name not in parameters:
            raise PipelineDefinitionError(
                f"the definition reads parameter {name!r} that is not declared "
                f"(declared: {', '.join(repr(p) for p in parameters) or 'none'})"
            )
        return parameters[name]
    if ref.startswith("Execution."):
        name = ref.removeprefix("Execution.")
        if name not in EXECUTION_VARIABLE_NAMES:
            raise unknown_execution_variable(name, f"the definition ({{'Get': {ref!r}}})")
        return ExecutionVariable(name)
    m = _GET_STEP.match(ref)
    if m:
        step, _, output, prop, _pf = m.groups()
        if output is not None:
            return StepOutput(step, output)
        if prop is not None:  # the shape rayline wrote before: Steps.<step>.Properties.<path>
            return StepProperty(step, prop)
    m = _GET_STEP_PATH.match(ref)
    if m and not m.group(2).startswith("PropertyFiles."):
        step, path = m.groups()
        output = output_named_by(path)
        if output is not None:
            return StepOutput(step, output, path=path)
        return StepProperty(step, path)
    raise PipelineDefinitionError(
        f"cannot read reference {{'Get': {ref!r}}}; expected Parameters.<name>, Execution.<name>, "
        "Steps.<step>.Outputs['<name>'] or Steps.<step>.<property path>"
    )


def resolve(value: Any, resolver: Resolver) -> Any:
    """Replace every expression inside ``value`` with its value (dataclasses are rebuilt)."""
    if isinstance(value, Expression):
        return value.resolve(resolver)
    if isinstance(value, tuple):
        return tuple(resolve(v, resolver) for v in value)
    if isinstance(value, list):
        return [resolve(v, resolver) for v in value]
    if isinstance(value, dict):
        return {k: resolve(v, resolver) for k, v in value.items()}
    if (
        dataclasses.is_dataclass(value)
        and not isinstance(value, type)
        and getattr(value, "__resolvable__", False)
    ):
        bind = getattr(resolver, "for_step", None)
        if bind is not None and _is_step(value):
            resolver = bind(value.name)
        changes = {
            f.name: resolve(getattr(value, f.name), resolver)
            for f in dataclasses.fields(value)
            if f.init and f.metadata.get("resolve", True)
        }
        return dataclasses.replace(value, **changes)
    return value


def _is_step(value: Any) -> bool:
    # A Step (definition.steps.base, which imports this module): a kind and a name.
    return isinstance(getattr(type(value), "kind", None), str) and isinstance(
        getattr(value, "name", None), str
    )


def walk(value: Any):
    """Every expression inside ``value`` (depth first), including nested ones."""
    if isinstance(value, Expression):
        yield value
        for child in value.children():
            yield from walk(child)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from walk(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from walk(v)
    elif dataclasses.is_dataclass(value) and getattr(value, "__resolvable__", False):
        for f in dataclasses.fields(value):
            if f.metadata.get("resolve", True):
                yield from walk(getattr(value, f.name))
