"""Real-time endpoints on Ray Serve (see :mod:`rayline.serving.endpoints`)."""

from rayline.serving.endpoints import (
    Endpoint,
    EndpointEvent,
    Endpoints,
    EndpointStatus,
    invoke_url,
)
from rayline.serving.predictor import Predictor, Preprocessor

__all__ = [
    "Endpoint",
    "EndpointEvent",
    "EndpointStatus",
    "Endpoints",
    "Predictor",
    "Preprocessor",
    "invoke_url",
]
