"""What the model registry holds: groups, versions, inference specs and approval changes."""

from __future__ import annotations

import string
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from rayline.config import settings
from rayline.errors import UserInputError


class ApprovalStatus:
    """The approval statuses of a model version (SageMaker's names)."""

    PENDING: ClassVar[str] = "PendingManualApproval"
    APPROVED: ClassVar[str] = "Approved"
    REJECTED: ClassVar[str] = "Rejected"
    ALL: ClassVar[tuple[str, ...]] = (PENDING, APPROVED, REJECTED)

    @classmethod
    def parse(cls, value: str) -> str:
        """The canonical status for ``value`` (case-insensitive; 'pending' is accepted)."""
        lowered = str(value).strip().lower()
        for status in cls.ALL:
            if lowered == status.lower():
                return status
        if lowered == "pending":
            return cls.PENDING
        raise UserInputError(f"approval status {value!r} is not one of {', '.join(cls.ALL)}")


@dataclass(frozen=True)
class InferenceSpec:
    """How to call the model: accepted request/response content types and the input schema.

    ``input_columns`` fixes the column order of raw feature rows (the reference workflow left it
    implicit); ``label`` names the target the model predicts.
    """

    input_columns: tuple[str, ...]
    content_types: tuple[str, ...] = ("text/csv", "application/json")
    response_types: tuple[str, ...] = ("text/csv", "application/json")
    label: str | None = None
    framework: str = "xgboost"

    def to_dict(self) -> dict[str, Any]:
        """The record as JSON-ready data (what ``--json`` prints)."""
        return {
            "input_columns": list(self.input_columns),
            "content_types": list(self.content_types),
            "response_types": list(self.response_types),
            "label": self.label,
            "framework": self.framework,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InferenceSpec:
        return cls(
            input_columns=tuple(data.get("input_columns") or ()),
            content_types=tuple(data.get("content_types") or cls.content_types),
            response_types=tuple(data.get("response_types") or cls.response_types),
            label=data.get("label"),
            framework=data.get("framework") or "xgboost",
        )


@dataclass(frozen=True)
class ModelPackageGroup:
    """A named family of model versions (one per use case, e.g. 'housing')."""

    name: str
    description: str
    created_at: float
    created_by: str
    version_count: int = 0
    latest_version: int | None = None


@dataclass(frozen=True)
class ApprovalChange:
    """One change of a version's approval status: when, by whom, why."""

    from_status: str | None
    to_status: str
    at: float
    by: str
    reason: str


@dataclass(frozen=True)
class ModelPackage:
    """One registered model version, with everything needed to serve and audit it."""

    group: str
    version: int
    status: str
    model_uri: str
    preprocessor_uri: str | None
    metrics_uri: str | None
    metrics: dict[str, Any] | None
    inference_spec: InferenceSpec
    mlflow_run_id: str | None
    execution_id: str | None
    step_name: str | None
    description: str
    created_at: float
    created_by: str
    updated_at: float
    sources: dict[str, str] = field(default_factory=dict)
    history: tuple[ApprovalChange, ...] = ()

    @property
    def ref(self) -> str:
        """``group/version``: how the CLI and endpoints name this version."""
        return f"{self.group}/{self.version}"

    @property
    def arn(self) -> str:
        """A SageMaker-style identifier (``model-package/GROUP/VERSION``)."""
        return f"model-package/{self.group}/{self.version}"

    def metric(self, name: str) -> float | None:
        """``regression_metrics.<name>.value`` from the evaluation report, if present."""
        try:
            return float(self.metrics["regression_metrics"][name]["value"])  # type: ignore[index]
        except (KeyError, TypeError, ValueError):
            return None

    def to_dict(self) -> dict[str, Any]:
        """The record as JSON-ready data (what ``--json`` prints)."""
        return {
            "ModelPackageGroupName": self.group,
            "ModelPackageVersion": self.version,
            "ModelPackageArn": self.arn,
            "ModelApprovalStatus": self.status,
            "ModelUri": self.model_uri,
            "PreprocessorUri": self.preprocessor_uri,
            "MetricsUri": self.metrics_uri,
            "Metrics": self.metrics,
            "InferenceSpecification": self.inference_spec.to_dict(),
            "MlflowRunId": self.mlflow_run_id,
            "PipelineExecutionId": self.execution_id,
            "StepName": self.step_name,
            "Description": self.description,
            "CreatedAt": self.created_at,
            "CreatedBy": self.created_by,
            "UpdatedAt": self.updated_at,
            "Sources": dict(self.sources),
            "ApprovalHistory": [
                {
                    "From": h.from_status,
                    "To": h.to_status,
                    "At": h.at,
                    "By": h.by,
                    "Reason": h.reason,
                }
                for h in self.history
            ],
        }


CONTENT_TYPES = ("text/csv", "application/json")


def check_content_types(types: Iterable[str]) -> None:
    """Refuse a request or response content type that endpoints cannot speak."""
    for ctype in types:
        if ctype not in CONTENT_TYPES:
            raise UserInputError(
                f"content type {ctype!r} is not supported; use 'text/csv' and/or 'application/json'"
            )


def check_name(
    name: str, *, what: str, max_length: int = 200, punctuation: str = "-_.", why: str = ""
) -> str:
    """``name`` if it is 1 to ``max_length`` letters, digits and ``punctuation``, starting
    with a letter, digit or '_'; else a :class:`UserInputError` saying what is allowed.

    Model package groups use the defaults; endpoints, whose name is part of their URL, allow
    only '-' and 63 characters.
    """
    allowed = set(string.ascii_letters + string.digits + punctuation)
    if not name or len(name) > max_length or not set(name) <= allowed or name[0] in "-.":
        marks = [repr(c) for c in punctuation]
        chars = (
            f"letters, digits, {', '.join(marks[:-1])} or {marks[-1]}"
            if len(marks) > 1
            else f"letters, digits and {marks[0]}"
        )
        raise UserInputError(
            f"{what} name {name!r} is not valid: use 1-{max_length} {chars}, starting with a "
            f"letter or digit{why}"
        )
    return name


def parse_version_ref(ref: str) -> tuple[str, int]:
    """``'housing/3'`` → ``('housing', 3)``."""
    group, sep, version = str(ref).rpartition("/")
    if not sep or not group or not version.isdigit():
        raise UserInputError(
            f"{ref!r} does not name a model version; write GROUP/VERSION, e.g. 'housing/3'"
        )
    return group, int(version)


def rejection_reason(reason: str | None, *, ref: str = "the version") -> str:
    """The reason of a rejection, stripped; a missing or blank one is a ``UserInputError``:
    whoever registered the version needs to know why."""
    text = (reason or "").strip()
    if not text:
        raise UserInputError(
            f"give the reason for the rejection of {ref}: whoever registered the version needs it"
        )
    return text


def current_user() -> str:
    """Who is acting: ``RAYLINE_USER``, else the OS user."""
    return settings().user
