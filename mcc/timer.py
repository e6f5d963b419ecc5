"""The native timer: time entered in MCC for a client, checked, written and audited in one transaction."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from sqlalchemy import Engine

from collectors.native import SOURCE_NAME
from mcc.errors import MccError
from mcc.money import MAX_UNIT_PRICE
from mcc.permissions import Actor, require
from store.audit import record_event
from store.db import transaction
from store.models import Client, TimeEntry

MAX_HOURS = Decimal(24)
MAX_NOTE = 2000


class TimeEntryError(MccError):
    """A time entry was refused (bad hours, unknown client…); nothing was written."""


@dataclass(frozen=True)
class NativeTimeEntry:
    id: int
    external_id: str
    client_id: int
    day: date
    person: str
    hours: Decimal
    rate_cents: int | None
    billable: bool
    note: str


def check_hours(hours: Decimal | int | str) -> Decimal:
    """More than 0 and at most 24 hours, in hundredths at most ("1.25", not "1.255")."""
    if isinstance(hours, (bool, float)):
        raise TimeEntryError(f'hours must be a decimal such as "1.25", got {hours!r}')
    try:
        value = Decimal(str(hours).strip())
    except InvalidOperation:
        raise TimeEntryError(f'hours must be a decimal such as "1.25", got {hours!r}') from None
    if not value.is_finite() or value <= 0 or value > MAX_HOURS:
        raise TimeEntryError(f"hours must be more than 0 and at most 24, got {hours}")
    if value != value.quantize(Decimal("0.01")):
        raise TimeEntryError(f"hours may have at most 2 decimal places, got {hours}")
    return value.quantize(Decimal("0.01"))


def add_time_entry(
    engine: Engine,
    actor: Actor | None,
    client_id: int,
    day: date,
    person: str,
    hours: Decimal,
    rate_cents: int | None,
    billable: bool,
    note: str = "",
) -> NativeTimeEntry:
    """Record hours worked for a client. Needs the approver role (admins have it); viewers may not."""
    actor = require(actor, "approver", "record time")
    hours = check_hours(hours)
    person = person.strip()
    if not person:
        raise TimeEntryError("person must name who did the work")
    if len(person) > 200:
        raise TimeEntryError("person must be at most 200 characters")
    if rate_cents is not None and (
        isinstance(rate_cents, bool) or not isinstance(rate_cents, int) or rate_cents < 0
    ):
        raise TimeEntryError(f"rate must be a whole number of cents ≥ 0, got {rate_cents!r}")
    if rate_cents is not None and rate_cents > MAX_UNIT_PRICE * 100:
        raise TimeEntryError(f"rate must be at most {MAX_UNIT_PRICE:,} an hour, got {rate_cents} cents")
    if not isinstance(day, date):
        raise TimeEntryError(f"day must be a date, got {day!r}")
    note = note.strip()
    if len(note) > MAX_NOTE:
        raise TimeEntryError(f"note must be at most {MAX_NOTE} characters, got {len(note)}")
    with transaction(engine) as session:
        client = session.get(Client, client_id)
        if client is None:
            raise TimeEntryError(f"no client with id {client_id}")
        row = TimeEntry(
            source=SOURCE_NAME,
            external_id=uuid.uuid4().hex,
            org_external_id=None,
            client_id=client.id,
            day=day,
            person=person,
            hours=hours,
            rate_cents=rate_cents,
            billable=bool(billable),
            note=note,
            vendor_invoiced=False,
            created_by=actor.username,
        )
        session.add(row)
        session.flush()
        record_event(
            session,
            actor=actor.username,
            action="time.add",
            entity="time_entry",
            entity_id=row.id,
            payload={
                "client": client.name,
                "client_id": client.id,
                "day": day.isoformat(),
                "person": person,
                "hours": str(hours),
                "rate_cents": rate_cents,
                "billable": bool(billable),
                "note": note,
            },
        )
        return NativeTimeEntry(
            row.id, row.external_id, client.id, day, person, hours, rate_cents, bool(billable), note
        )
