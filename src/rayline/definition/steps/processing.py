"""``ProcessingStep``: run a Python script (or function) with named inputs and outputs."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, ClassVar

from rayline.definition.code_deps import dependency_source
from rayline.definition.expressions import Expression, StepOutput, to_request
from rayline.definition.properties import ANY, processing_output_path
from rayline.definition.source_dirs import SourceDirRef, directory_snapshot, source_dir_ref
from rayline.definition.steps.base import CodeRef, ParseContext, Step, no_resolve
from rayline.errors import PipelineDefinitionError

#: Where a SageMaker processing container keeps its inputs, outputs and code: the paths the
#: definition writes (a rayline script reads its step's own directories instead).
CONTAINER_ROOT = "/opt/ml/processing"
#: Where SageMaker's ``ScriptProcessor`` puts the script it runs.
CODE_DIR = f"{CONTAINER_ROOT}/input/code"
#: The key of what rayline records and SageMaker's definition has no key for: in a step's
#: ``Arguments`` what its kind adds, at the top level the pipeline's name and description
#: (``rayline.definition.pipeline``).
EXTENSION_KEY = "Rayline"


@dataclass(frozen=True)
class ProcessingInput:
    """Data a processing step reads. ``source`` is a path, a URI or an expression (another
    step's output, a parameter); the step sees it at ``RAYLINE_INPUT_<DESTINATION>``."""

    __resolvable__ = True

    source: Any
    destination: str

    def __post_init__(self) -> None:
        _check_slot_name(self.destination, "ProcessingInput destination")


@dataclass(frozen=True)
class ProcessingOutput:
    """A named output directory of a processing step (``RAYLINE_OUTPUT_<NAME>``)."""

    output_name: str

    def __post_init__(self) -> None:
        _check_slot_name(self.output_name, "ProcessingOutput name")


@dataclass(frozen=True)
class PropertyFile:
    """A JSON file inside one of a step's outputs that ``JsonGet`` can read."""

    name: str
    output_name: str
    path: str

    def to_request(self) -> dict[str, str]:
        return {
            "PropertyFileName": self.name,
            "OutputName": self.output_name,
            "FilePath": self.path,
        }

    @classmethod
    def from_request(cls, r: dict[str, str]) -> PropertyFile:
        return cls(r["PropertyFileName"], r["OutputName"], r["FilePath"])


def _check_slot_name(name: str, what: str) -> None:
    if not isinstance(name, str) or not name.replace("_", "").replace("-", "").isalnum():
        raise PipelineDefinitionError(
            f"{what} {name!r} is invalid: use letters, digits, '_' and '-'"
        )


@dataclass(frozen=True, kw_only=True)
class ProcessingStep(Step):
    """Run a Python script on Ray with arguments, named inputs and named outputs.

    ``code`` is a script path: it runs with ``sys.argv[1:] = arguments`` inside a Ray task.
    Alternatively ``function`` is called with a ``ProcessingContext``. Either way the step finds
    its inputs and output directories through ``rayline.processing_context()`` (or the
    ``RAYLINE_INPUT_<DEST>`` / ``RAYLINE_OUTPUT_<NAME>`` environment variables).

    ``source_dir`` ships a whole code directory, as SageMaker's ``source_dir``: ``code`` then
    names the entry script inside it (``code="preprocess.py", source_dir="src/"``). The
    directory is snapshotted by content when the pipeline is upserted (every file's content is
    part of the cache key; ``__pycache__``, ``.git`` and ``*.pyc`` are left out) and unpacked on
    the node that runs the step, where it is the script's working directory and import root.
    ``env`` sets environment variables for the script (SageMaker's processor ``env``);
    ``runtime_env`` (every step's) adds pip requirements and variables through Ray.

    >>> prep = ProcessingStep("Prep", code="scripts/preprocess.py",
    ...     arguments=["--train_size", "0.6"],
    ...     inputs=[ProcessingInput(source="data/raw.csv", destination="raw")],
    ...     outputs=[ProcessingOutput("train"), ProcessingOutput("test")])
    """

    kind: ClassVar[str] = "Processing"

    code: str | CodeRef | None = no_resolve(default=None)
    function: Callable[..., Any] | None = no_resolve(default=None, compare=False)
    arguments: tuple[Any, ...] = ()
    inputs: tuple[ProcessingInput, ...] = ()
    outputs: tuple[ProcessingOutput, ...] = no_resolve(default=())  # type: ignore[assignment]
    property_files: tuple[PropertyFile, ...] = no_resolve(default=())
    num_cpus: float = no_resolve(default=1)
    num_gpus: float = no_resolve(default=0)
    env: dict[str, str] = field(default_factory=dict)
    function_ref: CodeRef | None = no_resolve(default=None)
    # The step's code directory (see the class docstring); ``code`` is its entry script.
    source_dir: str | None = no_resolve(default=None)

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "arguments", tuple(self.arguments))
        object.__setattr__(self, "inputs", tuple(self.inputs))
        object.__setattr__(self, "property_files", tuple(self.property_files))
        object.__setattr__(self, "env", dict(self.env))
        # ``step.outputs`` is both the declared ProcessingOutputs and, indexed by name, the
        # expressions other steps use: ``prep.outputs["train"]``.
        object.__setattr__(self, "outputs", DeclaredOutputs(self, self.outputs))
        if (self.code is None) == (self.function is None and self.function_ref is None):
            raise PipelineDefinitionError(
                f"ProcessingStep {self.name!r} needs exactly one of code= (a script path) or "
                "function= (a Python callable)"
            )
        if self.source_dir is not None and not isinstance(self.code, SourceDirRef):
            if self.code is None:
                raise PipelineDefinitionError(
                    f"ProcessingStep {self.name!r}: source_dir= needs code= naming the entry "
                    "script inside it (code='preprocess.py', source_dir='src/'); a function= "
                    "step takes no source_dir"
                )
            if not isinstance(self.source_dir, str):
                raise PipelineDefinitionError(
                    f"ProcessingStep {self.name!r}: source_dir must be a directory path, not "
                    f"{type(self.source_dir).__name__}"
                )
            code = self.code.path if isinstance(self.code, CodeRef) else self.code
            ref = source_dir_ref(self.source_dir, code, step=self.name)
            object.__setattr__(self, "code", ref)
        if isinstance(self.code, SourceDirRef):
            object.__setattr__(self, "source_dir", self.code.directory)
        if isinstance(self.code, str):
            object.__setattr__(self, "code", script_ref(self.code, step=self.name))
        if self.function is not None and self.function_ref is None:
            object.__setattr__(self, "function_ref", function_ref(self.function))
        names = [o.output_name for o in self.outputs]
        dupes = {n for n in names if names.count(n) > 1}
        if dupes:
            raise PipelineDefinitionError(
                f"step {self.name!r} declares output(s) {sorted(dupes)} twice"
            )
        for pf in self.property_files:
            if pf.output_name not in names:
                raise PipelineDefinitionError(
                    f"step {self.name!r}: property file {pf.name!r} lives in output "
                    f"{pf.output_name!r}, which the step does not declare (declared: "
                    f"{', '.join(map(repr, names)) or 'none'})"
                )
        for arg in self.arguments:
            if not isinstance(arg, (str, int, float, bool, Expression)):
                raise PipelineDefinitionError(
                    f"step {self.name!r}: argument {arg!r} must be a string, a number or an "
                    "expression (parameter, step output, Join, ...)"
                )

    def declared_outputs(self) -> tuple[str, ...]:
        return tuple(o.output_name for o in self.outputs)

    def property_schema(self) -> dict[str, Any]:
        outputs = {o: {"S3Output": {"S3Uri": ANY}} for o in self.declared_outputs()}
        # ``Return``: what a processing function returns.
        return {"ProcessingOutputConfig": {"Outputs": outputs}, "Return": ANY}

    def output_property_paths(self) -> dict[str, str]:
        return {o: processing_output_path(o) for o in self.declared_outputs()}

    def declared_property_files(self) -> tuple[PropertyFile, ...]:
        return self.property_files

    def code_ref(self) -> CodeRef | None:
        return self.code if self.code is not None else self.function_ref

    def local_files(self) -> tuple[str, ...]:
        return tuple(
            i.source for i in self.inputs if isinstance(i.source, str) and "://" not in i.source
        )

    def ray_options(self) -> dict[str, Any]:
        return {"num_cpus": self.num_cpus, "num_gpus": self.num_gpus}

    def code_snapshots(self) -> list[tuple[bytes, str]]:
        if self.function is not None:
            import cloudpickle

            return [(cloudpickle.dumps(self.function), ".pkl")]
        if isinstance(self.code, SourceDirRef):
            archive = directory_snapshot(self.code, step=self.name)
            return [] if archive is None else [(archive, ".tar")]
        if isinstance(self.code, CodeRef) and Path(self.code.path).is_file():
            return [(Path(self.code.path).read_bytes(), ".py")]
        return []

    def container_entrypoint(self) -> list[str] | None:
        """SageMaker's ``AppSpecification.ContainerEntrypoint`` for this step: a script runs as
        ``python3 /opt/ml/processing/input/code/<script>`` (a ``source_dir``'s entry point
        relative to that directory), where SageMaker's ``ScriptProcessor`` puts its code. A
        function step has none: it runs no script, the function is ``Rayline.Code``."""
        if isinstance(self.code, SourceDirRef):
            return ["python3", f"{CODE_DIR}/{self.code.entry_point}"]
        if isinstance(self.code, CodeRef):
            return ["python3", f"{CODE_DIR}/{PurePosixPath(self.code.path).name}"]
        return None

    def to_arguments(self) -> dict[str, Any]:
        """The arguments in the shape of SageMaker's ``CreateProcessingJob`` request (as the SDK's
        ``ProcessingStep`` writes them), less what rayline has no use for, plus one extension.

        - ``AppSpecification``: ``ContainerEntrypoint`` (``container_entrypoint()``) and
          ``ContainerArguments`` (only when there are arguments, as the SDK). No ``ImageUri``:
          the script runs in the Ray worker's Python, not in an image.
        - ``ProcessingInputs``: one ``S3Input`` per input, ``InputName`` its destination and
          ``LocalPath`` ``/opt/ml/processing/<destination>``, with the SDK's defaults written
          out. The script still finds it at ``RAYLINE_INPUT_<DESTINATION>`` (its step's own
          directory); the ``LocalPath`` says where SageMaker would have put it.
        - ``ProcessingOutputConfig.Outputs``: ``S3Output`` with ``LocalPath``
          ``/opt/ml/processing/<name>`` and ``S3UploadMode`` ``EndOfJob`` (rayline uploads when
          the step ends), without ``S3Uri``: the engine picks each attempt's URI in its artifact
          store when the step runs, so the definition has none to write; other steps read it as
          ``Steps.<step>.ProcessingOutputConfig.Outputs['<name>'].S3Output.S3Uri``.
        - ``Environment``: the script's variables (only when set, as the SDK).
        - ``Rayline``: what SageMaker's request has no key for. ``Resources`` (``NumCpus``,
          ``NumGpus``: Ray's resources for the task; ``ProcessingResources.ClusterConfig``
          names instances, which do not map) and, in the definition (``to_request``), ``Code``:
          the script, ``source_dir`` snapshot or function by content hash. Left out here
          because the cache key reads these arguments and keys the code by its content
          (``code_ref().cache_identity``), not by its path or pickle.

        No ``ProcessingResources``, ``RoleArn``, ``StoppingCondition`` or ``NetworkConfig``:
        rayline applies none of them. ``from_arguments`` reads this shape and the one rayline
        wrote before (``Code``, ``ContainerArguments``, ``ProcessingInputs`` of
        ``Source``/``Destination``, ``ProcessingOutputs``, ``Resources``).
        """
        app: dict[str, Any] = {}
        if self.arguments:
            app["ContainerArguments"] = to_request(list(self.arguments))
        entrypoint = self.container_entrypoint()
        if entrypoint is not None:
            app["ContainerEntrypoint"] = entrypoint
        out: dict[str, Any] = {"AppSpecification": app}
        if self.inputs:
            out["ProcessingInputs"] = [_input_request(i) for i in self.inputs]
        if self.outputs:
            out["ProcessingOutputConfig"] = {"Outputs": [_output_request(o) for o in self.outputs]}
        if self.env:
            out["Environment"] = dict(self.env)
        out[EXTENSION_KEY] = {"Resources": {"NumCpus": self.num_cpus, "NumGpus": self.num_gpus}}
        return out

    def to_request(self) -> dict[str, Any]:
        out = super().to_request()
        ref = self.code_ref()
        code = {"Kind": "Function" if self.function_ref else "Script", **ref.to_request()}
        extension = out["Arguments"][EXTENSION_KEY]
        out["Arguments"][EXTENSION_KEY] = {"Code": code, **extension}
        return out

    @classmethod
    def from_arguments(
        cls, name: str, arguments: dict[str, Any], ctx: ParseContext, **common: Any
    ) -> ProcessingStep:
        if "Code" in arguments:  # the shape rayline wrote before
            return cls._from_old_arguments(name, arguments, ctx, **common)
        extension = arguments.get(EXTENSION_KEY) or {}
        code = extension.get("Code")
        if code is None:
            raise PipelineDefinitionError(
                f"processing step {name!r} names no code (Arguments.{EXTENSION_KEY}.Code): a "
                "definition the SageMaker SDK wrote is read with "
                "Pipeline.from_sagemaker_definition (or `rayline pipeline import`)"
            )
        app = arguments.get("AppSpecification") or {}
        inputs = []
        for i in arguments.get("ProcessingInputs", []):
            slot = i["InputName"]
            s3 = i["S3Input"]
            _check_local_path(name, f"ProcessingInputs[{slot!r}]", s3.get("LocalPath"), slot)
            inputs.append(ProcessingInput(ctx.value(s3["S3Uri"]), slot))
        outputs = []
        for o in (arguments.get("ProcessingOutputConfig") or {}).get("Outputs", []):
            out_name = o["OutputName"]
            local = (o.get("S3Output") or {}).get("LocalPath")
            _check_local_path(name, f"Outputs[{out_name!r}]", local, out_name)
            outputs.append(ProcessingOutput(out_name))
        return cls._from_parts(
            name,
            code=code,
            task_resources=extension.get("Resources", {}),
            arguments=app.get("ContainerArguments", []),
            inputs=inputs,
            outputs=outputs,
            env=arguments.get("Environment", {}),
            ctx=ctx,
            **common,
        )

    @classmethod
    def _from_old_arguments(
        cls, name: str, arguments: dict[str, Any], ctx: ParseContext, **common: Any
    ) -> ProcessingStep:
        return cls._from_parts(
            name,
            code=arguments["Code"],
            task_resources=arguments.get("Resources", {}),
            arguments=arguments.get("ContainerArguments", []),
            inputs=[
                ProcessingInput(ctx.value(i["Source"]), i["Destination"])
                for i in arguments.get("ProcessingInputs", [])
            ],
            outputs=[
                ProcessingOutput(o["OutputName"]) for o in arguments.get("ProcessingOutputs", [])
            ],
            env=arguments.get("Environment", {}),
            ctx=ctx,
            **common,
        )

    @classmethod
    def _from_parts(
        cls,
        name: str,
        *,
        code: dict[str, Any],
        task_resources: dict[str, Any],
        arguments: list[Any],
        inputs: list[ProcessingInput],
        outputs: list[ProcessingOutput],
        env: dict[str, str],
        ctx: ParseContext,
        **common: Any,
    ) -> ProcessingStep:
        ref = SourceDirRef.from_request(code) if "SourceDir" in code else CodeRef.from_request(code)
        function = code.get("Kind") == "Function"
        return cls(
            name,
            code=None if function else ref,
            function_ref=ref if function else None,
            arguments=tuple(ctx.value(arguments)),
            inputs=tuple(inputs),
            outputs=tuple(outputs),
            num_cpus=task_resources.get("NumCpus", 1),
            num_gpus=task_resources.get("NumGpus", 0),
            env=env,
            **common,
        )


