"""Talking to endpoints over HTTP (httpx): invoke one, or probe which model version it serves."""

from __future__ import annotations

import httpx

from rayline.errors import BackendError, UserInputError


def probe_version(url: str, *, timeout: float = 2.0) -> str | None:
    """The model version an endpoint at ``url`` serves, or None if it does not answer."""
    try:
        response = httpx.get(url, timeout=timeout)
        response.raise_for_status()
        return response.json().get("model_version")
    except (httpx.HTTPError, ValueError, AttributeError):
        return None


def invoke_url(
    url: str,
    body: bytes | str,
    *,
    content_type: str = "text/csv",
    accept: str | None = None,
    timeout: float = 30.0,
) -> tuple[bytes, str]:
    """POST ``body`` to an endpoint URL; returns ``(response body, content type)``.

    A 4xx answer raises ``UserInputError``; a 5xx or no answer raises ``BackendError``.
    """
    data = body.encode() if isinstance(body, str) else body
    headers = {"Content-Type": content_type}
    if accept:
        headers["Accept"] = accept
    try:
        response = httpx.post(url, content=data, headers=headers, timeout=timeout)
    except httpx.HTTPError as exc:
        raise BackendError(
            f"no answer from {url}: {exc}. Is its Ray running (`rayline up`)?"
        ) from exc
    if response.is_error:
        message = response.text.strip()
        if response.is_client_error:
            raise UserInputError(
                f"the endpoint refused the request ({response.status_code}): {message}"
            )
        raise BackendError(f"the endpoint failed ({response.status_code}): {message}")
    media = response.headers.get("content-type", "text/plain")
    return response.content, media.split(";", 1)[0].strip().lower()
