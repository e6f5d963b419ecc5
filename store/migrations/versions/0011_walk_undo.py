"""an undo is a decision that reverses an earlier one

Revision ID: walk_undo
Revises: specs_run_notes
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "walk_undo"
down_revision: str | None = "specs_run_notes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMN = "reverses_decision_id"
FOREIGN_KEY = "fk_decisions_reverses_decision_id_decisions"


def _sqlite_append_only(create: bool) -> None:
    # batch mode rebuilds the table on SQLite, which drops its triggers: take them down and put them back
    for verb in ("UPDATE", "DELETE"):
        op.execute(f"DROP TRIGGER IF EXISTS decisions_no_{verb.lower()}")
        if create:
            op.execute(
                f"CREATE TRIGGER decisions_no_{verb.lower()} BEFORE {verb} ON decisions "
                "BEGIN SELECT RAISE(ABORT, 'decisions is append-only'); END"
            )


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        _sqlite_append_only(create=False)
    with op.batch_alter_table("decisions") as batch_op:
        batch_op.add_column(
            sa.Column(COLUMN, sa.Integer(), nullable=True, comment="an undo: the decision it reverses")
        )
        batch_op.create_foreign_key(FOREIGN_KEY, "decisions", [COLUMN], ["id"])
    if sqlite:
        _sqlite_append_only(create=True)


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        _sqlite_append_only(create=False)
    with op.batch_alter_table("decisions") as batch_op:
        batch_op.drop_constraint(FOREIGN_KEY, type_="foreignkey")
        batch_op.drop_column(COLUMN)
    if sqlite:
        _sqlite_append_only(create=True)
