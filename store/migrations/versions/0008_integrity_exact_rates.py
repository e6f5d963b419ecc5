"""time entries keep the exact hourly rate their source gave

Revision ID: integrity_exact_rates
Revises: perf_request_slots
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import store.types

revision: str = "integrity_exact_rates"
down_revision: str | None = "perf_request_slots"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("time_entries") as batch_op:
        batch_op.add_column(
            sa.Column(
                "rate",
                store.types.DecimalText(length=40),
                nullable=True,
                comment="the exact hourly rate the source gave (rate_cents is it in whole cents); null: rate_cents",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("time_entries") as batch_op:
        batch_op.drop_column("rate")
