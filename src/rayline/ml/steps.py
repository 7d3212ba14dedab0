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
from rayline.definition.properties import ANY, NamedList
from rayline.definition.steps.base import ParseContext, Step, no_resolve
from rayline.errors import PipelineDefinitionError
from rayline.ml.hyperparameters import Parameter, parameter_from_dict
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
        return {
            "Trainer": _trainer_request(self.trainer),
            "InputDataConfig": {k: to_request(v) for k, v in self.inputs.items()},
            "Resources": {"NumCpus": self.num_cpus},
        }

    @classmethod
    def from_arguments(
        cls, name: str, arguments: dict[str, Any], ctx: ParseContext, **common: Any
    ) -> TrainingStep:
        return cls(
            name,
            trainer=_trainer_from(arguments["Trainer"], ctx),
            inputs={k: ctx.value(v) for k, v in arguments.get("InputDataConfig", {}).items()},
            num_cpus=arguments.get("Resources", {}).get("NumCpus", 1),
            **common,
        )


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
        names = ("TopModelUris", "Trials", "NumTrials", "MaxConcurrentTrials", "TuningSeconds")
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
        return {
            "Trainer": _trainer_request(self.trainer),
            "HyperParameterRanges": {k: p.to_dict() for k, p in self.hyperparameter_ranges.items()},
            "Strategy": to_request(self.strategy),
            "Objective": {
                "MetricName": to_request(self.objective_metric),
                "Type": to_request(self.objective_type),
            },
            "ResourceLimits": {
                "MaxNumberOfTrainingJobs": to_request(self.max_jobs),
                "MaxParallelTrainingJobs": to_request(self.max_parallel_jobs),
            },
            "InputDataConfig": {k: to_request(v) for k, v in self.inputs.items()},
            "RandomSeed": to_request(self.seed),
            "Resources": {"NumCpus": self.num_cpus},
        }

    @classmethod
    def from_arguments(
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
            inputs={k: ctx.value(v) for k, v in arguments.get("InputDataConfig", {}).items()},
            seed=ctx.value(arguments.get("RandomSeed", 0)),
            num_cpus=arguments.get("Resources", {}).get("NumCpus", 1),
            **common,
        )
