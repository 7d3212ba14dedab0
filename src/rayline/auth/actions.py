"""Who may do what: every action a front end offers, and the least role it needs.

The one table of permissions. The REST routes declare their action
(``Depends(requires(Action.APPROVE))``), Studio's forms name theirs (``audited(...,
needs=Action.APPROVE)``), and a later front end reads the same table, so a role is never
declared twice.

>>> role_for(Action.APPROVE)
<Role.APPROVER: 3>
"""

from __future__ import annotations

from enum import StrEnum
from types import MappingProxyType

from rayline.auth.roles import Role


class Action(StrEnum):
    """What a caller does, named as the permission table lists it."""

    #: Read pipelines, executions, logs, models, endpoints, feature groups, lineage, schedules.
    READ = "read"
    #: Run a read-only SQL query over the feature groups.
    QUERY = "query"
    #: Send rows to an endpoint for predictions.
    INVOKE_ENDPOINT = "invoke_endpoint"
    #: Store (upsert) and delete pipelines, and upload the code their steps run.
    MANAGE_PIPELINES = "manage_pipelines"
    #: Start an execution, retry one, or re-run some of its steps.
    START_EXECUTION = "start_execution"
    STOP_EXECUTION = "stop_execution"
    #: Create, update and delete feature groups.
    MANAGE_FEATURE_GROUPS = "manage_feature_groups"
    #: Write records into a feature group, or delete one.
    INGEST = "ingest"
    #: Deploy, update and delete endpoints.
    MANAGE_ENDPOINT = "manage_endpoint"
    #: Create, pause, resume and delete schedules.
    MANAGE_SCHEDULES = "manage_schedules"
    #: Create and delete model package groups, register and delete versions.
    MANAGE_MODELS = "manage_models"
    #: Approve or reject a model version.
    APPROVE = "approve"
    MANAGE_TOKENS = "manage_tokens"
    MANAGE_WEBHOOKS = "manage_webhooks"
    READ_AUDIT = "read_audit"


#: The least role each action needs (roles are cumulative: a higher one may do it too).
ROLES: MappingProxyType[Action, Role] = MappingProxyType(
    {
        Action.READ: Role.VIEWER,
        Action.QUERY: Role.VIEWER,
        Action.INVOKE_ENDPOINT: Role.VIEWER,
        Action.MANAGE_PIPELINES: Role.OPERATOR,
        Action.START_EXECUTION: Role.OPERATOR,
        Action.STOP_EXECUTION: Role.OPERATOR,
        Action.MANAGE_FEATURE_GROUPS: Role.OPERATOR,
        Action.INGEST: Role.OPERATOR,
        Action.MANAGE_ENDPOINT: Role.OPERATOR,
        Action.MANAGE_MODELS: Role.OPERATOR,
        Action.MANAGE_SCHEDULES: Role.OPERATOR,
        Action.APPROVE: Role.APPROVER,
        Action.MANAGE_TOKENS: Role.ADMIN,
        Action.MANAGE_WEBHOOKS: Role.ADMIN,
        Action.READ_AUDIT: Role.ADMIN,
    }
)


def role_for(action: Action) -> Role:
    """The least role that may do ``action``."""
    return ROLES[Action(action)]


def allows(role: Role, action: Action) -> bool:
    """Whether ``role`` may do ``action``."""
    return role >= role_for(action)
