"""Real-time endpoints on Ray Serve (see :mod:`rayline.serving.endpoints`).

>>> from rayline.serving import Endpoints, Endpoint, EndpointStatus, invoke_url

:class:`Endpoints` is the API; it returns :class:`Endpoint` records (with their
:class:`EndpointEvent` history, statuses from :class:`EndpointStatus`). :func:`invoke_url` and
:func:`probe_version` talk to an endpoint over HTTP; :class:`Predictor` is the per-request work
an endpoint's replicas do, with the :class:`~rayline.ml.preprocessor.Preprocessor` registered
alongside the model.

Names are imported on first use: Serve replicas import ``rayline.serving.app`` and should not pay
for the metadata DB and registry modules they never use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rayline._lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "Endpoint": "rayline.serving.entities",
    "EndpointEvent": "rayline.serving.entities",
    "EndpointStatus": "rayline.serving.entities",
    "Endpoints": "rayline.serving.endpoints",
    "invoke_url": "rayline.serving.client",
    "probe_version": "rayline.serving.client",
    "Predictor": "rayline.serving.predictor",
    "Preprocessor": "rayline.ml.preprocessor",
    "LocalRay": "rayline.serving.cluster",
    "start_local_ray": "rayline.serving.cluster",
    "stop_local_ray": "rayline.serving.cluster",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)


if TYPE_CHECKING:  # pragma: no cover
    from rayline.ml.preprocessor import Preprocessor  # noqa: F401
    from rayline.serving.client import invoke_url, probe_version  # noqa: F401
    from rayline.serving.cluster import LocalRay, start_local_ray, stop_local_ray  # noqa: F401
    from rayline.serving.endpoints import Endpoints  # noqa: F401
    from rayline.serving.entities import Endpoint, EndpointEvent, EndpointStatus  # noqa: F401
    from rayline.serving.predictor import Predictor  # noqa: F401
