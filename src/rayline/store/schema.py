"""The shared SQLAlchemy ``MetaData`` every owner defines its tables on.

Each package owns its tables and defines them once, beside its code, on this ``metadata``:
``rayline.engine.schema`` (pipelines, executions, step runs, events),
``rayline.featurestore._tables``, ``rayline.registry.schema`` and ``rayline.serving.schema``.
The store layer never imports them; the migrations in ``store/migrations/versions`` create them
all, and ``migrations/env.py`` gathers them as alembic's ``target_metadata``.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()
"""The one ``MetaData`` all of rayline's tables are defined on."""
