"""What goes on a client's draft invoice for a period, read from the store: recurring lines at the
contracted (after a bump: corrected) quantity, one-time back-bill lines from approved back-bill
decisions, and approved, uninvoiced, billable time. Amounts are exact cents, rounded once per line."""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import polars as pl
from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session, aliased

from mcc.errors import MccError
from mcc.money import HOUR_PLACES, RATE_PLACES, round_cents, to_decimal, to_str, trimmed
from reconcile.periods import add_months, month_end, period_of
from reconcile.periods import parse_period as parse_month
from store.models import Client, Contract, Decision, Invoice, InvoiceLine, Product, TimeEntry

TIME_CATEGORIES = ("time", "labor", "labour")
TIME_CODES = ("TIME", "LABOR", "LABOUR")
WITHDRAWS_BACK_BILL = ("write_off", "defer")


def _standing() -> ColumnElement[bool]:
    """Decisions that still stand: not an undo, and not reversed by one (both stand for nothing)."""
    undo = aliased(Decision)
    reversed_ids = select(undo.reverses_decision_id).where(undo.reverses_decision_id.is_not(None))
    return Decision.reverses_decision_id.is_(None) & Decision.id.not_in(reversed_ids)


@dataclass(frozen=True)
class PlannedLine:
    kind: str
    item_code: str
    description: str
    quantity: Decimal
    unit_price_cents: int
    amount_cents: int
    product_id: int | None = None
    decision_id: int | None = None
    time_entry_id: int | None = None
    note: str | None = None

    def as_model(self, position: int) -> InvoiceLine:
        return InvoiceLine(
            position=position,
            kind=self.kind,
            item_code=self.item_code,
            description=self.description,
            quantity=self.quantity,
            unit_price_cents=self.unit_price_cents,
            amount_cents=self.amount_cents,
            product_id=self.product_id,
            decision_id=self.decision_id,
            time_entry_id=self.time_entry_id,
            note=self.note,
        )


@dataclass
class DraftPlan:
    lines: list[PlannedLine] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)

    @property
    def total_cents(self) -> int:
        return sum(line.amount_cents for line in self.lines)


def parse_period(period: str) -> tuple[date, date]:
    """'2026-03' -> (2026-03-01, 2026-03-31). Exactly that spelling: the text is stored as the invoice's
    period, so ' 2026-3' or '+202-03' must not pass as a month no reconciliation would ever match."""
    try:
        first = parse_month(period)
    except (ValueError, AttributeError):
        first = None
    if first is None or period_of(first) != period:
        raise MccError(f"period must look like YYYY-MM (e.g. 2026-03), got {period!r}")
    return first, month_end(first)


def shift_month(period: str, months: int) -> str:
    return period_of(add_months(parse_month(period), months))


def month_label(period: str) -> str:
    year, month = (int(part) for part in period.split("-"))
    return f"{calendar.month_abbr[month]} {year}"


def back_bill_months(gap: dict[str, Any], period: str) -> list[str]:
    """The months a back-bill covers: a list in the gap, or a count of months before the period."""
    value = gap.get("back_bill_months")
    if isinstance(value, list) and value:
        return sorted(str(month)[:7] for month in value)
    if isinstance(value, int | str) and str(value).isdigit() and int(value) > 0:
        # The recurring line already bills this period at the corrected quantity, so a count covers
        # the months before it.
        count = int(value)
        return [shift_month(period, -offset) for offset in range(count, 0, -1)]
    since = gap.get("since")
    if isinstance(since, str) and len(since) >= 7 and since[:7] < period:
        months = []
        month = since[:7]
        while month < period:
            months.append(month)
            month = shift_month(month, 1)
        return months
    return []


def months_text(months: list[str]) -> str:
    if not months:
        return "earlier months"
    if len(months) == 1:
        return month_label(months[0])
    contiguous = all(shift_month(a, 1) == b for a, b in zip(months, months[1:], strict=False))
    if contiguous:
        return f"{month_label(months[0])} – {month_label(months[-1])} ({len(months)} months)"
    return ", ".join(month_label(m) for m in months)


def time_product(session: Session) -> Product | None:
    products = session.scalars(select(Product).order_by(Product.id)).all()
    for product in products:
        if (product.category or "").lower() in TIME_CATEGORIES:
            return product
    for product in products:
        if product.code.upper() in TIME_CODES:
            return product
    return None


