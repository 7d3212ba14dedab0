"""Storage: the metadata DB (SQLAlchemy; SQLite or PostgreSQL) and the artifact store (by URI)."""

from rayline.store.artifacts import ArtifactStore, open_artifact_store
from rayline.store.db import Database, open_database

__all__ = ["ArtifactStore", "Database", "open_artifact_store", "open_database"]
