"""a sync run that saw counts collapse is held as suspicious until a person or a second run agrees

Revision ID: vendors_suspicious_drops
Revises: integrity_exact_rates
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import store.types

revision: str = "vendors_suspicious_drops"
down_revision: str | None = "integrity_exact_rates"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sync_runs") as batch_op:
        batch_op.alter_column(
            "status",
            existing_type=sa.String(length=20),
            existing_nullable=False,
            comment="running | ok | failed | suspicious",
            existing_comment="running | ok | failed",
        )
        batch_op.add_column(sa.Column("drops", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("drop_confirmed_by", sa.String(length=100), nullable=True))
        batch_op.add_column(
            sa.Column("drop_confirmed_at", store.types.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("sync_runs") as batch_op:
        batch_op.drop_column("drop_confirmed_at")
        batch_op.drop_column("drop_confirmed_by")
        batch_op.drop_column("drops")
        batch_op.alter_column(
            "status",
            existing_type=sa.String(length=20),
            existing_nullable=False,
            comment="running | ok | failed",
            existing_comment="running | ok | failed | suspicious",
        )
