"""integrity: sign-in sessions that can be ended server-side; what each draft was built from

Revision ID: integrity_sessions
Revises: writers_installation
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import store.types


revision: str = "integrity_sessions"
down_revision: str | None = "writers_installation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "user_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "token_hash", sa.String(length=64), nullable=False, comment="sha256 of the cookie's session id"
        ),
        sa.Column("username", sa.String(length=100), nullable=False),
        sa.Column("created_at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ended_reason", sa.String(length=40), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_user_sessions_token_hash")),
    )
    with op.batch_alter_table("user_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_user_sessions_username"), ["username"], unique=False)
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "basis_json",
                sa.JSON(),
                nullable=True,
                comment="the decisions and time entries (with their state) the lines were built from",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.drop_column("basis_json")
    with op.batch_alter_table("user_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_sessions_username"))

    op.drop_table("user_sessions")
