"""The roles an API token carries. They are cumulative: each may do what the ones below it may.

- ``viewer`` reads everything but tokens and the audit log;
- ``operator`` also starts, stops and retries executions, ingests, manages endpoints and
  schedules, upserts and deletes pipelines and feature groups;
- ``approver`` also approves and rejects model packages;
- ``admin`` also manages tokens and webhooks and reads the audit log.
"""

from __future__ import annotations

from enum import IntEnum

from rayline.errors import UserInputError


class Role(IntEnum):
    VIEWER = 1
    OPERATOR = 2
    APPROVER = 3
    ADMIN = 4

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Role:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            names = ", ".join(r.label for r in cls)
            raise UserInputError(f"role {text!r} does not exist; use one of {names}") from None
