"""Real-time endpoints on Ray Serve (see :mod:`rayline.serving.endpoints`).

Names are imported on first use: Serve replicas import ``rayline.serving.app`` and should not pay
for the metadata DB and registry modules they never use.
"""

from __future__ import annotations

from rayline._lazy import lazy_exports

_EXPORTS = {
    "Endpoint": "rayline.serving.endpoints",
    "EndpointEvent": "rayline.serving.endpoints",
    "EndpointStatus": "rayline.serving.endpoints",
    "Endpoints": "rayline.serving.endpoints",
    "invoke_url": "rayline.serving.endpoints",
    "Predictor": "rayline.serving.predictor",
    "Preprocessor": "rayline.serving.predictor",
    "LocalRay": "rayline.serving.cluster",
    "start_local_ray": "rayline.serving.cluster",
    "stop_local_ray": "rayline.serving.cluster",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
