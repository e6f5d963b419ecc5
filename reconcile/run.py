"""One period end to end, from Inputs: the ledger over the look-back window, then gaps and back-bill."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import polars as pl

from reconcile.gaps import period_gaps
from reconcile.ledger import monthly_ledger, unmapped_ledger
from reconcile.periods import add_months
from reconcile.schemas import ENGINE, Inputs

MIN_HISTORY_MONTHS = 12


class AmountOverflow(ArithmeticError):
    """A line's figure does not fit in 64-bit cents: an absurd count or price, never a real bill."""


@dataclass(frozen=True)
class PeriodResult:
    gaps: pl.DataFrame
    back_bill: pl.DataFrame
    ledger: pl.LazyFrame


def window_start(period: date, back_bill_months: int) -> date:
    """The first month read for a period: enough history for `since` and the back-bill look-back."""
    return add_months(period, -max(back_bill_months, MIN_HISTORY_MONTHS))


def reconcile_inputs(inputs: Inputs, period: date, back_bill_months: int) -> PeriodResult:
    """Gaps for `period` (first day of the month) with back-bill bounded by `back_bill_months`."""
    first = window_start(period, back_bill_months)
    try:
        ledger = monthly_ledger(inputs, first, period).collect(engine=ENGINE).lazy()
        gaps, detail = period_gaps(
            inputs, ledger, unmapped_ledger(inputs, period, period), period, back_bill_months
        )
    except pl.exceptions.InvalidOperationError as error:
        # Products are computed in 128 bits and cast back with a check: a figure beyond Int64 stops the
        # run here instead of wrapping into a plausible wrong amount.
        if "Int64" not in str(error) and "i64" not in str(error):
            raise
        raise AmountOverflow(
            "a quantity × price in this period is beyond 64-bit cents (about 92 million million): "
            "check the counts and prices for an absurd value"
        ) from error
    return PeriodResult(gaps, detail, ledger)
