"""The per-request work of an endpoint, without Ray: parse, scale, predict, format.

A :class:`Predictor` holds a preloaded XGBoost ``Booster`` and the fitted preprocessor that was
registered with the model version (:class:`rayline.ml.preprocessor.Preprocessor`, the one that
training wrote), so endpoints take raw feature rows (the reference workflow's
endpoint needed pre-scaled input). Everything per request is numpy on one small array and one
``inplace_predict`` call: the hot path must stay in the tens of microseconds.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rayline.errors import NotFoundError, SchemaError, UserInputError
from rayline.ml.preprocessor import Preprocessor
from rayline.store.artifacts import to_path
from rayline.store.locations import is_remote, read_bytes

CSV = "text/csv"
JSON = "application/json"
CONTENT_TYPES = (CSV, JSON)


class InvalidRequest(UserInputError):
    """A request the endpoint cannot answer; ``status`` is the HTTP status to reply with."""

    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class Predictor:
    """A loaded model version: parse a request body, scale it, predict, format the answer.

    >>> p = Predictor.load(model_uri, preprocessor_uri)          # doctest: +SKIP
    >>> p.invoke(b"2008,3063.6,2,1.0,1.37,2,0,0", CSV, CSV)       # doctest: +SKIP
    (b'489512.4\\n', 'text/csv')
    """

    def __init__(
        self, booster: Any, preprocessor: Preprocessor | None, columns: Sequence[str]
    ) -> None:
        self.booster = booster
        self.columns = tuple(columns)
        self.preprocessor = preprocessor
        if preprocessor is not None:
            if tuple(preprocessor.columns) != self.columns:
                raise SchemaError(
                    f"the preprocessor's columns {list(preprocessor.columns)} differ from the "
                    f"model's input schema {list(self.columns)}; register them together"
                )
            self._means = np.asarray(preprocessor.means, dtype=np.float64)
            stds = np.asarray(preprocessor.stds, dtype=np.float64)
            # A constant training column has std 0: scale by 1 rather than divide by zero.
            self._inv_stds = 1.0 / np.where(stds == 0.0, 1.0, stds)
        self._index = {name: i for i, name in enumerate(self.columns)}

    @classmethod
    def load(
        cls,
        model_uri: str,
        preprocessor_uri: str | None = None,
        *,
        columns: Sequence[str] | None = None,
    ) -> Predictor:
        """Load an XGBoost model file (UBJSON or JSON) and, optionally, its preprocessor: local
        paths, ``file://`` or ``s3://`` URIs (read once, into memory: a replica never touches
        the store again while it serves)."""
        import xgboost as xgb

        preprocessor = Preprocessor.load(preprocessor_uri) if preprocessor_uri else None
        booster = xgb.Booster()
        if is_remote(model_uri):
            try:
                booster.load_model(bytearray(read_bytes(model_uri)))
            except NotFoundError:
                raise SchemaError(f"model file {model_uri} does not exist") from None
        else:
            path = Path(to_path(model_uri))
            if not path.is_file():
                raise SchemaError(f"model file {model_uri} does not exist")
            booster.load_model(str(path))
        # One thread per prediction: a request is one or a few rows, and a thread pool's wake-up
        # costs more than the trees.
        booster.set_param({"nthread": 1})
        if columns is None:
            if preprocessor is not None:
                columns = preprocessor.columns
            elif booster.feature_names:
                columns = booster.feature_names
            else:
                raise SchemaError(
                    f"model {model_uri} has no feature names and no preprocessor: pass the "
                    "input columns explicitly"
                )
        return cls(booster, preprocessor, columns)

    # -- parsing ----------------------------------------------------------------------------

    def parse_csv(self, body: bytes) -> np.ndarray:
        """Rows of raw features, comma-separated, no header, in the input schema's order."""
        try:
            text = body.decode()
        except UnicodeDecodeError as exc:
            raise InvalidRequest("the CSV body is not UTF-8 text") from exc
        lines = [line for line in text.splitlines() if line.strip()]
        if not lines:
            raise InvalidRequest(
                f"empty request: send one CSV row per record with {len(self.columns)} values "
                f"({','.join(self.columns)}), no header"
            )
        width = len(self.columns)
        rows = []
        for n, line in enumerate(lines, 1):
            cells = line.split(",")
            if len(cells) != width:
                raise InvalidRequest(
                    f"CSV row {n} has {len(cells)} values; expected {width} "
                    f"({','.join(self.columns)}), no header"
                )
            try:
                rows.append([float(c) for c in cells])
            except ValueError as exc:
                raise InvalidRequest(
                    f"CSV row {n}: {exc}; every value must be a number (columns: "
                    f"{','.join(self.columns)}; no header row)"
                ) from exc
        return self._finite(np.array(rows, dtype=np.float64))

    def parse_json(self, body: bytes) -> np.ndarray:
        """``{"instances": [...]}`` or a bare list; each instance a list in column order or an
        object keyed by column name. A single object or flat list is one instance."""
        try:
            data = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InvalidRequest(f"the JSON body does not parse: {exc}") from exc
        if isinstance(data, dict) and "instances" in data:
            data = data["instances"]
        if isinstance(data, dict) or (
            isinstance(data, list) and data and not isinstance(data[0], (list, dict))
        ):
            data = [data]
        if not isinstance(data, list) or not data:
            raise InvalidRequest(
                'expected {"instances": [[...], ...]} (rows in column order) or '
                '{"instances": [{"COLUMN": value, ...}, ...]}'
            )
        width = len(self.columns)
        rows = []
        for n, item in enumerate(data, 1):
            if isinstance(item, dict):
                missing = [c for c in self.columns if c not in item]
                if missing:
                    raise InvalidRequest(f"instance {n} lacks column(s) {missing}")
                extra = sorted(set(item) - set(self.columns))
                if extra:
                    raise InvalidRequest(
                        f"instance {n} has unknown column(s) {extra}; the model's input "
                        f"columns are {list(self.columns)}"
                    )
                item = [item[c] for c in self.columns]
            if not isinstance(item, list) or len(item) != width:
                raise InvalidRequest(
                    f"instance {n} must be a list of {width} numbers ({','.join(self.columns)}) "
                    "or an object keyed by column name"
                )
            try:
                rows.append([float(v) for v in item])
            except (TypeError, ValueError) as exc:
                raise InvalidRequest(f"instance {n}: {exc}; every value must be a number") from exc
        return self._finite(np.array(rows, dtype=np.float64))

    @staticmethod
    def _finite(x: np.ndarray) -> np.ndarray:
        if not np.isfinite(x).all():
            raise InvalidRequest("values must be finite numbers (no NaN or infinity)")
        return x

    # -- predicting -------------------------------------------------------------------------

    def predict(self, raw: np.ndarray) -> np.ndarray:
        """Predictions for rows of raw (unscaled) features in the input schema's order."""
        x = raw
        if self.preprocessor is not None:
            x = (raw - self._means) * self._inv_stds
        return np.atleast_1d(self.booster.inplace_predict(x))

    def invoke(
        self, body: bytes, content_type: str | None, accept: str | None = None
    ) -> tuple[bytes, str]:
        """Answer one request: returns ``(body, content type)``; raises :class:`InvalidRequest`."""
        ctype = _media_type(content_type) or CSV
        if ctype == CSV:
            x = self.parse_csv(body)
        elif ctype == JSON:
            x = self.parse_json(body)
        else:
            raise InvalidRequest(
                f"content type {ctype!r} is not supported; send {CSV} or {JSON}", status=415
            )
        out = response_type(accept, default=ctype)
        predictions = self.predict(x)
        return format_predictions(predictions, out), out


def response_type(accept: str | None, *, default: str) -> str:
    """The media type to answer in, from an ``Accept`` header (``*/*`` or none: ``default``)."""
    if not accept:
        return default
    for part in accept.split(","):
        media = _media_type(part)
        if media in CONTENT_TYPES:
            return media
        if media in ("*/*", "text/*", "application/*", ""):
            return default
    raise InvalidRequest(f"cannot answer in {accept!r}; accept {CSV} or {JSON}", status=406)


def format_predictions(predictions: np.ndarray, media: str) -> bytes:
    """CSV: one prediction per line. JSON: ``{"predictions": [...]}``."""
    values = [float(v) for v in predictions]
    if media == JSON:
        return json.dumps({"predictions": values}).encode()
    return ("\n".join(_num(v) for v in values) + "\n").encode()


def _num(v: float) -> str:
    return repr(v) if math.isfinite(v) else "nan"


def _media_type(header: str | None) -> str:
    if not header:
        return ""
    return header.split(";", 1)[0].strip().lower()
