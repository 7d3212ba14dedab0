"""Import the SageMaker SDK's ML steps as rayline's kinds: Training, Tuning and RegisterModel.

What maps:

- **Training** (``TrainingStep``, CreateTrainingJob's arguments) with SageMaker's built-in
  XGBoost algorithm (``image_uris.retrieve("xgboost", region, "1.7-1")``): ``HyperParameters``
  (strings, as the SDK writes them) become an ``XGBoostTrainer``: ``num_round`` its
  ``num_boost_round``, the rest XGBoost's ``params`` (same names; numbers parsed,
  ``eval_metric`` split at commas); ``ResourceConfig.InstanceCount`` its ``num_workers``;
  the ``train`` and ``validation`` channels of ``InputDataConfig`` its inputs.
- **Tuning** (``TuningStep``, CreateHyperParameterTuningJob's): strategy, objective, resource
  limits, ``RandomSeed`` and the Integer/Continuous/Categorical ``ParameterRanges`` (whose
  string bounds are parsed), over the ``TrainingJobDefinition``'s trainer as above.
  ``tuning_step.get_top_model_s3_uri(top_k, ...)`` (a ``Std:Join`` ending in
  ``TrainingJobSummaries[k].TrainingJobName``/``output/model.tar.gz``) reads as the tuning
  step's ``best_model`` output (``top_k=0``) or its ``TopModelUris[k]``.
- **RegisterModel** (``step_collections.RegisterModel``, or ``ModelStep`` on
  ``model.register()``): the group, the one container's ``ModelDataUrl``, the content types,
  the approval status, the description and ``ModelMetrics.ModelQuality.Statistics`` (the
  evaluation report) become a ``ModelStep``.

**The label.** SageMaker's XGBoost takes the label from the data's first column (CSV without
a header, or Parquet); rayline's trainer takes it by its column name, which the definition does
not hold. The import reads it from the estimator's environment, ``RAYLINE_LABEL`` (the
container ignores the variable, so the same definition still runs on SageMaker)::

    Estimator(image_uri=image_uris.retrieve("xgboost", region, "1.7-1"), ...,
              environment={"RAYLINE_LABEL": "PRICE"})

and refuses a training or tuning step without it. Data: Parquet channels
(``application/x-parquet``, label first and named) read as SageMaker reads them; ``text/csv``
channels are accepted, but rayline reads a CSV's first row as its header (SageMaker's XGBoost
reads none), which the import records. libsvm and RecordIO channels are refused.

**Not imported** (one ``PipelineDefinitionError`` with the rest): a training script (the
XGBoost *framework* estimator's ``entry_point``, seen as ``sagemaker_program``: rayline trains
XGBoost itself and would not run the script), other algorithms' images, and the
``Model`` (CreateModel), ``Transform`` and ``Lambda`` step kinds.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Protocol

from rayline.definition.expressions import Expression, StepOutput, StepProperty
from rayline.definition.steps.base import Step
from rayline.errors import UserInputError
from rayline.ml.hyperparameters import (
    CategoricalParameter,
    ContinuousParameter,
    IntegerParameter,
    Parameter,
)
from rayline.ml.steps import TrainingStep, TuningStep, parse_number
from rayline.ml.trainers import XGBoostTrainer
from rayline.registry.steps import ModelStep

#: The step kinds this module translates.
KINDS = ("Training", "Tuning", "RegisterModel")

#: Kinds the SDK writes that rayline has no counterpart for, and what to do instead.
UNSUPPORTED_KINDS = {
    "Model": "CreateModel has no rayline counterpart: register the model (RegisterModel) and "
    "deploy an approved version with `rayline endpoint deploy`",
    "Transform": "batch transform has no rayline step kind; score in a ProcessingStep",
    "Lambda": "AWS Lambda is not called; run the code in a ProcessingStep",
}

#: The environment variable of a training job that names the label column (see above).
LABEL_VARIABLE = "RAYLINE_LABEL"

_XGBOOST_IMAGE = re.compile(r"(^|/)sagemaker-xgboost:[^/]+$")
_CHANNELS = ("train", "validation")
_PARQUET = "application/x-parquet"
_CSV = re.compile(r"^(text/csv|csv)(;.*)?$")
_SUMMARY = re.compile(r"^Steps\.([^.]+)\.TrainingJobSummaries\[(\d+)\]\.TrainingJobName$")
_MODEL_TARBALL = "output/model.tar.gz"

#: Fields of a training job (or a tuning job's TrainingJobDefinition) rayline records and does
#: not apply, and why.
_TRAINING_NOT_APPLIED = {
    "RoleArn": "no IAM role is assumed",
    "OutputDataConfig": "the model is stored in rayline's artifact store",
    "StoppingCondition": "no time limit is applied",
    "CheckpointConfig": "checkpoints stay in Ray's storage",
    "DebugHookConfig": "SageMaker Debugger is not run",
    "DebugRuleConfigurations": "SageMaker Debugger is not run",
    "ProfilerConfig": "the SageMaker profiler is not run",
    "ProfilerRuleConfigurations": "the SageMaker profiler is not run",
    "TensorBoardOutputConfig": "MLflow tracks the step instead",
    "ExperimentConfig": "MLflow tracks the step instead",
    "VpcConfig": "no VPC is set up",
    "EnableNetworkIsolation": "no network isolation is set up",
    "EnableInterContainerTrafficEncryption": "not applied",
    "EnableManagedSpotTraining": "no spot instances are used",
    "RetryStrategy": "retries are the step's RetryPolicies",
    "Tags": "not applied",
}
_RESOURCE_NOT_APPLIED = (
    "InstanceType",
    "VolumeSizeInGB",
    "VolumeKmsKeyId",
    "KeepAlivePeriodInSeconds",
)
_TUNING_CONFIG_NOT_APPLIED = {
    "TuningJobCompletionCriteria": "the job runs MaxNumberOfTrainingJobs trials",
    "StrategyConfig": "Ray Tune's scheduler keeps its own settings",
}
_TUNING_NOT_APPLIED = {
    "WarmStartConfig": "every tuning job starts from no earlier trials",
    "Tags": "not applied",
}
_REGISTER_NOT_APPLIED = {
    "SupportedRealtimeInferenceInstanceTypes": "endpoints run on Ray Serve replicas",
    "SupportedTransformInstanceTypes": "there is no batch transform",
    "DriftCheckBaselines": "no drift checks are run",
    "CustomerMetadataProperties": "not applied",
    "MetadataProperties": "not applied",
    "Domain": "not applied",
    "Task": "not applied",
    "SamplePayloadUrl": "not applied",
    "SkipModelValidation": "rayline validates no model package",
    "SourceUri": "not applied",
    "ModelCard": "not applied",
    "ModelLifeCycle": "not applied",
    "SecurityConfig": "not applied",
    "Tags": "not applied",
}


class Importer(Protocol):
    """What the SageMaker importer offers a translator (``rayline.sagemaker.importer``)."""

    def value(self, value: Any) -> Any:
        """A definition value with its expressions read."""

    def local(self, uri: str) -> str:
        """``uri`` read from its mapped directory where a mapping covers it."""

    def unsupported(self, where: str, what: str, why: str) -> None:
        """Record a field that cannot be imported (the import then fails, listing all)."""

    def skip(self, where: str, what: str, why: str) -> None:
        """Record a field that is accepted and not applied."""


def handles(kind: Any) -> bool:
    """Whether ``kind`` (a step's ``Type``) is one this module translates or refuses."""
    return kind in KINDS or kind in UNSUPPORTED_KINDS


def translate(
    importer: Importer,
    name: str,
    request: Mapping[str, Any],
    common: dict[str, Any],
    *,
    label: str | None = None,
) -> Step | None:
    """The rayline step for SDK step ``request`` (``Type`` one of :data:`KINDS`), or None with
    what could not be mapped recorded on ``importer``. ``label`` names the label column where
    the definition's ``RAYLINE_LABEL`` does not."""
    kind = request.get("Type")
    where = f"step {name!r}"
    if kind in UNSUPPORTED_KINDS:
        importer.unsupported(where, f"Type {kind!r}", UNSUPPORTED_KINDS[kind])
        return None
    translator = _Translator(importer, where, label)
    args = dict(request.get("Arguments") or {})
    try:
        if kind == "Training":
            return translator.training(name, args, common)
        if kind == "Tuning":
            return translator.tuning(name, args, common)
        return translator.register(name, args, common)
    except UserInputError as exc:  # the rayline step refused the translated values
        importer.unsupported(where, f"Type {kind!r}", str(exc))
        return None


def top_model_reference(value: Any) -> Expression | None:
    """The rayline expression for SDK ``TuningStep.get_top_model_s3_uri(top_k, ...)``: the
    tuning step's ``best_model`` output (``top_k=0``) or its ``TopModelUris[k]``; None for any
    other value. SageMaker's bucket and prefix are dropped: rayline stores the trials' models."""
    if not isinstance(value, dict) or len(value) != 1 or "Std:Join" not in value:
        return None
    values = (value["Std:Join"] or {}).get("Values") or []
    refs = [
        _SUMMARY.match(v["Get"])
        for v in values
        if isinstance(v, dict) and isinstance(v.get("Get"), str)
    ]
    refs = [m for m in refs if m]
    if len(refs) != 1 or values[-1] != _MODEL_TARBALL:
        return None
    step, k = refs[0].group(1), int(refs[0].group(2))
    return StepOutput(step, "best_model") if k == 0 else StepProperty(step, f"TopModelUris[{k}]")


class _Translator:
    def __init__(self, importer: Importer, where: str, label: str | None) -> None:
        self.importer, self.where, self.label = importer, where, label
        #: Fields refused so far: a translation that added any returns no step.
        self.failures = 0

    def unsupported(self, what: str, why: str) -> None:
        self.failures += 1
        self.importer.unsupported(self.where, what, why)

    def skip(self, what: str, why: str) -> None:
        self.importer.skip(self.where, what, why)

    # -- training jobs -------------------------------------------------------------------------

    def training(self, name: str, args: dict[str, Any], common: dict[str, Any]) -> Step | None:
        job = self.job(args, hyper_key="HyperParameters", resources_key="ResourceConfig")
        if job is None:
            return None
        trainer, inputs = job
        return TrainingStep(name, trainer=trainer, inputs=inputs, **common)

    def job(
        self, args: dict[str, Any], *, hyper_key: str, resources_key: str, prefix: str = ""
    ) -> tuple[XGBoostTrainer, dict[str, Any]] | None:
        """The trainer and input channels of a training job's arguments (``prefix`` names where
        they lie: a tuning job's ``TrainingJobDefinition.``)."""
        errors = self.failures
        for key, why in _TRAINING_NOT_APPLIED.items():
            if key in args:
                self.skip(prefix + key, why)
        resource_keys = {resources_key, "ResourceConfig", "HyperParameterTuningResourceConfig"}
        known = {*_TRAINING_NOT_APPLIED, "AlgorithmSpecification", hyper_key, "InputDataConfig"}
        for key in args:
            if key not in {*known, *resource_keys, "Environment"}:
                self.unsupported(prefix + key, "not a training job field rayline knows")
        self.algorithm(args.get("AlgorithmSpecification") or {}, prefix)
        hyper = dict(args.get(hyper_key) or {})
        if any(k.startswith("sagemaker_") for k in hyper):
            self.unsupported(
                f"{prefix}{hyper_key} sagemaker_program",
                "a training script (the XGBoost framework estimator's entry_point) is not run: "
                "rayline trains XGBoost itself; use the built-in algorithm, "
                "image_uris.retrieve('xgboost', region, '1.7-1'), with its hyperparameters",
            )
        workers = self.workers(args, resource_keys, prefix)
        label = self.label_of(args.get("Environment") or {}, prefix)
        inputs = self.channels(args.get("InputDataConfig") or [], prefix)
        if self.failures != errors or label is None:
            return None
        return self.trainer(hyper, label=label, workers=workers, prefix=prefix + hyper_key), inputs

    def algorithm(self, spec: dict[str, Any], prefix: str) -> None:
        what = f"{prefix}AlgorithmSpecification"
        image = spec.get("TrainingImage")
        if "AlgorithmName" in spec or not isinstance(image, str):
            self.unsupported(
                f"{what}.{'AlgorithmName' if 'AlgorithmName' in spec else 'TrainingImage'}",
                "rayline trains SageMaker's built-in XGBoost: give its image, "
                "image_uris.retrieve('xgboost', region, '1.7-1')",
            )
            return
        if not _XGBOOST_IMAGE.search(image):
            self.unsupported(
                f"{what}.TrainingImage {image!r}",
                "rayline trains XGBoost only (the sagemaker-xgboost image)",
            )
            return
        self.skip(
            f"{what}.TrainingImage",
            "rayline trains with the xgboost library of its Ray workers, not the image",
        )
        for key, value in spec.items():
            if key == "TrainingImage":
                continue
            if key == "TrainingInputMode" and value == "File":
                continue
            if key in {
                "TrainingInputMode",
                "MetricDefinitions",
                "EnableSageMakerMetricsTimeSeries",
            }:
                self.skip(
                    f"{what}.{key}", "rayline reads the channels' files and XGBoost's metrics"
                )
            else:
                self.unsupported(f"{what}.{key}", "not a field rayline knows")

    def workers(self, args: dict[str, Any], keys: set[str], prefix: str) -> int:
        for key in sorted(keys):
            config = args.get(key)
            if not config:
                continue
            for field in _RESOURCE_NOT_APPLIED:
                if field in config:
                    self.skip(
                        f"{prefix}{key}.{field}", "instances are not chosen; Ray places the work"
                    )
            if "InstanceGroups" in config:
                self.unsupported(
                    f"{prefix}{key}.InstanceGroups", "heterogeneous clusters are not imported"
                )
            count = config.get("InstanceCount", 1)
            if not isinstance(count, int) or count < 1:
                self.unsupported(
                    f"{prefix}{key}.InstanceCount {count!r}",
                    "must be a literal positive integer (it becomes the trainer's num_workers)",
                )
                return 1
            return count
        return 1

    def label_of(self, environment: dict[str, Any], prefix: str) -> str | None:
        label = environment.get(LABEL_VARIABLE) or self.label
        others = sorted(k for k in environment if k != LABEL_VARIABLE)
        if others:
            self.skip(f"{prefix}Environment {others}", "no training container runs")
        if not label:
            self.unsupported(
                f"{prefix}Environment.{LABEL_VARIABLE}",
                "missing: SageMaker's XGBoost takes the label from the first column, rayline's "
                "trainer by its name; set environment={'RAYLINE_LABEL': '<label column>'} on "
                "the estimator",
            )
            return None
        if not isinstance(label, str):
            self.unsupported(
                f"{prefix}Environment.{LABEL_VARIABLE}", "must be a literal column name"
            )
            return None
        return label

    def channels(self, channels: list[dict[str, Any]], prefix: str) -> dict[str, Any]:
        inputs: dict[str, Any] = {}
        for channel in channels:
            cname = channel.get("ChannelName", "?")
            what = f"{prefix}InputDataConfig[{cname!r}]"
            if cname not in _CHANNELS:
                self.unsupported(what, "rayline trains on 'train' and evaluates on 'validation'")
                continue
            source = (channel.get("DataSource") or {}).get("S3DataSource")
            if source is None:
                self.unsupported(f"{what}.DataSource", "only S3DataSource channels are imported")
                continue
            self.data_options(what, channel, source)
            uri = source.get("S3Uri")
            inputs[cname] = (
                self.importer.local(uri) if isinstance(uri, str) else self.importer.value(uri)
            )
        if "train" not in inputs and not any(c.get("ChannelName") == "train" for c in channels):
            self.unsupported(f"{prefix}InputDataConfig", "no 'train' channel")
        return inputs

    def data_options(self, what: str, channel: dict[str, Any], source: dict[str, Any]) -> None:
        content = channel.get("ContentType")
        if content == _PARQUET:
            pass
        elif isinstance(content, str) and _CSV.match(content):
            self.skip(
                f"{what}.ContentType {content!r}",
                "rayline reads the CSV's first row as its header and the label by name; "
                "SageMaker's XGBoost reads no header and the label from the first column",
            )
        else:
            self.unsupported(
                f"{what}.ContentType {content!r}",
                f"rayline reads Parquet ({_PARQUET!r}) or CSV ('text/csv') channels "
                "(SageMaker's XGBoost defaults to libsvm)",
            )
        if source.get("S3DataType", "S3Prefix") != "S3Prefix":
            self.unsupported(
                f"{what}.S3DataType {source['S3DataType']!r}", "only S3Prefix is imported"
            )
        if source.get("S3DataDistributionType", "FullyReplicated") != "FullyReplicated":
            self.skip(
                f"{what}.S3DataDistributionType",
                "each Ray Train worker reads its own share of the files",
            )
        if channel.get("CompressionType", "None") != "None":
            self.unsupported(
                f"{what}.CompressionType {channel['CompressionType']!r}", "not unpacked"
            )
        for key in ("InputMode", "ShuffleConfig", "RecordWrapperType"):
            if key in channel:
                self.skip(f"{what}.{key}", "rayline reads the channel's files as they are")
        for key in ("AttributeNames", "InstanceGroupNames"):
            if key in source:
                self.skip(f"{what}.S3DataSource.{key}", "not applied")

    def trainer(
        self, hyper: dict[str, Any], *, label: str, workers: int, prefix: str
    ) -> XGBoostTrainer:
        params: dict[str, Any] = {}
        rounds: Any = 100
        for key, raw in hyper.items():
            value = self.importer.value(raw)
            if key == "num_round":
                rounds = parse_number(value)
            elif key == "early_stopping_rounds":
                self.skip(f"{prefix}.{key}", "rayline trains num_round rounds")
            elif key.startswith("_"):
                self.skip(f"{prefix}.{key}", "the SDK's own hyperparameter")
            elif key == "eval_metric" and isinstance(value, str):
                params[key] = [m.strip() for m in value.split(",") if m.strip()]
            else:
                params[key] = parse_number(value)
        if "num_round" not in hyper:
            self.skip(f"{prefix}.num_round", "missing (SageMaker requires it); rayline trains 100")
        return XGBoostTrainer(
            label=label, params=params, num_boost_round=rounds, num_workers=workers
        )

    # -- tuning jobs ---------------------------------------------------------------------------

    def tuning(self, name: str, args: dict[str, Any], common: dict[str, Any]) -> Step | None:
        errors = self.failures
        for key, why in _TUNING_NOT_APPLIED.items():
            if key in args:
                self.skip(key, why)
        for key in args:
            if key not in {
                *_TUNING_NOT_APPLIED,
                "HyperParameterTuningJobConfig",
                "TrainingJobDefinition",
            }:
                why = (
                    "one training job definition per tuning step is imported"
                    if key == "TrainingJobDefinitions"
                    else "not a tuning job field rayline knows"
                )
                self.unsupported(key, why)
        config = dict(args.get("HyperParameterTuningJobConfig") or {})
        settings = self.tuning_config(config)
        definition = dict(args.get("TrainingJobDefinition") or {})
        hyper_key = "StaticHyperParameters"
        for key in ("DefinitionName", "TuningObjective", "HyperParameterRanges"):
            if key in definition:
                self.unsupported(
                    f"TrainingJobDefinition.{key}", "multi-algorithm tuning is not imported"
                )
                definition.pop(key)
        job = self.job(
            definition,
            hyper_key=hyper_key,
            resources_key="HyperParameterTuningResourceConfig",
            prefix="TrainingJobDefinition.",
        )
        if job is None or self.failures != errors:
            return None
        trainer, inputs = job
        return TuningStep(name, trainer=trainer, inputs=inputs, **settings, **common)

    def tuning_config(self, config: dict[str, Any]) -> dict[str, Any]:
        what = "HyperParameterTuningJobConfig"
        for key, why in _TUNING_CONFIG_NOT_APPLIED.items():
            if key in config:
                self.skip(f"{what}.{key}", why)
        known = {
            *_TUNING_CONFIG_NOT_APPLIED,
            "Strategy",
            "HyperParameterTuningJobObjective",
            "ResourceLimits",
            "ParameterRanges",
            "TrainingJobEarlyStoppingType",
            "RandomSeed",
        }
        for key in config:
            if key not in known:
                self.unsupported(f"{what}.{key}", "not a tuning job field rayline knows")
        if config.get("TrainingJobEarlyStoppingType", "Off") != "Off":
            self.skip(
                f"{what}.TrainingJobEarlyStoppingType",
                "trials run to the end; use Strategy 'Hyperband' for early stopping",
            )
        objective = config.get("HyperParameterTuningJobObjective") or {}
        limits = dict(config.get("ResourceLimits") or {})
        if "MaxRuntimeInSeconds" in limits:
            self.skip(f"{what}.ResourceLimits.MaxRuntimeInSeconds", "no time limit is applied")
        settings: dict[str, Any] = {
            "hyperparameter_ranges": self.ranges(config.get("ParameterRanges") or {}),
            "strategy": self.importer.value(config.get("Strategy", "Bayesian")),
            "objective_metric": self.importer.value(objective.get("MetricName", "validation:rmse")),
            "objective_type": self.importer.value(objective.get("Type", "Minimize")),
        }
        if "MaxNumberOfTrainingJobs" in limits:
            settings["max_jobs"] = self.importer.value(limits["MaxNumberOfTrainingJobs"])
        if "MaxParallelTrainingJobs" in limits:
            settings["max_parallel_jobs"] = self.importer.value(limits["MaxParallelTrainingJobs"])
        if "RandomSeed" in config:
            settings["seed"] = self.importer.value(config["RandomSeed"])
        return settings

    def ranges(self, ranges: dict[str, Any]) -> dict[str, Parameter]:
        what = "HyperParameterTuningJobConfig.ParameterRanges"
        out: dict[str, Parameter] = {}
        builders = {
            "IntegerParameterRanges": lambda r: IntegerParameter(
                int(r["MinValue"]), int(r["MaxValue"]), r.get("ScalingType", "Auto")
            ),
            "ContinuousParameterRanges": lambda r: ContinuousParameter(
                float(r["MinValue"]), float(r["MaxValue"]), r.get("ScalingType", "Auto")
            ),
            "CategoricalParameterRanges": lambda r: CategoricalParameter(
                [parse_number(v) for v in r["Values"]]
            ),
        }
        for key, entries in ranges.items():
            build = builders.get(key)
            if build is None:
                self.unsupported(f"{what}.{key}", "not a range type rayline knows")
                continue
            for r in entries or []:
                pname = r.get("Name", "?")
                if pname == "num_round" or pname.startswith("_"):
                    self.unsupported(f"{what} {pname!r}", "only XGBoost's params are tuned here")
                    continue
                try:
                    out[pname] = build(r)
                except (KeyError, TypeError, ValueError) as exc:
                    self.unsupported(
                        f"{what} {pname!r}",
                        f"needs literal bounds or values ({type(exc).__name__}: {exc})",
                    )
        return out

    # -- model registration --------------------------------------------------------------------

    def register(self, name: str, args: dict[str, Any], common: dict[str, Any]) -> Step | None:
        errors = self.failures
        for key, why in _REGISTER_NOT_APPLIED.items():
            if key in args:
                self.skip(key, why)
        known = {
            *_REGISTER_NOT_APPLIED,
            "ModelPackageGroupName",
            "InferenceSpecification",
            "ModelApprovalStatus",
            "ModelPackageDescription",
            "ModelMetrics",
        }
        for key in args:
            if key not in known:
                self.unsupported(key, "not a RegisterModel field rayline knows")
        spec = dict(args.get("InferenceSpecification") or {})
        for key, why in _REGISTER_NOT_APPLIED.items():
            if key in spec:
                self.skip(f"InferenceSpecification.{key}", why)
        for key in spec:
            if key not in {
                *_REGISTER_NOT_APPLIED,
                "Containers",
                "SupportedContentTypes",
                "SupportedResponseMIMETypes",
            }:
                self.unsupported(f"InferenceSpecification.{key}", "not a field rayline knows")
        model = self.container_model(spec.get("Containers") or [])
        metrics = self.metrics(args.get("ModelMetrics") or {})
        group = args.get("ModelPackageGroupName")
        if group is None:
            self.unsupported("ModelPackageGroupName", "missing; rayline registers into a group")
        if self.failures != errors:
            return None
        options: dict[str, Any] = {}
        if "SupportedContentTypes" in spec:
            options["content_types"] = tuple(spec["SupportedContentTypes"])
        if "SupportedResponseMIMETypes" in spec:
            options["response_types"] = tuple(spec["SupportedResponseMIMETypes"])
        if "ModelApprovalStatus" in args:
            options["approval_status"] = self.importer.value(args["ModelApprovalStatus"])
        if "ModelPackageDescription" in args:
            options["model_description"] = self.importer.value(args["ModelPackageDescription"])
        return ModelStep(
            name,
            model=model,
            model_package_group=self.importer.value(group),
            metrics=metrics,
            **options,
            **common,
        )

    def container_model(self, containers: list[dict[str, Any]]) -> Any:
        what = "InferenceSpecification.Containers"
        if len(containers) != 1:
            self.unsupported(what, f"{len(containers)} containers; rayline registers one model")
            return None
        container = containers[0]
        for key, value in container.items():
            if key == "ModelDataUrl" or (key == "Environment" and not value):
                continue
            if key in {"Image", "Environment", "Framework", "FrameworkVersion", "NearestModelName"}:
                self.skip(f"{what}[0].{key}", "the model is served by rayline's XGBoost server")
            else:
                self.unsupported(f"{what}[0].{key}", "not a field rayline knows")
        if "ModelDataUrl" not in container:
            self.unsupported(f"{what}[0].ModelDataUrl", "missing; rayline registers a model file")
            return None
        return self.importer.value(container["ModelDataUrl"])

    def metrics(self, metrics: dict[str, Any]) -> Any:
        statistics = (metrics.get("ModelQuality") or {}).get("Statistics")
        for key, value in metrics.items():
            rest = (
                {k: v for k, v in value.items() if k != "Statistics"}
                if key == "ModelQuality"
                else value
            )
            if rest:
                self.skip(
                    f"ModelMetrics.{key}",
                    "only ModelQuality.Statistics (the evaluation report) is kept",
                )
        if not statistics:
            return None
        content = statistics.get("ContentType", "application/json")
        if content != "application/json":
            self.unsupported(
                f"ModelMetrics.ModelQuality.Statistics.ContentType {content!r}",
                "rayline reads the evaluation report as JSON",
            )
            return None
        uri = statistics.get("S3Uri")
        return self.importer.local(uri) if isinstance(uri, str) else self.importer.value(uri)
