"""``TrainingStep`` and ``TuningStep``: the ML step kinds' definitions (pure data, no Ray).

Their runners are in :mod:`rayline.ml.runners`; both are registered in ``rayline.step_kinds``.

>>> train = TrainingStep("Train",
...     trainer=XGBoostTrainer(label="PRICE", params={"max_depth": 6}),
...     inputs={"train": prep.outputs["train"], "validation": prep.outputs["validation"]})
>>> tune = TuningStep("HPTuning", trainer=XGBoostTrainer(label="PRICE"),
...     hyperparameter_ranges={"max_depth": IntegerParameter(1, 8)},
...     objective_metric="validation:rmse", max_jobs=16, max_parallel_jobs=2,
...     inputs={"train": prep.outputs["train"], "validation": prep.outputs["validation"]})
>>> tune.get_top_model_uri(top_k=0)     # the best model (an expression for later steps)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from rayline.config import settings
from rayline.definition.expressions import Expression, to_request
from rayline.definition.pipeline import EXTENSION_KEY
from rayline.definition.properties import ANY, NamedList
from rayline.definition.steps.base import ParseContext, Step, no_resolve
from rayline.errors import PipelineDefinitionError
from rayline.ml.hyperparameters import (
    CategoricalParameter,
    ContinuousParameter,
    IntegerParameter,
    Parameter,
    parameter_from_dict,
)
from rayline.ml.trainers import XGBoostTrainer

_INPUT_CHANNELS = ("train", "validation")


#: Properties both ML kinds report: where they ran and their MLflow run.
_RUN_PROPERTIES = ("Distributed", "DistributedReason", "NumWorkers", "MlflowRunId")


def training_threads() -> int:
    """Threads a single-process training step uses: ``RAYLINE_TRAINING_THREADS`` or the cores
    of the machine that submits the step (nodes of a cluster are assumed alike)."""
    return settings().training_threads


def _check_inputs(step: str, inputs: Mapping[str, Any], *, need_validation: bool) -> None:
    unknown = set(inputs) - set(_INPUT_CHANNELS)
    if unknown:
        raise PipelineDefinitionError(
            f"step {step!r}: unknown input channel(s) {sorted(unknown)}; use 'train' and "
            "'validation'"
        )
    if "train" not in inputs or (need_validation and "validation" not in inputs):
        needed = "'train' and 'validation'" if need_validation else "'train'"
        raise PipelineDefinitionError(
            f"step {step!r} needs inputs {needed} (e.g. a preprocessing step's outputs: "
            "inputs={'train': prep.outputs['train'], 'validation': prep.outputs['validation']})"
        )


def _trainer_request(trainer: XGBoostTrainer) -> dict[str, Any]:
    return to_request(trainer.to_dict())


def _trainer_from(request: dict[str, Any], ctx: ParseContext) -> XGBoostTrainer:
    return XGBoostTrainer.from_dict(ctx.value(request))


def _hyperparameter_text(value: Any) -> Any:
    """A hyperparameter as the SDK writes it: a string (lists comma-separated, as SageMaker's
    XGBoost reads ``eval_metric``), or the expression that gives it."""
    if isinstance(value, Expression):
        return value.to_request()
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list | tuple):
        return ",".join(str(_hyperparameter_text(v)) for v in value)
    return str(value)


def hyperparameters_request(trainer: XGBoostTrainer) -> dict[str, Any]:
    """The trainer's hyperparameters in SageMaker's XGBoost shape (``HyperParameters`` of a
    training job): every value a string, ``num_round`` the boosting rounds."""
    out = {k: _hyperparameter_text(v) for k, v in trainer.params.items()}
    out["num_round"] = _hyperparameter_text(trainer.num_boost_round)
    return out


def channels_request(inputs: dict[str, Any]) -> list[dict[str, Any]]:
    """``InputDataConfig`` as the SDK writes it: a list of ``S3DataSource`` channels."""
    return [
        {
            "ChannelName": channel,
            "DataSource": {
                "S3DataSource": {
                    "S3DataType": "S3Prefix",
                    "S3Uri": to_request(uri),
                    "S3DataDistributionType": "FullyReplicated",
                }
            },
        }
        for channel, uri in inputs.items()
    ]


def _channels_from(channels: Any, ctx: ParseContext) -> dict[str, Any]:
    if isinstance(channels, dict):  # the shape rayline wrote before: {channel: uri}
        return {k: ctx.value(v) for k, v in channels.items()}
    return {
        c["ChannelName"]: ctx.value(c["DataSource"]["S3DataSource"]["S3Uri"])
        for c in channels or []
    }


#: ``ParameterRanges`` keys, by rayline's range type.
_RANGE_KEYS = {
    "Integer": "IntegerParameterRanges",
    "Continuous": "ContinuousParameterRanges",
    "Categorical": "CategoricalParameterRanges",
}


def _bound_text(value: Any) -> Any:
    return value.to_request() if isinstance(value, Expression) else str(value)


def ranges_request(ranges: Mapping[str, Parameter]) -> dict[str, list[dict[str, Any]]]:
    """``ParameterRanges`` as CreateHyperParameterTuningJob takes them: one list per range
    type, each range named, its bounds and values strings."""
    out: dict[str, list[dict[str, Any]]] = {key: [] for key in _RANGE_KEYS.values()}
    for name, p in ranges.items():
        if isinstance(p, CategoricalParameter):
            entry = {"Name": name, "Values": [_bound_text(v) for v in p.values]}
        else:
            entry = {
                "Name": name,
                "MinValue": _bound_text(p.min_value),
                "MaxValue": _bound_text(p.max_value),
                "ScalingType": p.scaling_type,
            }
        out[_RANGE_KEYS[p.to_dict()["Type"]]].append(entry)
    return out


def parse_number(text: Any) -> Any:
    """A string the SDK wrote for a number (a range bound, a hyperparameter), as that number;
    any other value unchanged."""
    if not isinstance(text, str):
        return text
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


def ranges_from_request(ranges: Mapping[str, Any]) -> dict[str, Parameter]:
    """The inverse of :func:`ranges_request` (what the SDK writes too)."""
    out: dict[str, Parameter] = {}
    for r in ranges.get("IntegerParameterRanges") or []:
        out[r["Name"]] = IntegerParameter(
            int(r["MinValue"]), int(r["MaxValue"]), r.get("ScalingType", "Auto")
        )
    for r in ranges.get("ContinuousParameterRanges") or []:
        # "1" reads as 1 and "1.0" as 1.0: the bound rayline was given writes back the same.
        low, high = (parse_number(r[k]) for k in ("MinValue", "MaxValue"))
        out[r["Name"]] = ContinuousParameter(
            low if isinstance(low, int | float) else float(low),
            high if isinstance(high, int | float) else float(high),
            r.get("ScalingType", "Auto"),
        )
    for r in ranges.get("CategoricalParameterRanges") or []:
        out[r["Name"]] = CategoricalParameter([parse_number(v) for v in r["Values"]])
    return out


@dataclass(frozen=True, kw_only=True)
class _XGBoostStep(Step):
    """What training and tuning steps share: an ``XGBoostTrainer``, the ``train`` (and
    ``validation``) input channels, and the CPUs of the step's task."""

    #: Whether the kind needs a ``validation`` input besides ``train``.
    needs_validation: ClassVar[bool] = False

    trainer: XGBoostTrainer
    inputs: dict[str, Any] = field(default_factory=dict)
    num_cpus: float = no_resolve(default=1)

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.trainer, XGBoostTrainer):
            raise PipelineDefinitionError(
                f"step {self.name!r}: trainer= must be an XGBoostTrainer, not "
                f"{type(self.trainer).__name__}"
            )
        object.__setattr__(self, "inputs", dict(self.inputs))
        _check_inputs(self.name, self.inputs, need_validation=self.needs_validation)

    def local_files(self) -> tuple[str, ...]:
        """Input channels given as local paths (their content is part of the cache key)."""
        return tuple(v for v in self.inputs.values() if isinstance(v, str) and "://" not in v)


