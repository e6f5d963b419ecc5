"""Time entered in MCC itself (the native timer): one audited row per entry, source 'native'."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal, InvalidOperation

from sqlalchemy import Engine

from mcc.errors import MccError
from mcc.permissions import Actor, require
from store.audit import record_event
from store.db import transaction
from store.models import Client, TimeEntry

MAX_HOURS = Decimal(24)


def add_entry(
    engine: Engine,
    actor: Actor,
    *,
    client_id: int,
    day: date,
    person: str,
    hours: Decimal | str,
    note: str = "",
    billable: bool = True,
    rate_cents: int | None = None,
) -> TimeEntry:
    """Record hours worked for a client; they show as unbilled time until approved and invoiced."""
    require(actor, "approver", "enter time")
    try:
        amount = Decimal(str(hours)).quantize(Decimal("0.01"))
    except InvalidOperation:
        raise MccError(f"hours must be a number such as 1.5, got {hours!r}") from None
    if not amount.is_finite() or amount <= 0 or amount > MAX_HOURS:
        raise MccError(f"hours must be more than 0 and at most {MAX_HOURS}, got {hours!r}")
    if not person.strip():
        raise MccError("say who did the work")
    if rate_cents is not None and rate_cents < 0:
        raise MccError("the hourly rate cannot be negative")
    with transaction(engine) as session:
        client = session.get(Client, client_id)
        if client is None:
            raise MccError(f"no client with id {client_id}")
        entry = TimeEntry(
            source="native",
            external_id=uuid.uuid4().hex,
            client_id=client.id,
            day=day,
            person=person.strip(),
            hours=amount,
            rate_cents=rate_cents,
            billable=billable,
            note=note.strip(),
            created_by=actor.username,
        )
        session.add(entry)
        session.flush()
        record_event(
            session,
            actor=actor.username,
            action="time.add",
            entity="time_entry",
            entity_id=entry.id,
            payload={
                "client": client.name,
                "day": day.isoformat(),
                "person": entry.person,
                "hours": str(amount),
                "billable": billable,
                "rate_cents": rate_cents,
                "note": entry.note,
            },
        )
        return entry
