"""Reading the dates and numbers PSA payloads carry, once: a value that is not what the vendor's protocol
promises is a MalformedPayload naming the vendor and the field, so the run fails and nothing is written."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from mcc.errors import MalformedPayload


def day(vendor: str, value: Any, what: str, *, unset: str | None = None) -> date | None:
    """An ISO date or date-time (`2026-01-01T00:00:00Z`) as its date; None when absent or empty, or when
    it starts with `unset` (a vendor's stand-in for "no date", e.g. HaloPSA's 1900-01-01)."""
    if value in (None, "") or (unset is not None and str(value).startswith(unset)):
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).date()
    except ValueError:
        raise MalformedPayload(f"{vendor}: {what} is not a date: {str(value)[:40]!r}") from None


def decimal(vendor: str, value: Any, what: str) -> Decimal:
    """A number as an exact Decimal (JSON numbers through their text, never float arithmetic); absent is 0."""
    try:
        number = Decimal(str(value if value is not None else 0))
    except InvalidOperation:
        raise MalformedPayload(f"{vendor}: {what} is not a number: {str(value)[:40]!r}") from None
    if not number.is_finite():
        raise MalformedPayload(f"{vendor}: {what} is not a finite number: {value!r}")
    return number