@dataclass(frozen=True, kw_only=True)
class TrainingStep(_XGBoostStep):
    """Train an XGBoost model on a ``train`` input, evaluated on ``validation``.

    Outputs: ``model`` (``model.ubj``) and ``metrics`` (``metrics.json``). Properties:
    ``FinalMetrics`` (``{"validation-rmse": ..., ...}``), ``FinalMetricDataList`` (SageMaker's
    ``[{"MetricName": "validation:rmse", "Value": ...}]``), ``Distributed``, ``NumRows``.
    """

    kind: ClassVar[str] = "Training"

    def declared_outputs(self) -> tuple[str, ...]:
        return ("model", "metrics")

    def property_schema(self) -> dict[str, Any]:
        metric = NamedList({"MetricName": ANY, "Value": ANY}, key="MetricName")
        return {
            "ModelArtifacts": {"S3ModelArtifacts": ANY},
            "FinalMetricDataList": metric,
            **dict.fromkeys(
                (*_RUN_PROPERTIES, "FinalMetrics", "WorkerNodes", "NumRows", "TrainingSeconds"), ANY
            ),
        }

    def output_property_paths(self) -> dict[str, str]:
        # SageMaker's training job reports its model where rayline has the ``model`` output.
        return {"model": "ModelArtifacts.S3ModelArtifacts"}

    def ray_options(self) -> dict[str, Any]:
        # XGBoost's OpenMP pool is sized from OMP_NUM_THREADS when the library loads, and Ray
        # sets it to the task's CPUs (1) in shared workers: nthread=2 then still trains on one
        # thread (measured: 1M rows took 4.1 s instead of 2.5 s). Training steps therefore run
        # in workers started with OMP_NUM_THREADS = the node's cores (Ray keeps a worker pool per
        # runtime env, so only the first training step pays the worker start).
        return {
            "num_cpus": self.num_cpus,
            "num_gpus": 0,
            "runtime_env": {"env_vars": {"OMP_NUM_THREADS": str(training_threads())}},
        }

    @property
    def model(self) -> Expression:
        """The trained model's output (an expression for later steps)."""
        return self.outputs["model"]

    def to_arguments(self) -> dict[str, Any]:
        """The arguments in the shape of SageMaker's ``CreateTrainingJob`` request (as the SDK's
        ``TrainingStep`` writes them), less what rayline has no use for, plus one extension.

        - ``AlgorithmSpecification``: ``TrainingInputMode`` ``File`` (the channels' files are
          read whole). No ``TrainingImage``: XGBoost runs in the Ray worker's Python.
        - ``HyperParameters``: SageMaker XGBoost's, every value a string (as the SDK writes
          them; ``num_round`` the boosting rounds, lists comma-separated), or an expression.
        - ``InputDataConfig``: the ``train`` (and ``validation``) channels, ``S3DataSource``
          ``S3Prefix`` / ``FullyReplicated``, their ``S3Uri`` a URI, path or expression.
        - ``ResourceConfig``: ``InstanceCount``, the trainer's ``num_workers``.
        - ``Rayline``: what SageMaker's request has no key for: ``Trainer``, the whole
          ``XGBoostTrainer`` (label column, workers, placement, the params with their types;
          the step is read from it, ``HyperParameters`` is its SageMaker view), and
          ``Resources.NumCpus`` of the step's task.

        No ``OutputDataConfig`` (the engine picks the model's URI when the step runs),
        ``StoppingCondition``, ``RoleArn`` or instance types: rayline applies none of them.
        ``from_arguments`` reads this shape and the one rayline wrote before (``Trainer``,
        ``InputDataConfig`` as an object, ``Resources``).
        """
        return {
            "AlgorithmSpecification": {"TrainingInputMode": "File"},
            "HyperParameters": hyperparameters_request(self.trainer),
            "InputDataConfig": channels_request(self.inputs),
            "ResourceConfig": {"InstanceCount": to_request(self.trainer.num_workers)},
            EXTENSION_KEY: {
                "Trainer": _trainer_request(self.trainer),
                "Resources": {"NumCpus": self.num_cpus},
            },
        }

    @classmethod
    def from_arguments(
        cls, name: str, arguments: dict[str, Any], ctx: ParseContext, **common: Any
    ) -> TrainingStep:
        extension = _extension(name, arguments)
        return cls(
            name,
            trainer=_trainer_from(extension["Trainer"], ctx),
            inputs=_channels_from(arguments.get("InputDataConfig"), ctx),
            num_cpus=extension.get("Resources", {}).get("NumCpus", 1),
            **common,
        )


