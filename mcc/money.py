"""Exact money at the edges: decimal strings and Decimal in, integer minor units (cents) inside."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")
# Far above any price or invoice an MSP enters, and small enough that quantity × price and the totals
# built from it stay inside 64-bit integer cents (database BIGINT, Polars Int64).
MAX_AMOUNT = Decimal("999999999999.99")
# What one book line may say. With them the largest line (quantity × unit price, 10^7 × 10^8 cents)
# is 10^15 cents: back-bills and totals over thousands of such lines still fit in Int64 cents, and the
# engine computes every product in 128 bits, so nothing on the way can wrap either.
MAX_QUANTITY = 10_000_000  # units on one contract line or in a tolerance
MAX_UNIT_PRICE = Decimal("1000000.00")  # a unit price, unit cost or hourly rate
MAX_HOURS = Decimal("10000")  # hours in one prepaid block or one time entry
# Time is carried exactly down to these places (a billionth of an hour, a hundredth of a cent an hour);
# a source that says more is quantized once, on the way in, far below anything a bill can show.
HOUR_PLACES = Decimal("1e-9")
RATE_PLACES = Decimal("1e-4")

# What an amount may be written with. Decimal() itself also takes "1_000.00", Arabic-Indic and full-width
# digits, which a person reading the book would not take for the number we store.
_PLAIN_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


class AmountTooLarge(ValueError):
    """An amount beyond MAX_AMOUNT: a typo (or "1e30"), never a real price."""


def parse_amount(text: str | int | Decimal, *, field: str = "amount") -> int:
    """'45.00' -> 4500. Rejects floats, non-numbers and more than two decimal places."""
    if isinstance(text, (bool, float)):
        raise ValueError(f'{field} must be a decimal string such as "45.00", got {text!r}')
    if isinstance(text, str) and not _PLAIN_NUMBER.fullmatch(text.strip()):
        raise ValueError(
            f'{field} must be written with the digits 0-9 and a "." (no "_", spaces or other digits), '
            f"got {text!r}"
        )
    try:
        value = Decimal(str(text).strip())
    except InvalidOperation:
        raise ValueError(f'{field} must be a decimal number such as "45.00", got {text!r}') from None
    if not value.is_finite():
        raise ValueError(f"{field} must be a finite decimal number, got {text!r}")
    if abs(value) > MAX_AMOUNT:
        raise AmountTooLarge(f"{field} must be at most {MAX_AMOUNT} in size, got {text!r}")
    if value != value.quantize(CENT):
        raise ValueError(f"{field} has more than two decimal places: {text!r}")
    return int(value * 100)


def trimmed(value: Decimal, places: Decimal) -> Decimal:
    """`value` to at most `places` (half away from zero), without trailing zeros: 2.500 -> 2.5, 10 -> 10."""
    value = value.quantize(places, rounding=ROUND_HALF_UP)
    if value == value.to_integral_value():
        return value.quantize(Decimal(1))
    return value.normalize()


def to_decimal(cents: int) -> Decimal:
    """4500 -> Decimal('45.00')."""
    return (Decimal(int(cents)) / 100).quantize(CENT)


def to_str(cents: int | None) -> str | None:
    """4500 -> '45.00'; None stays None."""
    return None if cents is None else str(to_decimal(cents))


def round_cents(value: Decimal) -> int:
    """Round an exact amount in cents (possibly fractional) half away from zero, once."""
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def fmt(cents: int | None, currency: str = "USD") -> str:
    """4500 -> '$45.00' (or 'EUR 45.00'); for display only."""
    if cents is None:
        return "—"
    symbol = {"USD": "$", "CAD": "$", "AUD": "$", "NZD": "$", "GBP": "£", "EUR": "€"}.get(currency)
    sign = "-" if cents < 0 else ""
    body = f"{abs(to_decimal(cents)):,.2f}"
    return f"{sign}{symbol}{body}" if symbol else f"{sign}{currency} {body}"
