"""Alembic environment: rayline passes the connection in (``Database.upgrade``).

``target_metadata`` is the union of every owner's tables. Each owner defines its tables once, on
the shared ``rayline.store.schema.metadata``, in its own schema module; importing those modules is
what puts the tables on the metadata. The store layer must not depend on the domains, so its package
code never imports them: only this file, which alembic runs (it is not part of the importable
package), loads them by name. A new owner of tables adds its schema module to ``TABLE_OWNERS``;
the suite (``tests/integration/store``) fails when the migrated database and these tables differ.

The revisions in ``versions/`` never use ``target_metadata``: they are frozen snapshots.
"""

import importlib

from alembic import context

from rayline.store.schema import metadata

TABLE_OWNERS = (
    "rayline.engine.schema",
    "rayline.featurestore._tables",
    "rayline.registry.schema",
    "rayline.serving.schema",
    "rayline.auth.schema",
    "rayline.schedules.schema",
    "rayline.webhooks.schema",
)

for owner in TABLE_OWNERS:
    importlib.import_module(owner)

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
