"""The one action -> role table: complete, cumulative, and what every REST route and Studio's
forms check (each route of the OpenAPI document declares its action, or is public)."""

from __future__ import annotations

import pytest

from rayline.auth import ROLES, Action, Role, allows, role_for


def test_every_action_has_its_least_role():
    assert set(ROLES) == set(Action)
    assert role_for(Action.READ) == Role.VIEWER
    assert role_for(Action.START_EXECUTION) == Role.OPERATOR
    assert role_for(Action.APPROVE) == Role.APPROVER
    assert role_for(Action.MANAGE_TOKENS) == Role.ADMIN
    assert role_for("approve") == Role.APPROVER  # an action's name reads as the action


@pytest.mark.parametrize("action", list(Action))
def test_roles_are_cumulative(action):
    least = role_for(action)
    assert [allows(role, action) for role in Role] == [role >= least for role in Role]


def test_requires_takes_an_action_never_a_bare_role():
    from rayline.server.security import requires

    assert requires(Action.APPROVE).action is Action.APPROVE
    with pytest.raises(TypeError, match="takes an Action"):
        requires(Role.APPROVER)


def test_every_operation_of_the_api_declares_its_action():
    from rayline.server.app import create_app
    from rayline.server.routes import route_actions
    from rayline.server.security import PUBLIC

    document = create_app(services=False).openapi()
    operations = {
        (method.upper(), path) for path, item in document["paths"].items() for method in item
    }
    table = route_actions()
    assert set(table) == operations
    public = {op for op, action in table.items() if action is None}
    assert {path for _, path in public} == set(PUBLIC)
    # Spot checks: the table says what the routes enforce.
    assert table[("POST", "/api/v1/model-package-groups/{group}/versions/{version}/approve")] == (
        Action.APPROVE
    )
    assert table[("POST", "/api/v1/executions/{execution_id}/stop")] == Action.STOP_EXECUTION
    assert table[("GET", "/api/v1/audit")] == Action.READ_AUDIT
