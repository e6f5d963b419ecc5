"""The date and number readers the PSA collectors share: exact decimals, ISO dates, and a located
MalformedPayload for anything else."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from collectors import parse
from mcc.errors import MalformedPayload


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-01-01T00:00:00Z", date(2026, 1, 1)),
        ("2026-03-31T23:59:59+00:00", date(2026, 3, 31)),
        ("2026-02-14", date(2026, 2, 14)),
        ("2026-02-14T10:00:00", date(2026, 2, 14)),
        (None, None),
        ("", None),
    ],
)
def test_day_reads_iso_dates_and_date_times(value: object, expected: date | None) -> None:
    assert parse.day("connectwise", value, "effectiveDate") == expected


def test_day_treats_the_vendors_unset_date_as_absent() -> None:
    assert parse.day("halopsa", "1900-01-01T00:00:00", "startdate", unset="1900-01-01") is None
    assert parse.day("halopsa", "1900-01-02T00:00:00", "startdate", unset="1900-01-01") == date(1900, 1, 2)
    assert parse.day("autotask", "1900-01-01T00:00:00", "startDate") == date(1900, 1, 1)


def test_a_bad_date_names_the_vendor_and_the_field() -> None:
    with pytest.raises(MalformedPayload, match=r"^autotask: contract 7 endDate is not a date: 'next week'$"):
        parse.day("autotask", "next week", "contract 7 endDate")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (47, Decimal(47)),
        (22.1, Decimal("22.1")),  # through the JSON number's text, not its binary float value
        ("3.50", Decimal("3.50")),
        (None, Decimal(0)),
        (2.5, Decimal("2.5")),
    ],
)
def test_decimal_is_exact(value: object, expected: Decimal) -> None:
    number = parse.decimal("halopsa", value, "qty_order")
    assert number == expected and isinstance(number, Decimal)


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("lots", "is not a number: 'lots'"),
        ("NaN", "is not a finite number"),
        ("Infinity", "is not a finite number"),
    ],
)
def test_a_bad_number_names_the_vendor_and_the_field(value: str, words: str) -> None:
    with pytest.raises(MalformedPayload, match=r"^connectwise: addition 9 unitPrice ") as caught:
        parse.decimal("connectwise", value, "addition 9 unitPrice")
    assert words in str(caught.value)
