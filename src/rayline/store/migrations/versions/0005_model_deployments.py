"""Which endpoint serves which model version, owned by the registry (it refuses to delete them).

Filled from the endpoints that exist, so a served version stays undeletable across the upgrade.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "model_package_deployments",
        sa.Column("endpoint_name", sa.String(256), primary_key=True),
        sa.Column(
            "package_id",
            sa.Integer,
            sa.ForeignKey("model_packages.id", ondelete="RESTRICT"),
            nullable=False,
        ),
    )
    op.create_index(
        "ix_model_package_deployments_package_id", "model_package_deployments", ["package_id"]
    )
    op.execute(
        "INSERT INTO model_package_deployments (endpoint_name, package_id) "
        "SELECT e.name, p.id FROM endpoints e JOIN model_packages p "
        "ON p.group_name = e.model_package_group AND p.version = e.model_package_version"
    )


def downgrade() -> None:
    op.drop_index("ix_model_package_deployments_package_id", "model_package_deployments")
    op.drop_table("model_package_deployments")
