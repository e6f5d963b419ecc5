"""sync runs keep skipped-record notices and the attribute values no mapping counts

Revision ID: specs_run_notes
Revises: vendors_suspicious_drops
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "specs_run_notes"
down_revision: str | None = "vendors_suspicious_drops"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sync_runs") as batch_op:
        batch_op.add_column(
            sa.Column(
                "notices",
                sa.JSON(),
                nullable=True,
                comment="records skipped or read with doubt, each located at the vendor",
            )
        )
        batch_op.add_column(
            sa.Column(
                "uncovered",
                sa.JSON(),
                nullable=True,
                comment="attribute values (device class, SKU, product) no mapping counts: {metric, attr, value, quantity}",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("sync_runs") as batch_op:
        batch_op.drop_column("uncovered")
        batch_op.drop_column("notices")
