"""PSA agreement lines and the origin of contract lines applied from them

Revision ID: psa_contract_lines
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import store.types

revision: str = "psa_contract_lines"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "psa_contract_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=False),
        sa.Column("org_external_id", sa.String(length=200), nullable=False),
        sa.Column("product", sa.String(length=200), nullable=False, comment="the PSA's product identifier"),
        sa.Column("quantity", store.types.DecimalText(length=40), nullable=False),
        sa.Column("unit_price", store.types.DecimalText(length=40), nullable=False),
        sa.Column("unit_cost", store.types.DecimalText(length=40), nullable=True),
        sa.Column("start", sa.Date(), nullable=True),
        sa.Column("end", sa.Date(), nullable=True),
        sa.Column("billed", sa.Boolean(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("agreement", sa.String(length=200), nullable=False),
        sa.Column("seen_at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_psa_contract_lines")),
        sa.UniqueConstraint("source", "external_id", name=op.f("uq_psa_contract_lines_source_external_id")),
    )
    with op.batch_alter_table("contracts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "origin",
                sa.String(length=240),
                nullable=True,
                comment="psa:<source>:<line id> for lines applied from a PSA; empty for the book's",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("contracts", schema=None) as batch_op:
        batch_op.drop_column("origin")
    op.drop_table("psa_contract_lines")
