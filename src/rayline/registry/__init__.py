"""The model registry: model package groups, auto-numbered versions, approvals with history.

>>> from rayline.registry import ModelRegistry, ModelPackage, ApprovalStatus

:class:`ModelRegistry` is the API; it returns the records :class:`ModelPackageGroup`,
:class:`ModelPackage` (with its :class:`InferenceSpec` and :class:`ApprovalChange` history).
Names are imported on first use: the pipeline's ``ModelStep`` (``rayline.registry.steps``) is
pure data, and defining a pipeline must not load SQLAlchemy or the metadata store.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rayline._lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "ApprovalChange": "rayline.registry.entities",
    "ApprovalStatus": "rayline.registry.entities",
    "InferenceSpec": "rayline.registry.entities",
    "ModelPackage": "rayline.registry.entities",
    "ModelPackageGroup": "rayline.registry.entities",
    "parse_version_ref": "rayline.registry.entities",
    "ModelRegistry": "rayline.registry.registry",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)


if TYPE_CHECKING:  # pragma: no cover
    from rayline.registry.entities import (  # noqa: F401
        ApprovalChange,
        ApprovalStatus,
        InferenceSpec,
        ModelPackage,
        ModelPackageGroup,
        parse_version_ref,
    )
    from rayline.registry.registry import ModelRegistry  # noqa: F401
