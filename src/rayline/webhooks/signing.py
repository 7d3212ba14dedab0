"""Signing webhook POSTs by the Standard Webhooks scheme (https://www.standardwebhooks.com/).

Each POST carries ``webhook-id`` (the event's id, the same on every retry), ``webhook-timestamp``
(Unix seconds of this attempt) and ``webhook-signature``: ``v1,`` and the base64 HMAC-SHA256 of
``{id}.{timestamp}.{body}`` under the webhook's secret. The secret is ``whsec_`` and the base64
of its key bytes. A receiver verifies with any Standard Webhooks library (``standardwebhooks``
for Python: ``Webhook(secret).verify(body, headers)``), which also refuses timestamps more than
five minutes off: a captured POST cannot be replayed later.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

from rayline.errors import UserInputError

SECRET_PREFIX = "whsec_"

#: Key bytes of a generated secret (the scheme asks for 24 to 64).
SECRET_BYTES = 32


def new_secret() -> str:
    """A fresh random secret, ``whsec_<base64>``."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_key(secret: str) -> bytes:
    """The key bytes of ``whsec_<base64>`` (``UserInputError`` for anything else)."""
    text = secret[len(SECRET_PREFIX) :] if secret.startswith(SECRET_PREFIX) else secret
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if not key:
        raise UserInputError(
            "a webhook secret is 'whsec_' followed by base64 key bytes; this is not one"
        )
    return key


def signature(secret: str, *, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value: ``v1,<base64 HMAC-SHA256 of id.timestamp.body>``."""
    signed = f"{msg_id}.{int(timestamp)}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(secret: str, *, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers of one POST of ``body``."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(timestamp)),
        "webhook-signature": signature(secret, msg_id=msg_id, timestamp=timestamp, body=body),
    }


def verify(
    secret: str, *, headers: dict[str, str], body: bytes, now: float, tolerance_s: float = 300
) -> bool:
    """Whether ``headers`` sign ``body`` under ``secret`` at a timestamp within
    ``tolerance_s`` of ``now`` (for receivers written with rayline; any v1 signature of a
    space-separated list may match)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    msg_id = lowered.get("webhook-id")
    stamp = lowered.get("webhook-timestamp", "")
    if not msg_id or not stamp.isdigit() or abs(now - int(stamp)) > tolerance_s:
        return False
    expected = signature(secret, msg_id=msg_id, timestamp=int(stamp), body=body)
    return any(
        hmac.compare_digest(expected, given)
        for given in lowered.get("webhook-signature", "").split()
    )