def block_hours_covered(session: Session, client_id: int, last: date) -> dict[int, Decimal]:
    """Hours of each of the client's entries that a prepaid hour block pays for (the same allocation the
    reconciliation uses, so draft totals and unbilled time agree to the cent)."""
    from reconcile.time import HOUR_SCALE, block_coverage
    from store.frames import time_frames

    frames = time_frames(session, last)
    coverage = block_coverage(
        frames["entries"].filter(pl.col("client_id") == client_id),
        frames["blocks"].filter(pl.col("client_id") == client_id),
        last,
    )
    return {
        int(entry_id): trimmed(Decimal(billionths) / HOUR_SCALE, HOUR_PLACES)
        for entry_id, billionths in coverage.select("entry_id", "covered_hours_e9").iter_rows()
        if billionths
    }


def entry_rate(entry: TimeEntry, labour: Product | None) -> Decimal:
    """The entry's exact hourly rate in currency units: what its source gave, else the time product's."""
    if entry.rate is not None:
        return trimmed(Decimal(entry.rate), RATE_PLACES)
    cents = entry.rate_cents if entry.rate_cents is not None else (labour.unit_price_cents if labour else 0)
    return to_decimal(cents)


def time_line_figures(hours: Decimal, rate: Decimal) -> tuple[Decimal, int, int]:
    """(quantity, unit price in cents, amount in cents) of a time line: exact hours × exact rate, rounded
    once, half away from zero. A rate in fractions of a cent cannot be a unit price without rounding it
    first, so such a line is one unit at its exact amount (hours and rate stay in the description)."""
    amount = round_cents(hours * rate * 100)
    cents = rate * 100
    if cents == cents.to_integral_value():
        return hours, int(cents), amount
    return Decimal(1), amount, amount


def _add_back_bill(
    plan: DraftPlan, product: Product, decision: Decision, period: str, *, carried: bool = False
) -> None:
    amount = decision.back_bill_cents
    if amount is None and decision.gap.get("back_bill_cents") is not None:
        amount = int(decision.gap["back_bill_cents"])
    if not amount:
        return
    description = (
        f"Back-bill {product.name}, under-billed {months_text(back_bill_months(decision.gap, period))}"
    )
    if carried:
        description += f" (decided after the {month_label(period)} invoice)"
    plan.lines.append(
        PlannedLine(
            kind="back_bill",
            item_code=product.code,
            description=description,
            quantity=Decimal(1),
            unit_price_cents=amount,
            amount_cents=amount,
            product_id=product.id,
            decision_id=decision.id,
            note=decision.note or None,
        )
    )


def carried_back_bills(session: Session, client_id: int, period: str, draft_id: int | None) -> list[Decision]:
    """Back-bills decided for an earlier month after that month's invoice was pushed: a pushed invoice
    never changes, so they go on the next one — unless that gap's back-bill is already on an invoice
    (this draft aside), or a later write-off or deferral withdrew it."""
    settled = set(
        session.scalars(
            select(Invoice.period).where(
                Invoice.client_id == client_id,
                Invoice.period < period,
                Invoice.status.in_(("pushing", "pushed")),
            )
        )
    )
    if not settled:
        return []
    on_invoices = (
        select(InvoiceLine.decision_id)
        .join(Invoice)
        .where(
            InvoiceLine.kind == "back_bill", InvoiceLine.decision_id.is_not(None), Invoice.status != "void"
        )
    )
    if draft_id is not None:
        on_invoices = on_invoices.where(Invoice.id != draft_id)
    billed = set(session.scalars(on_invoices))
    newest: dict[tuple[str, int | None], Decision] = {}
    billed_gaps: set[tuple[str, int | None]] = set()
    for decision in session.scalars(
        select(Decision)
        .where(Decision.client_id == client_id, Decision.period.in_(settled), _standing())
        .order_by(Decision.id)
    ):
        gap = (decision.period, decision.product_id)
        if decision.id in billed:
            billed_gaps.add(gap)
        if decision.action == "back_bill":
            newest[gap] = decision
        elif decision.action in WITHDRAWS_BACK_BILL:
            newest.pop(gap, None)
    return sorted(
        (d for gap, d in newest.items() if gap not in billed_gaps and d.product_id is not None),
        key=lambda d: d.id,
    )


