"""Money at the extreme corners: the engine's cents equal exact Decimal arithmetic, or it stops loudly.

Every product the engine computes (delta × price, tolerance × contracted, cost × count, contracted × price,
the sums of back-bill and totals) is worked in 128 bits and checked back into Int64; a figure that does not
fit raises instead of wrapping into a plausible wrong amount.
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mcc.money import MAX_QUANTITY, MAX_UNIT_PRICE
from reconcile.gaps import totals
from reconcile.periods import add_months
from reconcile.run import AmountOverflow, reconcile_inputs
from tests.reconcile_seed import PureBook

PERIOD = date(2026, 3, 1)
MAX_PRICE_CENTS = int(MAX_UNIT_PRICE * 100)
MONTHS = [add_months(PERIOD, -n) for n in range(12, -1, -1)]


def exact_cents(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def test_a_billion_units_contracted_against_six_observed_is_the_exact_credit() -> None:
    """The reported case: `mcc reconcile` printed +34,467,441,637.10 where −149,999,999,100.00 is right."""
    book = PureBook()
    book.product("WS", 15000, unit_cost_cents=410)
    book.mapping("WS", "ninja", "devices")
    book.client("Acme", ninja="1")
    book.contract("Acme", "WS", 1_000_000_000, date(2026, 1, 1))
    book.count("ninja", "1", "devices", "2026-03", 6)
    gaps = reconcile_inputs(book.inputs(), PERIOD, 12).gaps
    row = gaps.row(0, named=True)
    assert row["delta_qty"] == -999_999_994
    assert row["monthly_amount_cents"] == -14_999_999_910_000  # −149,999,999,100.00
    assert row["margin_cents"] == 1_000_000_000 * 15000 - 6 * 410
    assert totals(gaps)["over_billed_monthly_cents"] == 14_999_999_910_000


def test_a_product_beyond_64_bit_cents_stops_the_run_instead_of_wrapping() -> None:
    book = PureBook()
    book.product("WS", 10**14)  # the largest amount parse_amount accepts, far above the import bound
    book.mapping("WS", "ninja", "devices")
    book.client("Acme", ninja="1")
    book.contract("Acme", "WS", 0, date(2026, 1, 1))
    book.count("ninja", "1", "devices", "2026-03", 10**9)  # 10^9 × 10^14 cents does not fit Int64
    with pytest.raises(AmountOverflow, match="beyond 64-bit cents"):
        reconcile_inputs(book.inputs(), PERIOD, 12)


QUANTITIES = st.sampled_from([0, 1, 2, MAX_QUANTITY - 1, MAX_QUANTITY])
COUNTS = st.sampled_from([0, 1, MAX_QUANTITY, 3 * MAX_QUANTITY])  # vendors are not bounded by the book
PRICES = st.sampled_from([1, 99, 4500, MAX_PRICE_CENTS - 1, MAX_PRICE_CENTS])


@st.composite
def corners(draw: st.DrawFn) -> dict[str, object]:
    return {
        "price": draw(PRICES),
        "cost": draw(st.one_of(st.none(), PRICES)),
        "contracted": draw(QUANTITIES),
        "override": draw(st.one_of(st.none(), PRICES)),
        "policy": draw(st.sampled_from(["end", "peak", "average"])),
        "prorate": draw(st.booleans()),
        "tolerance_units": draw(st.sampled_from([0, 1, MAX_QUANTITY])),
        "tolerance_bp": draw(st.sampled_from([None, 0, 1, 10_000])),
        # per month: (end, peak, days present); the day sum is end on every present day, plus one unit
        "months": [
            (end, end + draw(st.sampled_from([0, 1, MAX_QUANTITY])), draw(st.sampled_from([1, 7, 28])))
            for end in draw(st.lists(COUNTS, min_size=len(MONTHS), max_size=len(MONTHS)))
        ],
        "back_bill_months": draw(st.sampled_from([0, 1, 12])),
    }


def reference(corner: dict[str, object]) -> list[tuple[int, str, int]]:
    """(monthly amount, status, margin) per month in Decimal, written out from design.md."""
    price = corner["override"] if corner["override"] is not None else corner["price"]
    assert isinstance(price, int)
    contracted = corner["contracted"]
    assert isinstance(contracted, int)
    rows = []
    for end, peak, days in corner["months"]:  # type: ignore[attr-defined]
        day_sum = end * days + 1
        average = Decimal(day_sum) / Decimal(days)
        if corner["prorate"]:
            billable = average
        elif corner["policy"] == "average":
            billable = Decimal(exact_cents(average))
        else:
            billable = Decimal(peak if corner["policy"] == "peak" else end)
        # the engine carries a day average in whole millionths of a unit, rounded half away from zero
        billable = Decimal(exact_cents(billable * 1_000_000)) / 1_000_000
        delta = billable - contracted
        amount = exact_cents(delta * price)
        tolerant = abs(delta) <= corner["tolerance_units"] or (  # type: ignore[operator]
            corner["tolerance_bp"] is not None
            and abs(delta) * 10_000 <= Decimal(corner["tolerance_bp"]) * contracted  # type: ignore[arg-type]
        )
        status = (
            "match"
            if delta == 0
            else "within_tolerance"
            if tolerant
            else "under_billed"
            if delta > 0
            else "over_billed"
        )
        observed_qty = (
            exact_cents(Decimal(day_sum) / days)
            if corner["prorate"] or corner["policy"] == "average"
            else (peak if corner["policy"] == "peak" else end)
        )
        cost = None if corner["cost"] is None else Decimal(corner["cost"]) * observed_qty  # type: ignore[arg-type]
        margin = None if cost is None else int(Decimal(contracted) * price - cost)
        rows.append((amount, status, margin))
    return rows


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(corners())
def test_engine_cents_equal_exact_decimal_arithmetic_at_the_corners(corner: dict[str, object]) -> None:
    book = PureBook()
    book.product(
        "WS",
        corner["price"],  # type: ignore[arg-type]
        policy=corner["policy"],  # type: ignore[arg-type]
        prorate=corner["prorate"],  # type: ignore[arg-type]
        tolerance_units=corner["tolerance_units"],  # type: ignore[arg-type]
        tolerance_bp=corner["tolerance_bp"],  # type: ignore[arg-type]
        unit_cost_cents=corner["cost"],  # type: ignore[arg-type]
    )
    book.mapping("WS", "ninja", "devices")
    book.client("Acme", ninja="1")
    book.contract("Acme", "WS", corner["contracted"], date(2025, 1, 1), None, corner["override"])  # type: ignore[arg-type]
    for month, (end, peak, days) in zip(MONTHS, corner["months"], strict=True):  # type: ignore[call-overload]
        book.count(
            "ninja",
            "1",
            "devices",
            month.strftime("%Y-%m"),
            end,
            peak=peak,
            day_sum=end * days + 1,
            days=days,
        )
    back_bill_months = corner["back_bill_months"]
    assert isinstance(back_bill_months, int)
    gaps = reconcile_inputs(book.inputs(), PERIOD, back_bill_months).gaps
    expected = reference(corner)
    row = gaps.row(0, named=True)
    amount, status, margin = expected[-1]
    assert (row["monthly_amount_cents"], row["status"], row["margin_cents"]) == (amount, status, margin)
    # back-bill: each past under-billed month's own amount, within the look-back, summed exactly
    past = expected[-1 - back_bill_months : -1] if back_bill_months else []
    assert row["back_bill_cents"] == sum(a for a, s, _ in past if s == "under_billed")
    summary = totals(gaps)
    assert summary["margin_cents"] == (margin or 0)
    assert summary["leakage_annual_cents"] == 12 * (amount if status == "under_billed" else 0)
    assert gaps.schema["monthly_amount_cents"] == pl.Int64
