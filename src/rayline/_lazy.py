"""Lazy re-exports for package facades (PEP 562).

A facade lists ``{public name: defining module}``; a name is imported on first use and then
cached in the facade's namespace. This keeps ``import rayline`` and the CLI fast, and lets pure
modules (the DSL) be imported without pulling in Ray, MLflow or the storage layer.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any


def lazy_exports(
    facade: str, exports: dict[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for module ``facade``, which re-exports ``exports``."""

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {facade!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[facade], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(exports)

    return __getattr__, __dir__