def plan_draft(session: Session, client: Client, period: str, *, draft_id: int | None = None) -> DraftPlan:
    _, last = parse_period(period)
    plan = DraftPlan()
    if not (client.accounting_id or "").strip():
        plan.blocked.append(
            f"client {client.name!r} has no accounting_id: set it in the book (the customer id in the "
            "accounting system) to invoice this client"
        )
    products = {p.id: p for p in session.scalars(select(Product))}

    # Recurring: the contract line in force on the last day of the period, per product.
    in_force: dict[int, Contract] = {}
    contracts = session.scalars(
        select(Contract)
        .where(Contract.client_id == client.id, Contract.start <= last)
        .order_by(Contract.product_id, Contract.start, Contract.id)
    )
    for contract in contracts:
        if contract.end is None or contract.end >= last:
            in_force[contract.product_id] = contract
    decisions = session.scalars(
        select(Decision)
        .where(Decision.client_id == client.id, Decision.period == period, _standing())
        .order_by(Decision.id)
    ).all()
    # Append-only: per gap, the newest bump annotates the recurring line, and the newest back-bill is
    # billed unless a later write-off or deferral on the same gap withdrew it.
    bumps: dict[int | None, Decision] = {}
    back_bills: dict[int | None, Decision] = {}
    for decision in decisions:
        if decision.action == "bump":
            bumps[decision.product_id] = decision
        elif decision.action == "back_bill":
            back_bills[decision.product_id] = decision
        elif decision.action in WITHDRAWS_BACK_BILL:
            back_bills.pop(decision.product_id, None)
    for product_id, contract in sorted(in_force.items(), key=lambda item: products[item[0]].code):
        product = products[product_id]
        if contract.quantity <= 0:
            continue
        price = (
            contract.unit_price_cents if contract.unit_price_cents is not None else product.unit_price_cents
        )
        bump = bumps.get(product_id)
        note = None
        if bump is not None:
            note = f"quantity corrected to {contract.quantity} ({bump.author})" + (
                f": {bump.note}" if bump.note else ""
            )
        plan.lines.append(
            PlannedLine(
                kind="recurring",
                item_code=product.code,
                description=f"{product.name}, {month_label(period)}: {contract.quantity} × {to_str(price)}",
                quantity=Decimal(contract.quantity),
                unit_price_cents=price,
                amount_cents=contract.quantity * price,
                product_id=product_id,
                decision_id=bump.id if bump is not None else None,
                note=note,
            )
        )

    # One-time back-bills: this month's, then those decided for an earlier month after its invoice went out.
    for decided_product, decision in sorted(back_bills.items(), key=lambda item: item[1].id):
        if decided_product is not None:
            _add_back_bill(plan, products[decided_product], decision, decision.period)
    for decision in carried_back_bills(session, client.id, period, draft_id):
        assert decision.product_id is not None
        _add_back_bill(plan, products[decision.product_id], decision, decision.period, carried=True)

    # Time: approved, billable, not written off, not invoiced, not on another open invoice.
    taken = (
        select(InvoiceLine.time_entry_id)
        .join(Invoice)
        .where(InvoiceLine.time_entry_id.is_not(None), Invoice.status != "void")
    )
    if draft_id is not None:
        taken = taken.where(Invoice.id != draft_id)
    entries = session.scalars(
        select(TimeEntry)
        .where(
            TimeEntry.client_id == client.id,
            TimeEntry.billable.is_(True),
            TimeEntry.approved_at.is_not(None),
            TimeEntry.written_off_at.is_(None),
            TimeEntry.invoice_id.is_(None),
            TimeEntry.vendor_invoiced.is_(False),
            TimeEntry.day <= last,
            TimeEntry.id.not_in(taken),
        )
        .order_by(TimeEntry.day, TimeEntry.person, TimeEntry.id)
    ).all()
    if entries:
        labour = time_product(session)
        if labour is None:
            plan.blocked.append(
                'no product for billable time: add a product with category = "time" (its code is the '
                "accounting item for labour) to invoice time entries"
            )
        covered = block_hours_covered(session, client.id, last)
        for entry in entries:
            rate = entry_rate(entry, labour)
            prepaid = covered.get(entry.id, Decimal(0))
            billed = trimmed(Decimal(entry.hours) - prepaid, HOUR_PLACES)
            quantity, unit_price_cents, amount_cents = time_line_figures(billed, rate)
            cents = rate * 100
            shown_rate = to_str(int(cents)) if cents == cents.to_integral_value() else str(rate)
            description = f"{entry.day.isoformat()} · {entry.person} · {entry.hours} h @ {shown_rate}"
            if prepaid:
                description += f" ({prepaid} h from the prepaid block)"
            if entry.note:
                description += f" — {entry.note}"
            plan.lines.append(
                PlannedLine(
                    kind="time",
                    item_code=labour.code if labour else "",
                    description=description,
                    quantity=quantity,
                    unit_price_cents=unit_price_cents,
                    amount_cents=amount_cents,
                    product_id=labour.id if labour else None,
                    time_entry_id=entry.id,
                )
            )
    return plan
