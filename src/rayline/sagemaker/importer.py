"""Translate a pipeline definition written by the SageMaker Python SDK into rayline steps.

What maps: parameters (String, Integer, Float, Boolean); ProcessingSteps running a Python
script (``AppSpecification.ContainerEntrypoint`` of ``python``/``python3`` and a script under
the code input's ``LocalPath``), with their ``S3Input``/``S3Output`` paths; ConditionSteps;
FailSteps; and on every step ``DependsOn``, ``CacheConfig``, ``RetryPolicies``, ``DisplayName``
and ``Description``. ``s3://`` inputs are read as any location (or from a local directory a
mapping gives), outputs go to rayline's artifact store, and container paths to the step's own
directories (``rayline.sagemaker.container``).

What is recorded but not applied (the import's ``not_applied``): the container image, the
instance resources, the IAM role, an experiment config other than the SDK's default (which is
what rayline's tracking does), each output's ``S3Uri`` (rayline stores outputs itself) and
similar. What cannot be mapped at all is one
``PipelineDefinitionError`` listing every such field with its step.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from rayline.definition.conditions import Condition, condition_from_request
from rayline.definition.expressions import from_request
from rayline.definition.parameters import Parameter, parameter_from_definition
from rayline.definition.pipeline import PIPELINE_EXPERIMENT_CONFIG
from rayline.definition.policies import CacheConfig, ParallelismConfiguration, RetryPolicy
from rayline.definition.steps import ConditionStep, FailStep, ProcessingStep
from rayline.definition.steps.base import CodeRef, Step
from rayline.definition.steps.processing import (
    ProcessingInput,
    ProcessingOutput,
    PropertyFile,
)
from rayline.errors import PipelineDefinitionError
from rayline.sagemaker import ml_steps
from rayline.sagemaker.container import ContainerScript, in_container_root

#: Definition versions the SDK writes.
SAGEMAKER_VERSIONS = ("2020-12-01",)

#: Fields of a processing step's arguments that rayline accepts and does not apply, and why.
_NOT_APPLIED = {
    "ProcessingResources": "instances are not chosen; the step runs as one Ray task",
    "RoleArn": "no IAM role is assumed",
    "NetworkConfig": "no VPC is set up",
    "StoppingCondition": "no time limit is applied",
    "Environment": None,  # applied: the script's environment variables
    "ExperimentConfig": "MLflow tracks the step instead",
    "Tags": "not applied",
}
_APP_NOT_APPLIED = {"ImageUri": "the script runs in the Ray worker's Python, not the image"}
_STEP_COMMON = {
    "Name",
    "Type",
    "Arguments",
    "DependsOn",
    "CacheConfig",
    "RetryPolicies",
    "DisplayName",
    "Description",
    "PropertyFiles",
}
_PIPELINE_NOT_APPLIED = {
    # Applied when it is the SDK's default (what rayline's tracking does), else recorded.
    "PipelineExperimentConfig": None,
    "ParallelismConfiguration": None,  # applied
}
#: SageMaker's retryable failure classes are all the infrastructure's, not the script's:
#: rayline's nearest is a Ray worker that died.
_SAGEMAKER_EXCEPTIONS = {
    "Step.SERVICE_FAULT",
    "Step.THROTTLING",
    "SageMaker.JOB_INTERNAL_ERROR",
    "SageMaker.CAPACITY_ERROR",
    "SageMaker.RESOURCE_LIMIT",
}
_PYTHON = re.compile(r"^(.*/)?python(3(\.\d+)?)?$")


@dataclass(frozen=True)
class ImportedDefinition:
    """The translated pipeline's pieces, and what was recorded but not applied."""

    name: str
    parameters: tuple[Parameter, ...]
    steps: tuple[Step, ...]
    description: str
    #: ``"<step>: <field> (<why>)"`` for each field accepted but not applied.
    not_applied: tuple[str, ...] = ()
    parallelism_config: ParallelismConfiguration | None = None


