"""``ModelStep`` (alias ``RegisterModel``): register a pipeline's model as a new model version.

>>> register = ModelStep("RegisterTrainedModel", model=tune.best_model,       # doctest: +SKIP
...     model_package_group="housing", preprocessor=prep.outputs["preprocessor"],
...     metrics=evaluate.outputs["evaluation"])

Its properties, readable by later steps as ``register.properties["ModelPackageVersion"]``:
``ModelPackageGroupName``, ``ModelPackageVersion``, ``ModelPackageStatus``, ``ModelPackageArn``
and ``ModelUri``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from rayline.definition.expressions import to_request
from rayline.definition.pipeline import EXTENSION_KEY
from rayline.definition.properties import ANY
from rayline.definition.steps.base import ParseContext, Step
from rayline.errors import PipelineDefinitionError
from rayline.registry.entities import ApprovalStatus

_CONTENT_TYPES = ("text/csv", "application/json")


@dataclass(frozen=True, kw_only=True)
class ModelStep(Step):
    """Register ``model`` (a model file or a directory holding one; usually another step's
    output) in ``model_package_group``, with its fitted preprocessor and evaluation report.

    ``approval_status`` defaults to ``PendingManualApproval``: a person approves it later
    (``rayline model approve GROUP/VERSION``), and only Approved versions deploy.
    """

    kind: ClassVar[str] = "RegisterModel"

    model: Any = None
    model_package_group: Any = None
    preprocessor: Any = None
    metrics: Any = None
    approval_status: Any = ApprovalStatus.PENDING
    content_types: tuple[str, ...] = _CONTENT_TYPES
    response_types: tuple[str, ...] = _CONTENT_TYPES
    input_columns: Any = None
    model_description: Any = ""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.model is None or self.model_package_group is None:
            raise PipelineDefinitionError(
                f"step {self.name!r}: ModelStep needs model= (a model URI or another step's "
                "output) and model_package_group="
            )
        if isinstance(self.approval_status, str):
            try:
                ApprovalStatus.parse(self.approval_status)
            except ValueError as exc:
                raise PipelineDefinitionError(f"step {self.name!r}: {exc}") from None
        object.__setattr__(self, "content_types", tuple(self.content_types))
        object.__setattr__(self, "response_types", tuple(self.response_types))
        for ctype in (*self.content_types, *self.response_types):
            if ctype not in _CONTENT_TYPES:
                raise PipelineDefinitionError(
                    f"step {self.name!r}: content type {ctype!r} is not supported; use "
                    f"{' and/or '.join(_CONTENT_TYPES)}"
                )

    def property_schema(self) -> dict[str, Any]:
        names = ("ModelPackageGroupName", "ModelPackageVersion", "ModelPackageStatus")
        return dict.fromkeys((*names, "ModelPackageArn", "ModelUri", "MlflowRunId"), ANY)

    def ray_options(self) -> dict[str, Any]:
        # Copying three small files and a few rows: no reason to hold a whole CPU.
        return {"num_cpus": 0.25}

    def to_arguments(self) -> dict[str, Any]:
        """The arguments in the shape of SageMaker's ``CreateModelPackage`` request (as the
        SDK's ``RegisterModel`` writes them), plus one extension.

        - ``ModelPackageGroupName``, ``ModelApprovalStatus``, ``ModelPackageDescription`` (when
          set).
        - ``InferenceSpecification``: one container whose ``ModelDataUrl`` is the model (a
          file or a directory holding one; no ``Image``: rayline serves XGBoost models
          itself), ``SupportedContentTypes`` and ``SupportedResponseMIMETypes``.
        - ``ModelMetrics.ModelQuality.Statistics``: the evaluation report (``S3Uri``: the
          ``evaluation.json`` or a directory holding it), ``application/json``.
        - ``Rayline``: what CreateModelPackage has no key for: ``PreprocessorUri`` (the fitted
          preprocessor registered with the model) and ``InputColumns``.

        ``from_arguments`` reads this shape and the one rayline wrote before (``ModelUri``,
        ``PreprocessorUri``, ``ModelMetricsUri``, ``InferenceSpecification.InputColumns``).
        """
        out: dict[str, Any] = {
            "ModelPackageGroupName": to_request(self.model_package_group),
            "InferenceSpecification": {
                "Containers": [{"ModelDataUrl": to_request(self.model)}],
                "SupportedContentTypes": list(self.content_types),
                "SupportedResponseMIMETypes": list(self.response_types),
            },
            "ModelApprovalStatus": to_request(self.approval_status),
        }
        if self.metrics is not None:
            out["ModelMetrics"] = {
                "ModelQuality": {
                    "Statistics": {
                        "ContentType": "application/json",
                        "S3Uri": to_request(self.metrics),
                    }
                }
            }
        if self.model_description:
            out["ModelPackageDescription"] = to_request(self.model_description)
        extension: dict[str, Any] = {}
        if self.preprocessor is not None:
            extension["PreprocessorUri"] = to_request(self.preprocessor)
        if self.input_columns is not None:
            extension["InputColumns"] = to_request(self.input_columns)
        if extension:
            out[EXTENSION_KEY] = extension
        return out

    @classmethod
    def from_arguments(
        cls, name: str, arguments: dict[str, Any], ctx: ParseContext, **common: Any
    ) -> ModelStep:
        spec = arguments.get("InferenceSpecification", {})
        if "ModelUri" in arguments:  # the shape rayline wrote before
            extension = arguments
            model = arguments["ModelUri"]
            metrics = arguments.get("ModelMetricsUri")
            input_columns = spec.get("InputColumns")
        else:
            extension = arguments.get(EXTENSION_KEY) or {}
            containers = spec.get("Containers") or [{}]
            if len(containers) != 1 or "ModelDataUrl" not in containers[0]:
                raise PipelineDefinitionError(
                    f"step {name!r}: InferenceSpecification.Containers must hold one container "
                    "with the ModelDataUrl of the model to register"
                )
            model = containers[0]["ModelDataUrl"]
            statistics = (arguments.get("ModelMetrics") or {}).get("ModelQuality") or {}
            metrics = (statistics.get("Statistics") or {}).get("S3Uri")
            input_columns = extension.get("InputColumns")
        return cls(
            name,
            model=ctx.value(model),
            model_package_group=ctx.value(arguments["ModelPackageGroupName"]),
            preprocessor=ctx.value(extension.get("PreprocessorUri")),
            metrics=ctx.value(metrics),
            approval_status=ctx.value(arguments.get("ModelApprovalStatus", ApprovalStatus.PENDING)),
            content_types=tuple(spec.get("SupportedContentTypes", _CONTENT_TYPES)),
            response_types=tuple(spec.get("SupportedResponseMIMETypes", _CONTENT_TYPES)),
            input_columns=ctx.value(input_columns),
            model_description=ctx.value(arguments.get("ModelPackageDescription", "")),
            **common,
        )


RegisterModel = ModelStep
"""SageMaker's name for the same step."""
