"""Settings, read from the environment each time they are asked for.

- ``RAYLINE_HOME``: where embedded state lives (default ``./.rayline``).
- ``RAYLINE_DB_URL``: the metadata DB, a SQLAlchemy URL (default SQLite in ``RAYLINE_HOME``).
- ``RAYLINE_ARTIFACT_URI``: the artifact store root (default ``$RAYLINE_HOME/artifacts``).
- ``RAYLINE_ONLINE_STORE_URI``: the feature store's online store, ``sqlite:///...`` or
  ``redis://...`` (default SQLite in ``RAYLINE_HOME``).
- ``RAY_ADDRESS``: an existing Ray cluster (default: ``rayline up``'s, else a local Ray).
- ``MLFLOW_TRACKING_URI``: the MLflow tracking store (default SQLite in ``RAYLINE_HOME``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    """A snapshot of rayline's settings."""

    home: Path
    db_url: str
    artifact_uri: str
    ray_address: str | None
    mlflow_tracking_uri: str
    online_store_uri: str


def settings() -> Settings:
    """Read the settings from the environment (cheap; nothing is cached)."""
    home = Path(os.environ.get("RAYLINE_HOME") or ".rayline").expanduser().resolve()
    return Settings(
        home=home,
        db_url=os.environ.get("RAYLINE_DB_URL") or f"sqlite:///{home / 'rayline.db'}",
        artifact_uri=os.environ.get("RAYLINE_ARTIFACT_URI") or (home / "artifacts").as_uri(),
        ray_address=os.environ.get("RAY_ADDRESS") or None,
        mlflow_tracking_uri=os.environ.get("MLFLOW_TRACKING_URI")
        or f"sqlite:///{home / 'mlflow.db'}",
        online_store_uri=os.environ.get("RAYLINE_ONLINE_STORE_URI")
        or f"sqlite:///{home / 'online-store.db'}",
    )