def import_sagemaker_definition(
    definition: str | Mapping[str, Any],
    *,
    name: str | None = None,
    mappings: Mapping[str, str | Path] | None = None,
) -> ImportedDefinition:
    """Translate ``definition`` (a SageMaker SDK ``Pipeline.definition()``: JSON text or the
    parsed object). ``mappings`` maps ``s3://bucket/prefix`` to a local directory the code and
    literal inputs under that prefix are read from instead."""
    request = _parse(definition)
    importer = _Importer(_checked_mappings(mappings or {}))
    parameters = tuple(importer.parameter(p) for p in request.get("Parameters", []))
    importer.parameters = {p.name: p for p in parameters}
    for key, why in _PIPELINE_NOT_APPLIED.items():
        if key in request and why:
            importer.skip("pipeline", key, why)
    experiment = request.get("PipelineExperimentConfig", PIPELINE_EXPERIMENT_CONFIG)
    if experiment != PIPELINE_EXPERIMENT_CONFIG:
        importer.skip(
            "pipeline",
            "PipelineExperimentConfig",
            "rayline's MLflow experiment is named after the pipeline, its run after the "
            "execution (the SDK's default config)",
        )
    for key in request:
        if key not in {"Version", "Metadata", "Parameters", "Steps", *_PIPELINE_NOT_APPLIED}:
            importer.unsupported("pipeline", key, "not a field rayline knows")
    steps = tuple(s for s in (importer.step(r) for r in request.get("Steps", [])) if s)
    if importer.errors:
        raise PipelineDefinitionError(
            "this SageMaker definition cannot be imported; unsupported:\n"
            + "\n".join(f"  - {e}" for e in importer.errors)
        )
    meta = request.get("Metadata") or {}
    pipeline_name = name or meta.get("Name") or "imported-pipeline"
    # The stored description records what the import did not apply, so `describe` shows it.
    description = "\n".join(
        [
            meta.get("Description") or "Imported from a SageMaker pipeline definition.",
            *(["Recorded but not applied:"] if importer.not_applied else []),
            *(f"- {line}" for line in importer.not_applied),
        ]
    )
    par = request.get("ParallelismConfiguration")
    return ImportedDefinition(
        pipeline_name,
        parameters,
        steps,
        description,
        tuple(importer.not_applied),
        ParallelismConfiguration(par["MaxParallelExecutionSteps"]) if par else None,
    )


def _parse(definition: str | Mapping[str, Any]) -> dict[str, Any]:
    try:
        request = json.loads(definition) if isinstance(definition, str) else dict(definition)
    except json.JSONDecodeError as exc:
        raise PipelineDefinitionError(
            f"the SageMaker definition is not valid JSON: {exc}"
        ) from None
    if not isinstance(request, dict) or not isinstance(request.get("Steps"), list):
        raise PipelineDefinitionError(
            "a SageMaker pipeline definition is a JSON object with 'Version', 'Parameters' and "
            "'Steps' (what sagemaker.workflow.pipeline.Pipeline(...).definition() returns)"
        )
    if request.get("Version") not in SAGEMAKER_VERSIONS:
        raise PipelineDefinitionError(
            f"SageMaker definition version {request.get('Version')!r} is not supported "
            f"(this rayline reads {', '.join(SAGEMAKER_VERSIONS)})"
        )
    return request


def _checked_mappings(mappings: Mapping[str, str | Path]) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for prefix, directory in mappings.items():
        if not str(prefix).startswith("s3://"):
            raise PipelineDefinitionError(
                f"mapping {prefix!r}: the prefix must be an s3:// URI (s3://bucket/prefix=DIR)"
            )
        path = Path(directory).expanduser().resolve()
        if not path.is_dir():
            raise PipelineDefinitionError(
                f"mapping {prefix}={directory}: {path} is not a directory"
            )
        out[str(prefix).rstrip("/")] = path
    return out


