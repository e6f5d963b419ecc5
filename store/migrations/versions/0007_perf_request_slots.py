"""request slots: one rate window per vendor account shared by every process

Revision ID: perf_request_slots
Revises: truth_exclusion_start
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "perf_request_slots"
down_revision: str | None = "truth_exclusion_start"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "request_slots",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False, comment="kind:source name"),
        sa.Column("at", sa.Double(), nullable=False, comment="seconds since the epoch, this host's clock"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_request_slots")),
    )
    op.create_index("ix_request_slots_key_at", "request_slots", ["key", "at"])


def downgrade() -> None:
    op.drop_index("ix_request_slots_key_at", table_name="request_slots")
    op.drop_table("request_slots")
