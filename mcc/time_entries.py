"""Time entered in MCC itself (the native timer), keyword-style, as the Unbilled time page calls it.
The checks, the write and the audit row are `mcc.timer.add_time_entry`'s: one set of rules for the page,
the CLI and the demo."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import Engine

from mcc.permissions import Actor
from mcc.timer import MAX_HOURS, NativeTimeEntry, add_time_entry

__all__ = ["MAX_HOURS", "add_entry"]


def add_entry(
    engine: Engine,
    actor: Actor | None,
    *,
    client_id: int,
    day: date,
    person: str,
    hours: Decimal | str,
    note: str = "",
    billable: bool = True,
    rate_cents: int | None = None,
) -> NativeTimeEntry:
    """Record hours worked for a client; they show as unbilled time until approved and invoiced."""
    return add_time_entry(
        engine,
        actor,
        client_id,
        day=day,
        person=person,
        hours=hours,  # type: ignore[arg-type]  # check_hours takes text too and says what is wrong with it
        rate_cents=rate_cents,
        billable=billable,
        note=note,
    )
