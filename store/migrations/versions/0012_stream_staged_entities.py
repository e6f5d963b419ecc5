"""a running sync stages its entities under its run and switches over at the end

Revision ID: stream_staged_entities
Revises: walk_undo
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "stream_staged_entities"
down_revision: str | None = "walk_undo"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "staged_entities",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("metric", sa.String(length=40), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=False),
        sa.Column("org_external_id", sa.String(length=200), nullable=False),
        sa.Column(
            "key_attrs_json", sa.Text(), nullable=False, comment="the counted attributes, canonical JSON"
        ),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("attrs_json", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["sync_runs.id"], name=op.f("fk_staged_entities_run_id_sync_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staged_entities")),
        sa.UniqueConstraint(
            "run_id", "metric", "external_id", name=op.f("uq_staged_entities_run_id_metric_external_id")
        ),
    )


def downgrade() -> None:
    op.drop_table("staged_entities")
