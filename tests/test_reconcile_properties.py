"""Random books against a plain-Python reference: same rows, same cents, totals equal the sum of lines."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconcile.gaps import totals
from reconcile.periods import add_months, month_end, month_index
from reconcile.rounding import MICRO, py_div_round
from reconcile.run import reconcile_inputs, window_start
from tests.reconcile_seed import PureBook

PERIOD = date(2026, 3, 1)
MONTHS = [add_months(PERIOD, -n) for n in range(5, -1, -1)]  # 2025-10 .. 2026-03


@dataclass
class Product:
    code: str
    price: int
    policy: str
    prorate: bool
    tolerance_units: int
    tolerance_bp: int | None
    only_a: bool


@dataclass
class Book:
    products: list[Product]
    clients: int
    excluded_b: list[bool]
    # (client or 0 for the unmapped org, product index, cls, month) -> (end, peak, day_sum, days)
    counts: dict[tuple[int, int, str, date], tuple[int, int, int, int]]
    # (client, product index) -> [(quantity, start, end, price override)]
    contracts: dict[tuple[int, int], list[tuple[int, date, date | None, int | None]]] = field(
        default_factory=dict
    )
    back_bill_months: int = 12


@st.composite
def books(draw: st.DrawFn) -> Book:
    products = [
        Product(
            code=f"P{n}",
            price=draw(st.integers(1, 10_000)),
            policy=draw(st.sampled_from(["end", "peak", "average"])),
            prorate=draw(st.booleans()),
            tolerance_units=draw(st.integers(0, 2)),
            tolerance_bp=draw(st.one_of(st.none(), st.integers(0, 1000))),
            only_a=draw(st.booleans()),
        )
        for n in range(draw(st.integers(1, 3)))
    ]
    clients = draw(st.integers(1, 3))
    counts = {}
    for client in range(clients + 1):
        for p in range(len(products)):
            for cls in ("a", "b"):
                for month in MONTHS:
                    if draw(st.integers(0, 4)) == 0:
                        continue
                    end = draw(st.integers(0, 40))
                    days = draw(st.integers(1, 31))
                    counts[(client, p, cls, month)] = (
                        end,
                        end + draw(st.integers(0, 5)),
                        draw(st.integers(0, 40 * days)),
                        days,
                    )
    book = Book(products, clients, [draw(st.booleans()) for _ in range(clients + 1)], counts)
    for client in range(1, clients + 1):
        for p in range(len(products)):
            lines = []
            starts = sorted(draw(st.sets(st.integers(-8, 200), max_size=2)))
            for start_offset in starts:
                start = date(2025, 9, 1) + timedelta(days=start_offset)
                end = draw(
                    st.one_of(st.none(), st.integers(0, 200).map(lambda d, s=start: s + timedelta(days=d)))
                )
                lines.append(
                    (draw(st.integers(0, 40)), start, end, draw(st.one_of(st.none(), st.integers(1, 9000))))
                )
            book.contracts[(client, p)] = lines
    book.back_bill_months = draw(st.integers(0, 6))
    return book


def build(book: Book) -> PureBook:
    pure = PureBook()
    for product in book.products:
        pure.product(
            product.code,
            product.price,
            policy=product.policy,
            prorate=product.prorate,
            tolerance_units=product.tolerance_units,
            tolerance_bp=product.tolerance_bp,
        )
        if product.only_a:
            pure.mapping(product.code, "s", f"m{product.code}", cls="a")
        else:
            pure.mapping(product.code, "s", f"m{product.code}")
    for client in range(1, book.clients + 1):
        pure.client(f"C{client}", s=f"o{client}")
        if book.excluded_b[client]:
            pure.exclusion(f"C{client}", "s", cls="b")
    for (client, p, cls, month), (end, peak, day_sum, days) in book.counts.items():
        org = f"o{client}" if client else "x"
        pure.count(
            "s",
            org,
            f"m{book.products[p].code}",
            month.strftime("%Y-%m"),
            end,
            peak=peak,
            day_sum=day_sum,
            days=days,
            cls=cls,
        )
    for (client, p), lines in book.contracts.items():
        for quantity, start, end, price in lines:
            pure.contract(f"C{client}", book.products[p].code, quantity, start, end, price)
    return pure


def key_micro(product: Product, end: int, peak: int, day_sum: int, days: int) -> int:
    if product.prorate or product.policy == "average":
        return py_div_round(day_sum * MICRO, days)
    return (peak if product.policy == "peak" else end) * MICRO


def reference(book: Book) -> tuple[set[tuple[object, ...]], set[tuple[object, ...]]]:
    """The rules of design.md written out longhand, month by month."""
    months = [add_months(PERIOD, -n) for n in range(max(book.back_bill_months, 12), -1, -1)]
    ledger: dict[tuple[int, int, date], tuple[int, int, int, int, int, int, int, str]] = {}
    for client in range(1, book.clients + 1):
        for p, product in enumerate(book.products):
            for month in months:
                reported = any(k[0] == client and k[3] == month for k in book.counts)
                observed = excluded = 0
                for cls in ("a", "b"):
                    row = book.counts.get((client, p, cls, month))
                    if row is None or (product.only_a and cls != "a"):
                        continue
                    micro = key_micro(product, *row)
                    observed += micro
                    if book.excluded_b[client] and cls == "b":
                        excluded += micro
                last = month_end(month)
                lines = [
                    ln
                    for ln in book.contracts.get((client, p), [])
                    if ln[1] <= last and (ln[2] is None or ln[2] >= last)
                ]
                has_contract = bool(lines)
                if not (has_contract and reported) and not (not has_contract and observed > excluded):
                    continue
                billed = sum(ln[0] for ln in lines)
                overrides = [ln for ln in sorted(lines, key=lambda ln: ln[1]) if ln[3] is not None]
                price = overrides[-1][3] if overrides else product.price
                observed_qty, excluded_qty = py_div_round(observed, MICRO), py_div_round(excluded, MICRO)
                billable_qty = observed_qty - excluded_qty
                billable_micro = observed - excluded if product.prorate else billable_qty * MICRO
                delta_micro = billable_micro - billed * MICRO
                amount = py_div_round(delta_micro * price, MICRO)
                tolerant = abs(delta_micro) <= product.tolerance_units * MICRO or (
                    product.tolerance_bp is not None
                    and abs(delta_micro) * 10_000 <= product.tolerance_bp * billed * MICRO
                )
                if not has_contract:
                    status = "no_contract"
                elif delta_micro == 0:
                    status = "match"
                elif tolerant:
                    status = "within_tolerance"
                else:
                    status = "under_billed" if delta_micro > 0 else "over_billed"
                ledger[(client, p, month)] = (
                    billed,
                    observed_qty,
                    excluded_qty,
                    billable_qty,
                    billable_qty - billed,
                    price,
                    amount,
                    status,
                )

    def kind(status: str) -> str | None:
        return (
            "under"
            if status in ("under_billed", "no_contract")
            else "over"
            if status == "over_billed"
            else None
        )

    rows = set()
    for (client, p, month), line in ledger.items():
        if month != PERIOD:
            continue
        current = kind(line[7])
        since, back = None, 0
        if current:
            while (client, p, add_months(PERIOD, -back)) in ledger and kind(
                ledger[(client, p, add_months(PERIOD, -back))][7]
            ) == current:
                since = add_months(PERIOD, -back).strftime("%Y-%m")
                back += 1
        back_bill = sum(
            ledger[(client, p, add_months(PERIOD, -back))][6]
            for back in range(1, book.back_bill_months + 1)
            if (client, p, add_months(PERIOD, -back)) in ledger
            and kind(ledger[(client, p, add_months(PERIOD, -back))][7]) == "under"
        )
        rows.add((client, p + 1, *line, since, back_bill))
    unmapped = set()
    for p, product in enumerate(book.products):
        observed = sum(
            key_micro(product, *row)
            for (client, q, cls, month), row in book.counts.items()
            if client == 0 and q == p and month == PERIOD and (cls == "a" or not product.only_a)
        )
        if py_div_round(observed, MICRO) > 0:
            unmapped.add(
                (p + 1, py_div_round(observed, MICRO), py_div_round(observed, MICRO) * product.price)
            )
    return rows, unmapped


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(books())
def test_engine_matches_the_reference(book: Book) -> None:
    assert window_start(PERIOD, book.back_bill_months) <= MONTHS[0]
    assert month_index(MONTHS[-1]) == month_index(PERIOD)
    gaps = reconcile_inputs(build(book).inputs(), PERIOD, book.back_bill_months).gaps
    mapped = gaps.filter(pl.col("client_id").is_not_null())
    got = set(
        mapped.select(
            "client_id",
            "product_id",
            "billed_qty",
            "observed_qty",
            "excluded_qty",
            "billable_qty",
            "delta_qty",
            "unit_price_cents",
            "monthly_amount_cents",
            "status",
            "since",
            "back_bill_cents",
        ).rows()
    )
    expected_rows, expected_unmapped = reference(book)
    assert got == expected_rows
    assert mapped.height == len(expected_rows)  # no duplicate lines
    orphans = gaps.filter(pl.col("status") == "unmapped")
    assert (
        set(orphans.select("product_id", "observed_qty", "monthly_amount_cents").rows()) == expected_unmapped
    )
    summary = totals(gaps)
    under = [r for r in expected_rows if r[9] in ("under_billed", "no_contract")]
    assert summary["leakage_monthly_cents"] == sum(r[8] for r in under)
    assert summary["over_billed_monthly_cents"] == -sum(r[8] for r in expected_rows if r[9] == "over_billed")
    assert summary["back_bill_cents"] == sum(r[11] for r in expected_rows)
    assert (
        summary["gaps"]
        == gaps.height
        == sum(
            summary[s]
            for s in ("under_billed", "over_billed", "match", "within_tolerance", "no_contract", "unmapped")
        )
    )