def _input_request(i: ProcessingInput) -> dict[str, Any]:
    # As the SDK's ProcessingInput._to_request_dict writes an S3 input (its defaults included).
    return {
        "InputName": i.destination,
        "AppManaged": False,
        "S3Input": {
            "S3Uri": to_request(i.source),
            "LocalPath": f"{CONTAINER_ROOT}/{i.destination}",
            "S3DataType": "S3Prefix",
            "S3InputMode": "File",
            "S3DataDistributionType": "FullyReplicated",
            "S3CompressionType": "None",
        },
    }


def _output_request(o: ProcessingOutput) -> dict[str, Any]:
    # As the SDK's ProcessingOutput._to_request_dict, less S3Uri (see to_arguments).
    return {
        "OutputName": o.output_name,
        "AppManaged": False,
        "S3Output": {"LocalPath": f"{CONTAINER_ROOT}/{o.output_name}", "S3UploadMode": "EndOfJob"},
    }


def _check_local_path(step: str, what: str, local_path: Any, slot: str) -> None:
    # A rayline step gives each input and output a directory of its own, named by its slot: a
    # LocalPath elsewhere cannot be honoured, and is refused rather than ignored.
    expected = f"{CONTAINER_ROOT}/{slot}"
    if local_path != expected:
        raise PipelineDefinitionError(
            f"processing step {step!r}: {what} has LocalPath {local_path!r}; rayline places it "
            f"at {expected!r} (the step's own directory for {slot!r}). Give that LocalPath, or "
            "read a SageMaker definition with Pipeline.from_sagemaker_definition, which maps "
            "any LocalPath under /opt/ml/processing"
        )


