"""The auth package's tables, on the shared ``rayline.store.schema.metadata``."""

from __future__ import annotations

import sqlalchemy as sa  # noqa: F401

from rayline.store.schema import metadata  # noqa: F401
