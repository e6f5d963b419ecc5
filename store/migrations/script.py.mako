"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import store.types
% if up_revision == "0001":
from store.triggers import create_append_only_triggers, drop_append_only_triggers
% endif
${imports if imports else ""}

revision: str = ${repr(up_revision)}
down_revision: str | None = ${repr(down_revision)}
branch_labels: str | Sequence[str] | None = ${repr(branch_labels)}
depends_on: str | Sequence[str] | None = ${repr(depends_on)}


def upgrade() -> None:
    ${upgrades if upgrades else "pass"}
% if up_revision == "0001":
    create_append_only_triggers()
% endif


def downgrade() -> None:
% if up_revision == "0001":
    drop_append_only_triggers()
% endif
    ${downgrades if downgrades else "pass"}
