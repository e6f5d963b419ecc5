"""This database's installation id (made by the migration that creates the schema; see
`store.models.Installation`). Idempotency keys sent to accounting systems include it."""

from __future__ import annotations

import uuid

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from store.db import transaction
from store.models import Installation


def installation_id(session: Session) -> str:
    """The id; made here only if the row was removed by hand (a database always has one after upgrade)."""
    found = session.scalars(select(Installation.id).order_by(Installation.created_at).limit(1)).first()
    if found is not None:
        return found
    made = Installation(id=uuid.uuid4().hex)
    session.add(made)
    session.flush()
    return made.id


def show_installation_id(engine: Engine) -> str:
    with transaction(engine) as session:
        return installation_id(session)
