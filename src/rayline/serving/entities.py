"""What an endpoint is: its record, its history of changes and its status vocabulary."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rayline.errors import TooLargeError
from rayline.registry.entities import check_name

#: The largest body one invocation may carry: SageMaker InvokeEndpoint's payload limit (6 MB).
MAX_INVOCATION_BYTES = 6 * 2**20


def check_invocation_size(name: str, size: int) -> None:
    """Refuse (``TooLargeError``) an invocation of endpoint ``name`` over
    ``MAX_INVOCATION_BYTES``."""
    if size > MAX_INVOCATION_BYTES:
        raise TooLargeError(
            f"the request to endpoint {name!r} is {size} bytes or more, over the "
            f"{MAX_INVOCATION_BYTES} bytes an invocation may carry (as SageMaker's "
            "InvokeEndpoint); send fewer rows per request"
        )


class EndpointStatus:
    """SageMaker's endpoint statuses."""

    CREATING = "Creating"
    IN_SERVICE = "InService"
    UPDATING = "Updating"
    FAILED = "Failed"
    DELETING = "Deleting"


@dataclass(frozen=True)
class EndpointEvent:
    """One change of an endpoint: created, updated (to which version), failed, deleted."""

    action: str
    model_version: str | None
    status: str
    at: float
    by: str
    detail: str | None


@dataclass(frozen=True)
class Endpoint:
    """An endpoint's record; ``live`` is whether it answered a probe just now (None: not asked)."""

    name: str
    model_package_group: str
    model_package_version: int
    status: str
    url: str
    config: dict[str, Any]
    failure_reason: str | None
    created_at: float
    updated_at: float
    live: bool | None = None
    events: tuple[EndpointEvent, ...] = field(default=())

    @property
    def model_version(self) -> str:
        """``group/version`` of the model version it serves."""
        return f"{self.model_package_group}/{self.model_package_version}"

    @property
    def resources(self) -> dict[str, float]:
        """The custom Ray resources that place its replicas (empty: anywhere)."""
        return dict(self.config.get("resources") or {})

    @property
    def invocation_url(self) -> str:
        """Where to POST requests."""
        return f"{self.url}/invocations"

    def to_dict(self) -> dict[str, Any]:
        """SageMaker-style field names, for ``--json`` output."""
        return {
            "EndpointName": self.name,
            "EndpointStatus": self.status,
            "ModelVersion": self.model_version,
            "Url": self.invocation_url,
            "Config": self.config,
            "FailureReason": self.failure_reason,
            "CreatedAt": self.created_at,
            "UpdatedAt": self.updated_at,
            "Live": self.live,
            "Events": [
                {
                    "Action": e.action,
                    "ModelVersion": e.model_version,
                    "Status": e.status,
                    "At": e.at,
                    "By": e.by,
                    "Detail": e.detail,
                }
                for e in self.events
            ],
        }


def check_endpoint_name(name: str) -> str:
    """``name`` if it can name an endpoint (it becomes part of the URL)."""
    return check_name(
        name, what="endpoint", max_length=63, punctuation="-", why=" (it becomes part of the URL)"
    )
