"""installation id: one row naming this database, made when the schema is created

Revision ID: writers_installation
Revises: psa_contract_lines
"""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import store.types

revision: str = "writers_installation"
down_revision: str | None = "psa_contract_lines"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    installation = op.create_table(
        "installation",
        sa.Column("id", sa.String(length=32), nullable=False, comment="32 hex characters"),
        sa.Column("created_at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_installation")),
    )
    # Made here, at the upgrade that creates (or first upgrades) this database: a copy of the file or
    # a restored backup keeps it, a new database gets its own.
    op.bulk_insert(installation, [{"id": uuid.uuid4().hex, "created_at": datetime.now(UTC)}])


def downgrade() -> None:
    op.drop_table("installation")
