"""QuickBooks Web Connector sessions

Revision ID: qbd_sessions
Revises: integrity_sessions
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import store.types

revision: str = "qbd_sessions"
down_revision: str | None = "integrity_sessions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "qbwc_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_hash", sa.String(length=64), nullable=False),
        sa.Column("username", sa.String(length=100), nullable=False),
        sa.Column(
            "owner", sa.String(length=100), nullable=False, comment="lease owner on the outbox rows it claims"
        ),
        sa.Column("created_at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("closed_at", store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("outbox_id", sa.Integer(), nullable=True),
        sa.Column(
            "step", sa.String(length=20), nullable=True, comment="check | add, while an invoice is out"
        ),
        sa.Column("document", sa.JSON(), nullable=True),
        sa.Column("tried", sa.JSON(), nullable=False, comment="outbox ids already tried"),
        sa.Column("written", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["outbox_id"], ["outbox.id"], name=op.f("fk_qbwc_sessions_outbox_id_outbox")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qbwc_sessions")),
        sa.UniqueConstraint("ticket_hash", name=op.f("uq_qbwc_sessions_ticket_hash")),
    )


def downgrade() -> None:
    op.drop_table("qbwc_sessions")
