"""The one HTTP client of a rayline server: base URL, bearer token, the ``X-Rayline-Client``
header, timeouts, and the server's problem details turned back into rayline's errors.

The server answers an error as RFC 9457 problem details whose ``detail`` is the message of the
rayline error it raised (``rayline/server/problems.py``); the status says which error that was,
so a client raises the same class with the same message, plus the server's URL. A server that
cannot be reached, or that fails (5xx), is a ``BackendError`` naming the URL.
"""

from __future__ import annotations

import contextlib
import platform
from collections.abc import Iterator
from typing import Any

import httpx

from rayline.config import is_embedded, settings
from rayline.errors import (
    AuthenticationError,
    BackendError,
    ConfigError,
    ConflictError,
    NotFoundError,
    ParameterError,
    PermissionDeniedError,
    RaylineError,
    TooLargeError,
    UserInputError,
)

#: The header naming the client's rayline and Python versions (``rayline/server/compat.py``).
CLIENT_HEADER = "X-Rayline-Client"

#: The error a problem's status stands for: the server's mapping (``problems.STATUSES``), read
#: backwards. Any other status of 400 or more: ``BackendError``.
ERRORS: dict[int, type[RaylineError]] = {
    400: UserInputError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    413: TooLargeError,
    422: ParameterError,
}

#: Seconds to connect, and to wait for an answer (a start or an upload may take a while).
CONNECT_TIMEOUT_S = 10.0
TIMEOUT_S = 120.0


def client_header(*, rayline_version: str | None = None, python_version: str | None = None) -> str:
    """``rayline/<version> python/<x.y.z>`` of this process (or of the versions given)."""
    from rayline._version import __version__

    python = python_version or platform.python_version()
    return f"rayline/{rayline_version or __version__} python/{python}"


def server_client(db_url: str | None = None) -> Client | None:
    """The server's client when the API goes through a server (``RAYLINE_SERVER_URL`` set and
    no explicit ``db_url``), else None: the caller works embedded. Inside the server itself
    (``rayline.config.embedded()``) always None: a server serves its own state."""
    if db_url is not None or is_embedded() or not settings().server_url:
        return None
    return Client()


class Client:
    """A connection to the rayline server at ``url`` (default ``RAYLINE_SERVER_URL``) presenting
    ``token`` (default ``RAYLINE_TOKEN``; ``""``: none). ``rayline_version`` /
    ``python_version`` replace this process's in ``X-Rayline-Client`` (tests of the refusal)."""

    def __init__(
        self,
        url: str | None = None,
        *,
        token: str | None = None,
        rayline_version: str | None = None,
        python_version: str | None = None,
        timeout_s: float = TIMEOUT_S,
    ) -> None:
        config = settings()
        self.url = (url or config.server_url or "").rstrip("/")
        if not self.url:
            raise ConfigError(
                "no rayline server to call: set RAYLINE_SERVER_URL (http://host:8080) or pass "
                "the url"
            )
        if "://" not in self.url:
            raise ConfigError(
                f"RAYLINE_SERVER_URL={self.url!r} is not a URL; set it to http(s)://host:port"
            )
        token = config.token if token is None else token
        headers = {
            CLIENT_HEADER: client_header(
                rayline_version=rayline_version, python_version=python_version
            )
        }
        self._has_token = bool(token)
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._http = httpx.Client(
            base_url=f"{self.url}/api/v1",
            headers=headers,
            timeout=httpx.Timeout(timeout_s, connect=CONNECT_TIMEOUT_S),
        )
        # A stream waits as long as what it follows runs: no read timeout.
        self._stream_timeout = httpx.Timeout(timeout_s, connect=CONNECT_TIMEOUT_S, read=None)

    def __repr__(self) -> str:
        return f"Client({self.url!r})"

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def request(
        self, method: str, path: str, *, allow: tuple[int, ...] = (), **options: Any
    ) -> httpx.Response:
        """The server's answer to ``method path`` (under ``/api/v1``); an error status not in
        ``allow`` raises the rayline error it stands for."""
        try:
            response = self._http.request(method, path, **options)
        except httpx.HTTPError as exc:
            raise BackendError(
                f"cannot reach the rayline server at {self.url} ({type(exc).__name__}: {exc}); "
                "check that it runs and that RAYLINE_SERVER_URL names it, or unset "
                "RAYLINE_SERVER_URL to work embedded"
            ) from None
        if response.status_code >= 400 and response.status_code not in allow:
            raise self._error(response, method, path)
        return response

    @contextlib.contextmanager
    def stream(self, method: str, path: str, **options: Any) -> Iterator[httpx.Response]:
        """The server's answer to ``method path`` as it comes (a followed log, an event stream),
        read without a timeout between chunks; an error status raises as ``request`` does."""
        try:
            with self._http.stream(method, path, timeout=self._stream_timeout, **options) as answer:
                if answer.status_code >= 400:
                    answer.read()
                    raise self._error(answer, method, path)
                yield answer
        except httpx.HTTPError as exc:
            raise BackendError(
                f"lost the rayline server at {self.url} while reading {path} "
                f"({type(exc).__name__}: {exc}); check that it still runs"
            ) from None

    def call(self, method: str, path: str, **options: Any) -> Any:
        """The JSON the server answers ``method path`` with (None for an empty body)."""
        response = self.request(method, path, **options)
        return response.json() if response.content else None

    def get(self, path: str, **options: Any) -> Any:
        return self.call("GET", path, **options)

    def post(self, path: str, **options: Any) -> Any:
        return self.call("POST", path, **options)

    def put(self, path: str, **options: Any) -> Any:
        return self.call("PUT", path, **options)

    def delete(self, path: str, **options: Any) -> Any:
        return self.call("DELETE", path, **options)

    def items(
        self, path: str, *, params: dict[str, Any] | None = None, limit: int | None = None
    ) -> Iterator[Any]:
        """The items of a paginated list route (``{"items", "next_token"}``), page after page,
        at most ``limit`` of them."""
        query = {k: v for k, v in (params or {}).items() if v is not None}
        left = limit
        while left is None or left > 0:
            query["limit"] = 1000 if left is None else min(left, 1000)
            page = self.get(path, params=query)
            yield from page["items"][:left]
            if left is not None:
                left -= len(page["items"])
            if not page.get("next_token") or not page["items"]:
                return
            query["next_token"] = page["next_token"]

    def _error(self, response: httpx.Response, method: str, path: str) -> RaylineError:
        status = response.status_code
        try:
            body = response.json()
            detail = body.get("detail") if isinstance(body, dict) else None
        except ValueError:
            detail = None
        detail = str(detail or response.text or response.reason_phrase).strip()
        where = f"the rayline server at {self.url}"
        if status == 401:
            if self._has_token:
                return AuthenticationError(f"{where} did not accept RAYLINE_TOKEN (401): {detail}")
            return AuthenticationError(
                f"{where} needs an API token (401): {detail}; set RAYLINE_TOKEN to one"
            )
        if status == 403:
            return PermissionDeniedError(f"{where} refused {method} {path} (403): {detail}")
        error = ERRORS.get(status)
        if error is None:
            return BackendError(
                f"{where} failed on {method} {path} ({status}): {detail}; its log has the details"
            )
        return error(f"{detail} (answered by {where})")