class DeclaredOutputs(tuple):
    """A step's ``ProcessingOutput``s that, indexed by name, give ``StepOutput`` expressions."""

    def __new__(cls, source: Any, items: Any = ()) -> DeclaredOutputs:
        self = super().__new__(cls, tuple(items))
        self.source = source  # the step, so a pipeline can collect it from its consumers
        return self

    def __getnewargs__(self) -> tuple[Any, ...]:
        return (self.source, tuple(self))

    def __getitem__(self, key: Any) -> Any:
        if not isinstance(key, str):
            return super().__getitem__(key)
        names = [o.output_name for o in self]
        if key not in names:
            raise PipelineDefinitionError(
                f"step {self.source.name!r} has no output {key!r} (declared: "
                f"{', '.join(map(repr, names)) or 'none'})"
            )
        path = processing_output_path(key)
        return StepOutput(self.source.name, key, source=self.source, path=path)


def script_ref(path: str, *, step: str) -> CodeRef:
    """Hash a script file for the definition (its snapshot is stored at upsert)."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise PipelineDefinitionError(
            f"step {step!r}: script {path!r} does not exist (looked at {p.resolve()}); give a "
            "path relative to the working directory or an absolute one"
        )
    digest = hashlib.sha256(p.read_bytes()).hexdigest()
    return CodeRef(str(p.resolve()), digest, digest)


def function_ref(func: Callable[..., Any], *, dependencies: Iterable[Any] = ()) -> CodeRef:
    """Identify a function by its pickle (what runs) and by the source it depends on (what the
    cache keys on: its own, the user code it calls, and ``dependencies``; see
    ``rayline.definition.code_deps``)."""
    import cloudpickle

    pickled = cloudpickle.dumps(func)
    source = dependency_source(func, dependencies=dependencies)
    name = f"{getattr(func, '__module__', '?')}.{getattr(func, '__qualname__', repr(func))}"
    return CodeRef(
        name, hashlib.sha256(pickled).hexdigest(), hashlib.sha256(source.encode()).hexdigest()
    )
