"""The model registry: model package groups, auto-numbered versions, approvals with history."""

from rayline.registry.entities import (
    ApprovalChange,
    ApprovalStatus,
    InferenceSpec,
    ModelPackage,
    ModelPackageGroup,
    parse_version_ref,
)
from rayline.registry.registry import ModelRegistry

__all__ = [
    "ApprovalChange",
    "ApprovalStatus",
    "InferenceSpec",
    "ModelPackage",
    "ModelPackageGroup",
    "ModelRegistry",
    "parse_version_ref",
]
