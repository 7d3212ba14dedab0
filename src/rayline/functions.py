"""Run-time functions for step arguments: ``Join`` and ``JsonGet`` (``Std:Join``,
``Std:JsonGet`` in the definition)."""

from rayline.definition.expressions import Join, JsonGet

__all__ = ["Join", "JsonGet"]
