"""Calendar months as "YYYY-MM" strings, first days and month indexes (year * 12 + month - 1)."""

from __future__ import annotations

import calendar
import re
from datetime import date

_PERIOD = re.compile(r"^([0-9]{4})-(0[1-9]|1[0-2])$")


FIRST_YEAR, LAST_YEAR = 1970, 2999


def parse_period(period: str) -> date:
    """'2026-03' -> date(2026, 3, 1); anything else is a ValueError naming the text."""
    match = _PERIOD.match(period.strip())
    if not match:
        raise ValueError(f"period must look like YYYY-MM (e.g. 2026-03), got {period!r}")
    year = int(match.group(1))
    if not FIRST_YEAR <= year <= LAST_YEAR:
        # the months before (back-billing) and after a period must still be dates: year 1 has none before it
        raise ValueError(f"period must be between {FIRST_YEAR}-01 and {LAST_YEAR}-12, got {period!r}")
    return date(year, int(match.group(2)), 1)


def period_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def month_index(day: date) -> int:
    return day.year * 12 + day.month - 1


def from_index(index: int) -> date:
    return date(index // 12, index % 12 + 1, 1)


def add_months(first_day: date, months: int) -> date:
    return from_index(month_index(first_day) + months)


def month_end(first_day: date) -> date:
    return date(first_day.year, first_day.month, calendar.monthrange(first_day.year, first_day.month)[1])
