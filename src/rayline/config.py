"""Settings, read from the environment each time they are asked for.

=======================  ===========================================  ==============================
variable                 meaning                                      default
=======================  ===========================================  ==============================
``RAYLINE_HOME``         where embedded state lives                   ``./.rayline``
``RAYLINE_DB_URL``       metadata DB (SQLAlchemy URL)                 ``sqlite:///$RAYLINE_HOME/rayline.db``
``RAYLINE_ARTIFACT_URI`` artifact store root                          ``file://$RAYLINE_HOME/artifacts``
``RAY_ADDRESS``          an existing Ray cluster to use               ``rayline up``'s, else local
``MLFLOW_TRACKING_URI``  MLflow tracking store                        ``sqlite:///$RAYLINE_HOME/mlflow.db``
=======================  ===========================================  ==============================
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
    )
