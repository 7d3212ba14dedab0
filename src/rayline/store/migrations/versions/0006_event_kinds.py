"""One status vocabulary: event kinds get their own column; step runs record the branch taken.

``events.kind`` says what an event records; ``events.status`` keeps only statuses (null for
events that are no status change). Old rows are migrated: an event whose ``status`` held a kind
(``AttemptFailed``, ``TrackingFailed``) moves it to ``kind``; the final status change of an
execution becomes ``ExecutionEnded``. ``step_runs.branch`` is filled for condition steps from
their ``Outcome`` property.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# Frozen copies of the values this revision knows (never today's enums).
_FINISHED = ("Stopped", "Failed", "Succeeded")
_STATUSES = ("Starting", "Executing", "Stopping", *_FINISHED)
_RENAMED_KINDS = {"TrackingFailed": "ListenerFailed"}

_events = sa.table(
    "events",
    sa.column("id", sa.Integer),
    sa.column("step_name", sa.String),
    sa.column("kind", sa.String),
    sa.column("status", sa.String),
)
_step_runs = sa.table(
    "step_runs",
    sa.column("id", sa.Integer),
    sa.column("step_type", sa.String),
    sa.column("properties", sa.JSON),
    sa.column("branch", sa.String),
)


def upgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("kind", sa.String(32), nullable=True))
        batch.alter_column("status", existing_type=sa.String(32), nullable=True)
    with op.batch_alter_table("step_runs") as batch:
        batch.add_column(sa.Column("branch", sa.String(256)))

    e = _events.c
    op.execute(
        _events.update()
        .where(e.step_name.is_(None), e.status.in_(_FINISHED))
        .values(kind="ExecutionEnded")
    )
    op.execute(
        _events.update()
        .where(e.kind.is_(None), e.step_name.is_(None), e.status.in_(_STATUSES))
        .values(kind="ExecutionStatusChanged")
    )
    op.execute(
        _events.update()
        .where(e.kind.is_(None), e.step_name.is_not(None), e.status.in_(_STATUSES))
        .values(kind="StepStatusChanged")
    )
    for old, new in _RENAMED_KINDS.items():
        op.execute(_events.update().where(e.status == old).values(kind=new, status=None))
    op.execute(_events.update().where(e.kind.is_(None)).values(kind=e.status, status=None))
    with op.batch_alter_table("events") as batch:
        batch.alter_column("kind", existing_type=sa.String(32), nullable=False)

    conn = op.get_bind()
    s = _step_runs.c
    for row in conn.execute(
        sa.select(s.id, s.properties).where(s.step_type == "Condition", s.properties.is_not(None))
    ):
        outcome = (row.properties or {}).get("Outcome")
        if outcome is not None:
            conn.execute(
                _step_runs.update()
                .where(s.id == row.id)
                .values(branch="if true" if outcome else "if false")
            )


def downgrade() -> None:
    e = _events.c
    op.execute(_events.update().where(e.status.is_(None)).values(status=e.kind))
    op.execute(_events.update().where(e.status == "ListenerFailed").values(status="TrackingFailed"))
    with op.batch_alter_table("events") as batch:
        batch.alter_column("status", existing_type=sa.String(32), nullable=False)
        batch.drop_column("kind")
    with op.batch_alter_table("step_runs") as batch:
        batch.drop_column("branch")