def _extension(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """The ``Rayline`` extension of an ML step's arguments (or, in the shape rayline wrote
    before, the arguments themselves, which held ``Trainer`` and ``Resources``)."""
    if "Trainer" in arguments:
        return arguments
    extension = arguments.get(EXTENSION_KEY) or {}
    if "Trainer" not in extension:
        raise PipelineDefinitionError(
            f"step {name!r} has no Arguments.{EXTENSION_KEY}.Trainer (the XGBoostTrainer: label, "
            "params, rounds); a definition the SageMaker SDK wrote is read with "
            "Pipeline.from_sagemaker_definition instead"
        )
    return extension


@dataclass(frozen=True, kw_only=True)
class TuningStep(_XGBoostStep):
    """Tune a trainer's hyperparameters with Ray Tune (``max_jobs`` trials,
    ``max_parallel_jobs`` at a time) and keep every trial's model.

    ``strategy``: ``Bayesian`` (Optuna TPE, default), ``Random``, ``Hyperband`` (ASHA early
    stopping) or ``Grid``. ``objective_metric`` is an eval metric on a split, e.g.
    ``validation:rmse``; ``objective_type`` ``Minimize`` or ``Maximize``.

    Outputs: ``models`` (one directory per trial), ``results`` (``results.parquet`` and
    ``results.csv``: every trial, its hyperparameters and metrics, ranked), ``best_model``.
    Properties: ``BestTrainingJob`` (``TrainingJobName``, ``FinalHyperParameters``,
    ``ObjectiveValue``, ``ModelUri``), ``TopModelUris`` (best first), ``Trials``.
    """

    kind: ClassVar[str] = "Tuning"
    needs_validation: ClassVar[bool] = True

    hyperparameter_ranges: dict[str, Parameter] = field(
        default_factory=dict, metadata={"resolve": False}
    )
    objective_metric: str = "validation:rmse"
    objective_type: str = "Minimize"
    strategy: str = "Bayesian"
    max_jobs: int = 4
    max_parallel_jobs: int = 2
    seed: int | None = 0

    def __post_init__(self) -> None:
        from rayline.ml.hyperparameters import normalize_objective_type, normalize_strategy

        super().__post_init__()
        if not self.hyperparameter_ranges:
            raise PipelineDefinitionError(
                f"step {self.name!r}: hyperparameter_ranges= is empty; give at least one, e.g. "
                "{'max_depth': IntegerParameter(1, 8)}"
            )
        object.__setattr__(self, "hyperparameter_ranges", dict(self.hyperparameter_ranges))
        try:
            if isinstance(self.strategy, str):
                object.__setattr__(self, "strategy", normalize_strategy(self.strategy))
            if isinstance(self.objective_type, str):
                object.__setattr__(
                    self, "objective_type", normalize_objective_type(self.objective_type)
                )
        except ValueError as exc:
            raise PipelineDefinitionError(f"step {self.name!r}: {exc}") from None

    def declared_outputs(self) -> tuple[str, ...]:
        return ("models", "results", "best_model")

    def property_schema(self) -> dict[str, Any]:
        best = {
            "TrainingJobName": ANY,
            "FinalHyperParameters": ANY,
            "FinalHyperParameterTuningJobObjectiveMetric": {"MetricName": ANY, "Value": ANY},
            "ObjectiveMetric": ANY,
            "ObjectiveValue": ANY,
            "ModelUri": ANY,
        }
        names = (
            "TopModelUris",
            "Trials",
            "NumTrials",
            "MaxConcurrentTrials",
            "TuningSeconds",
            "TuningPath",
            "TuningPathReason",
        )
        return {"BestTrainingJob": best, **dict.fromkeys((*_RUN_PROPERTIES, *names), ANY)}

    def ray_options(self) -> dict[str, Any]:
        return {"num_cpus": self.num_cpus, "num_gpus": 0}

    @property
    def best_model(self) -> Expression:
        """The best trial's model directory (the ``best_model`` output)."""
        return self.outputs["best_model"]

    def get_top_model_uri(self, top_k: int = 0) -> Expression:
        """The URI of the ``top_k``-th best trial's model (0 = the best), for later steps.

        ``top_k=0`` is the ``best_model`` output, which is content-addressed in cache keys (so
        a cached tuning step keeps its consumers cached); others read ``TopModelUris``.
        """
        if top_k == 0:
            return self.best_model
        return self.properties["TopModelUris"][int(top_k)]

    def to_arguments(self) -> dict[str, Any]:
        """The arguments in the shape of SageMaker's ``CreateHyperParameterTuningJob`` request
        (as the SDK's ``TuningStep`` writes them), plus one extension.

        - ``HyperParameterTuningJobConfig``: ``Strategy``, ``ResourceLimits``
          (``MaxNumberOfTrainingJobs``, ``MaxParallelTrainingJobs``),
          ``TrainingJobEarlyStoppingType`` ``Off`` (``Hyperband`` stops trials early by its
          own scheduler), ``HyperParameterTuningJobObjective`` (``Type``, ``MetricName``),
          ``ParameterRanges`` (``Integer``/``Continuous``/``CategoricalParameterRanges``, each
          range named, bounds and values strings, with ``ScalingType``) and ``RandomSeed``
          (when set).
        - ``TrainingJobDefinition``: ``StaticHyperParameters`` (the trainer's, as a training
          step's ``HyperParameters``), ``AlgorithmSpecification`` and ``InputDataConfig`` as a
          training step writes them, ``HyperParameterTuningResourceConfig.InstanceCount`` each
          trial's ``num_workers``.
        - ``Rayline``: ``Trainer`` (the whole ``XGBoostTrainer``, which the step is read from)
          and ``Resources.NumCpus``, as a training step.

        ``from_arguments`` reads this shape and the one rayline wrote before (``Trainer``,
        ``HyperParameterRanges``, ``Objective``, top-level ``ResourceLimits``...).
        """
        config: dict[str, Any] = {
            "Strategy": to_request(self.strategy),
            "ResourceLimits": {
                "MaxNumberOfTrainingJobs": to_request(self.max_jobs),
                "MaxParallelTrainingJobs": to_request(self.max_parallel_jobs),
            },
            "TrainingJobEarlyStoppingType": "Off",
            "HyperParameterTuningJobObjective": {
                "Type": to_request(self.objective_type),
                "MetricName": to_request(self.objective_metric),
            },
            "ParameterRanges": ranges_request(self.hyperparameter_ranges),
        }
        if self.seed is not None:
            config["RandomSeed"] = to_request(self.seed)
        return {
            "HyperParameterTuningJobConfig": config,
            "TrainingJobDefinition": {
                "StaticHyperParameters": hyperparameters_request(self.trainer),
                "AlgorithmSpecification": {"TrainingInputMode": "File"},
                "InputDataConfig": channels_request(self.inputs),
                "HyperParameterTuningResourceConfig": {
                    "InstanceCount": to_request(self.trainer.num_workers)
                },
            },
            EXTENSION_KEY: {
                "Trainer": _trainer_request(self.trainer),
                "Resources": {"NumCpus": self.num_cpus},
            },
        }

    @classmethod
    def from_arguments(
        cls, name: str, arguments: dict[str, Any], ctx: ParseContext, **common: Any
    ) -> TuningStep:
        if "Trainer" in arguments:
            return cls._from_old_arguments(name, arguments, ctx, **common)
        extension = _extension(name, arguments)
        config = arguments.get("HyperParameterTuningJobConfig") or {}
        objective = config.get("HyperParameterTuningJobObjective") or {}
        limits = config.get("ResourceLimits") or {}
        job = arguments.get("TrainingJobDefinition") or {}
        return cls(
            name,
            trainer=_trainer_from(extension["Trainer"], ctx),
            hyperparameter_ranges=ranges_from_request(config.get("ParameterRanges") or {}),
            strategy=ctx.value(config.get("Strategy", "Bayesian")),
            objective_metric=ctx.value(objective.get("MetricName", "validation:rmse")),
            objective_type=ctx.value(objective.get("Type", "Minimize")),
            max_jobs=ctx.value(limits.get("MaxNumberOfTrainingJobs", 4)),
            max_parallel_jobs=ctx.value(limits.get("MaxParallelTrainingJobs", 2)),
            inputs=_channels_from(job.get("InputDataConfig"), ctx),
            seed=ctx.value(config.get("RandomSeed")),
            num_cpus=extension.get("Resources", {}).get("NumCpus", 1),
            **common,
        )

    @classmethod
    def _from_old_arguments(
        cls, name: str, arguments: dict[str, Any], ctx: ParseContext, **common: Any
    ) -> TuningStep:
        objective = arguments.get("Objective", {})
        limits = arguments.get("ResourceLimits", {})
        return cls(
            name,
            trainer=_trainer_from(arguments["Trainer"], ctx),
            hyperparameter_ranges={
                k: parameter_from_dict(v)
                for k, v in arguments.get("HyperParameterRanges", {}).items()
            },
            strategy=ctx.value(arguments.get("Strategy", "Bayesian")),
            objective_metric=ctx.value(objective.get("MetricName", "validation:rmse")),
            objective_type=ctx.value(objective.get("Type", "Minimize")),
            max_jobs=ctx.value(limits.get("MaxNumberOfTrainingJobs", 4)),
            max_parallel_jobs=ctx.value(limits.get("MaxParallelTrainingJobs", 2)),
            inputs=_channels_from(arguments.get("InputDataConfig", {}), ctx),
            seed=ctx.value(arguments.get("RandomSeed", 0)),
            num_cpus=arguments.get("Resources", {}).get("NumCpus", 1),
            **common,
        )
