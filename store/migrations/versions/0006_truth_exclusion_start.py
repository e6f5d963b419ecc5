"""exclusions apply from a start day

Revision ID: truth_exclusion_start
Revises: qbd_sessions
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "truth_exclusion_start"
down_revision: str | None = "qbd_sessions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("exclusions") as batch_op:
        batch_op.add_column(
            sa.Column(
                "start", sa.Date(), nullable=True, comment="applies to months ending on or after it; null: every month"
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("exclusions") as batch_op:
        batch_op.drop_column("start")
