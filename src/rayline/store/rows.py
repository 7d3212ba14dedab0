"""Rows of SQLAlchemy Core queries turned into the frozen dataclasses the APIs return."""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

T = TypeVar("T")


def from_row(record: type[T], row: Any, **values: Any) -> T:
    """``record`` built from the columns of ``row`` that name one of its fields.

    Columns the record does not have (surrogate ids, foreign keys) are left out; ``values``
    set the fields whose column differs in name or needs converting (an enum, a nested record).
    """
    fields = {f.name for f in dataclasses.fields(record)}  # type: ignore[arg-type]
    kwargs = {name: value for name, value in row._mapping.items() if name in fields}
    kwargs.update(values)
    return record(**kwargs)
