"""The approval routes of a server's model registry: approve or reject a model package
version (``POST /api/v1/model-package-groups/{group}/versions/{version}/approve|reject``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from rayline.errors import UserInputError

if TYPE_CHECKING:
    from rayline.remote.client import Client

#: The approval status each action sets.
ACTIONS = {"Approved": "approve", "Rejected": "reject"}


def set_status(
    client: Client, group: str, version: int, status: str, *, reason: str = ""
) -> dict[str, Any]:
    """Approve (``Approved``) or reject (``Rejected``) a version as the token's identity;
    returns the version as the server describes it. The server's registry applies the
    approval rules (four eyes, a reason for a rejection) and says what it refused."""
    action = ACTIONS.get(status)
    if action is None:
        raise UserInputError(
            f"through the server a version can be {' or '.join(ACTIONS)}, not {status!r}; "
            "use rayline model approve or rayline model reject"
        )
    path = f"/model-package-groups/{quote(group, safe='')}/versions/{int(version)}/{action}"
    return client.post(path, json={"reason": reason})
