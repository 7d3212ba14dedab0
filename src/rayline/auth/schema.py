"""The auth package's tables, on the shared ``rayline.store.schema.metadata`` (migration 0013).

``api_tokens`` holds each API token's SHA-256 (never the secret), its role and its lifecycle;
revoked tokens stay, so the audit log's identities keep meaning something. ``audit_log`` has one
row per state-changing request the server answered, refused ones included.
"""

from __future__ import annotations

import sqlalchemy as sa

from rayline.store.schema import metadata

api_tokens = sa.Table(
    "api_tokens",
    metadata,
    # The secret's first characters after ``rl_``: what humans see to tell tokens apart.
    sa.Column("id", sa.String(16), primary_key=True),
    sa.Column("name", sa.String(256), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    # The lookup key of every authenticated request: unique, so indexed.
    sa.Column("secret_sha256", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("created_by", sa.String(256), nullable=False),
    sa.Column("revoked_at", sa.Float),
    sa.Column("last_used_at", sa.Float),
)

# A name is unique among the active tokens only: a revoked name may be given out again.
sa.Index(
    "uq_api_tokens_active_name",
    api_tokens.c.name,
    unique=True,
    sqlite_where=api_tokens.c.revoked_at.is_(None),
    postgresql_where=api_tokens.c.revoked_at.is_(None),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.Float, nullable=False, index=True),
    sa.Column("identity", sa.String(256), nullable=False, index=True),
    sa.Column("role", sa.String(16)),
    sa.Column("token_id", sa.String(16)),
    sa.Column("method", sa.String(8), nullable=False),
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("status", sa.Integer, nullable=False),
    sa.Column("client", sa.String(64)),
    sa.Column("target", sa.Text),
)
