"""The Ray Serve deployment behind every endpoint: one class, configured by ``user_config``.

The model version an endpoint serves is its deployment's ``user_config``. Ray Serve applies a
changed ``user_config`` by calling :meth:`ModelServer.reconfigure` on the running replicas, so an
update loads the new model beside the old one and swaps one reference: no replica restarts, no
request is dropped or sees a half-loaded model.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from starlette.requests import Request
from starlette.responses import Response

from rayline.errors import RaylineError
from rayline.serving.predictor import InvalidRequest, Predictor


class ModelServer:
    """Answers ``POST .../invocations`` with predictions; ``GET`` describes what it serves."""

    def __init__(self) -> None:
        self._predictor: Predictor | None = None
        self._version_header: dict[str, str] = {}
        self._info: bytes = b"{}"

    def reconfigure(self, config: dict[str, Any]) -> None:
        """Load the model version named in ``config`` and start answering with it."""
        predictor = Predictor.load(
            config["model_uri"], config.get("preprocessor_uri"), columns=config.get("columns")
        )
        # Warm the booster so the first real request does not pay for lazy initialisation.
        predictor.predict(np.zeros((1, len(predictor.columns))))
        version = f"{config['model_package_group']}/{config['model_package_version']}"
        info = {
            "endpoint": config.get("endpoint"),
            "model_version": version,
            "columns": list(predictor.columns),
            "content_types": ["text/csv", "application/json"],
        }
        # One assignment each: a request in flight keeps the predictor it started with.
        self._info = json.dumps(info).encode()
        self._version_header = {"x-rayline-model-version": version}
        self._predictor = predictor

    async def __call__(self, request: Request) -> Response:
        predictor = self._predictor
        if request.method == "GET":
            return Response(self._info, media_type="application/json")
        if request.method != "POST":
            return Response(
                f"{request.method} is not supported; POST rows to /invocations\n",
                status_code=405,
                media_type="text/plain",
            )
        if predictor is None:
            return Response(
                "the endpoint is still loading its model; retry shortly\n",
                status_code=503,
                media_type="text/plain",
            )
        body = await request.body()
        headers = request.headers
        try:
            out, media = predictor.invoke(body, headers.get("content-type"), headers.get("accept"))
        except InvalidRequest as exc:
            return Response(f"{exc}\n", status_code=exc.status, media_type="text/plain")
        except RaylineError as exc:
            return Response(f"{exc}\n", status_code=400, media_type="text/plain")
        return Response(out, media_type=media, headers=self._version_header)