class _Importer:
    def __init__(self, mappings: dict[str, Path]) -> None:
        self.mappings = mappings
        self.parameters: dict[str, Parameter] = {}
        self.errors: list[str] = []
        self.not_applied: list[str] = []

    def unsupported(self, where: str, what: str, why: str) -> None:
        self.errors.append(f"{where}: {what} ({why})")

    def skip(self, where: str, what: str, why: str) -> None:
        self.not_applied.append(f"{where}: {what} ({why})")

    def local(self, uri: str) -> str:
        """``uri`` read from its mapped directory where a mapping covers it."""
        for prefix in sorted(self.mappings, key=len, reverse=True):
            if uri == prefix or uri.startswith(prefix + "/"):
                return str(self.mappings[prefix] / uri[len(prefix) :].lstrip("/"))
        return uri

    def parameter(self, entry: dict[str, Any]) -> Parameter:
        default = entry.get("DefaultValue")
        if isinstance(default, str) and default.startswith("s3://"):
            entry = {**entry, "DefaultValue": self.local(default)}
        return parameter_from_definition(entry)

    def value(self, value: Any) -> Any:
        """A definition value with its expressions (SageMaker's property paths included)."""
        model = ml_steps.top_model_reference(value)  # a TuningStep's get_top_model_s3_uri()
        return model if model is not None else from_request(value, self.parameters)

    def condition(self, request: dict[str, Any], where: str) -> Condition | None:
        try:
            return condition_from_request(request, self.parameters)
        except (PipelineDefinitionError, KeyError) as exc:
            self.unsupported(where, f"condition {request.get('Type')!r}", str(exc))
            return None

    def step(self, request: dict[str, Any]) -> Step | None:
        name = request.get("Name", "?")
        kind = request.get("Type")
        for key in request:
            if key not in _STEP_COMMON:
                self.unsupported(f"step {name!r}", key, "not a step field rayline knows")
        common = self.common(request, name)
        if kind == "Processing":
            return self.processing(name, request, common)
        if kind == "Condition":
            return self.condition_step(name, request, common)
        if kind == "Fail":
            args = request.get("Arguments", {})
            return FailStep(name, error_message=self.value(args.get("ErrorMessage", "")), **common)
        if ml_steps.handles(kind):  # Training, Tuning, RegisterModel (and the refused ML kinds)
            return ml_steps.translate(self, name, request, common)
        self.unsupported(
            f"step {name!r}",
            f"Type {kind!r}",
            "rayline imports Processing, Training, Tuning, RegisterModel, Condition and Fail steps",
        )
        return None

    def common(self, request: dict[str, Any], name: str) -> dict[str, Any]:
        out: dict[str, Any] = {
            "depends_on": tuple(request.get("DependsOn", ())),
            "display_name": request.get("DisplayName"),
            "description": request.get("Description"),
        }
        cache = request.get("CacheConfig")
        if cache is not None:
            out["cache_config"] = CacheConfig.from_request(cache)
        policies = []
        for r in request.get("RetryPolicies", ()):
            types = list(r.get("ExceptionType", ()))
            unknown = [t for t in types if t not in _SAGEMAKER_EXCEPTIONS]
            if unknown:
                self.unsupported(
                    f"step {name!r}",
                    f"RetryPolicies ExceptionType {unknown}",
                    f"SageMaker's are {sorted(_SAGEMAKER_EXCEPTIONS)}",
                )
                continue
            self.skip(
                f"step {name!r}",
                f"RetryPolicies ExceptionType {types}",
                "retried when the step's Ray worker dies",
            )
            policies.append(RetryPolicy.from_request({**r, "ExceptionType": ["WorkerDied"]}))
        out["retry_policies"] = tuple(policies)
        return out

    def condition_step(
        self, name: str, request: dict[str, Any], common: dict[str, Any]
    ) -> ConditionStep:
        args = request.get("Arguments", {})
        where = f"step {name!r}"
        conditions = [self.condition(c, where) for c in args.get("Conditions", [])]
        if_steps = [self.step(s) for s in args.get("IfSteps", [])]
        else_steps = [self.step(s) for s in args.get("ElseSteps", [])]
        return ConditionStep(
            name,
            conditions=tuple(c for c in conditions if c is not None),
            if_steps=tuple(s for s in if_steps if s is not None),
            else_steps=tuple(s for s in else_steps if s is not None),
            **common,
        )

    def processing(
        self, name: str, request: dict[str, Any], common: dict[str, Any]
    ) -> ProcessingStep | None:
        where = f"step {name!r}"
        args = request.get("Arguments", {})
        errors_before = len(self.errors)
        for key, why in _NOT_APPLIED.items():
            if key in args and why:
                self.skip(where, key, why)
        known = {*_NOT_APPLIED, "AppSpecification", "ProcessingInputs", "ProcessingOutputConfig"}
        for key in args:
            if key not in known:
                self.unsupported(where, key, "not a processing field rayline knows")
        app = args.get("AppSpecification", {})
        for key, why in _APP_NOT_APPLIED.items():
            if key in app:
                self.skip(where, f"AppSpecification.{key}", why)
        for key in app:
            if key not in {*_APP_NOT_APPLIED, "ContainerEntrypoint", "ContainerArguments"}:
                self.unsupported(where, f"AppSpecification.{key}", "not a field rayline knows")
        script_path = self._entry_script(where, app.get("ContainerEntrypoint"))
        code_dir = str(PurePosixPath(script_path).parent) if script_path else None

        inputs: list[ProcessingInput] = []
        input_paths: dict[str, str] = {}
        source: bytes | None = None
        for i in args.get("ProcessingInputs", []):
            slot = i.get("InputName", "?")
            s3 = i.get("S3Input")
            if s3 is None or "DatasetDefinition" in i:
                self.unsupported(
                    where,
                    f"ProcessingInputs[{slot!r}]",
                    "only S3Input inputs are imported, not DatasetDefinition",
                )
                continue
            local_path = s3.get("LocalPath", "")
            if not in_container_root(local_path):
                self.unsupported(
                    where,
                    f"ProcessingInputs[{slot!r}].S3Input.LocalPath {local_path!r}",
                    "must lie under /opt/ml/processing",
                )
                continue
            self._s3_options(where, f"ProcessingInputs[{slot!r}].S3Input", s3)
            uri = s3.get("S3Uri")
            if code_dir is not None and local_path == code_dir and isinstance(uri, str):
                source = self._read_code(where, uri, PurePosixPath(script_path).name)
                continue
            value = self.local(uri) if isinstance(uri, str) else self.value(uri)
            inputs.append(ProcessingInput(source=value, destination=slot))
            input_paths[slot] = local_path

        outputs: list[ProcessingOutput] = []
        output_paths: dict[str, str] = {}
        for o in args.get("ProcessingOutputConfig", {}).get("Outputs", []):
            out_name = o.get("OutputName", "?")
            s3 = o.get("S3Output")
            if s3 is None:
                self.unsupported(
                    where,
                    f"Outputs[{out_name!r}]",
                    "only S3Output outputs are imported, not FeatureStoreOutput",
                )
                continue
            local_path = s3.get("LocalPath", "")
            if not in_container_root(local_path):
                self.unsupported(
                    where,
                    f"Outputs[{out_name!r}].S3Output.LocalPath {local_path!r}",
                    "must lie under /opt/ml/processing",
                )
                continue
            if "S3Uri" in s3:
                self.skip(
                    where,
                    f"Outputs[{out_name!r}].S3Output.S3Uri",
                    "outputs are stored in rayline's artifact store",
                )
            if s3.get("S3UploadMode", "EndOfJob") != "EndOfJob":
                self.skip(
                    where,
                    f"Outputs[{out_name!r}].S3Output.S3UploadMode",
                    "outputs are uploaded when the step ends",
                )
            outputs.append(ProcessingOutput(out_name))
            output_paths[out_name] = local_path
        if script_path is not None and source is None and len(self.errors) == errors_before:
            self.unsupported(
                where,
                f"ContainerEntrypoint script {script_path!r}",
                "no ProcessingInput with a literal S3Uri has the LocalPath "
                f"{code_dir!r} the script lies in",
            )
        if len(self.errors) != errors_before or source is None or script_path is None:
            return None
        script = ContainerScript(
            script_name=PurePosixPath(script_path).name,
            source=source,
            code_dir=code_dir,
            input_paths=input_paths,
            output_paths=output_paths,
        )
        property_files = tuple(
            PropertyFile.from_request(pf) for pf in request.get("PropertyFiles", [])
        )
        import cloudpickle

        ref = CodeRef(
            f"sagemaker:{script.script_name}",
            hashlib.sha256(cloudpickle.dumps(script)).hexdigest(),
            script.identity(),
        )
        return ProcessingStep(
            name,
            function=script,
            function_ref=ref,
            arguments=tuple(self.value(a) for a in app.get("ContainerArguments", [])),
            inputs=tuple(inputs),
            outputs=tuple(outputs),
            property_files=property_files,
            env=dict(args.get("Environment", {})),
            **common,
        )

    def _entry_script(self, where: str, entrypoint: Any) -> str | None:
        if not isinstance(entrypoint, list) or not entrypoint:
            self.unsupported(
                where,
                "AppSpecification.ContainerEntrypoint",
                "missing; rayline runs a Python script, as "
                "['python3', '/opt/ml/processing/input/code/x.py']",
            )
            return None
        if (
            len(entrypoint) != 2
            or not isinstance(entrypoint[0], str)
            or not _PYTHON.match(entrypoint[0])
            or not str(entrypoint[1]).endswith(".py")
            or not in_container_root(str(entrypoint[1]))
        ):
            self.unsupported(
                where,
                f"AppSpecification.ContainerEntrypoint {entrypoint!r}",
                "not a Python script: rayline runs ['python3', '/opt/ml/processing/.../x.py']",
            )
            return None
        return str(entrypoint[1])

    def _s3_options(self, where: str, what: str, s3: dict[str, Any]) -> None:
        if s3.get("S3InputMode", "File") != "File":
            self.unsupported(
                where,
                f"{what}.S3InputMode {s3['S3InputMode']!r}",
                "only File mode (a download before the script) is imported",
            )
        if s3.get("S3CompressionType", "None") != "None":
            self.unsupported(
                where,
                f"{what}.S3CompressionType {s3['S3CompressionType']!r}",
                "compressed inputs are not unpacked",
            )
        if s3.get("S3DataType", "S3Prefix") != "S3Prefix":
            self.unsupported(
                where,
                f"{what}.S3DataType {s3['S3DataType']!r}",
                "only S3Prefix inputs are imported",
            )

    def _read_code(self, where: str, uri: str, script_name: str) -> bytes | None:
        from rayline.store import locations

        location = uri if uri.endswith(".py") else uri.rstrip("/") + "/" + script_name
        local = self.local(location)
        try:
            return locations.read_bytes(local)
        except Exception as exc:  # any failure to read is reported with the step, not raised
            self.unsupported(
                where,
                f"code {location}",
                f"cannot be read ({exc}); give --map {_bucket_prefix(location)}=DIR "
                "for a local copy, or configure S3 access",
            )
            return None


def _bucket_prefix(uri: str) -> str:
    return uri.rsplit("/", 1)[0]
