"""A small book for the invoice tests: two clients, products, contracts, a back-bill decision, time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import Engine

from mcc.permissions import Actor
from store.db import transaction
from store.models import Client, Contract, Decision, Product, TimeEntry

PERIOD = "2026-03"
INVOICER = Actor("ines", frozenset({"invoicer"}))
APPROVER = Actor("alex", frozenset({"approver"}))
VIEWER = Actor("val", frozenset({"viewer"}))


@dataclass
class Book:
    acme: int
    beta: int
    ws: int
    m365: int
    labour: int
    decision: int
    time_entries: list[int]


def seed(
    engine: Engine, *, acme_accounting_id: str | None = "58", beta_accounting_id: str | None = "59"
) -> Book:
    approved = datetime(2026, 3, 28, tzinfo=UTC)
    with transaction(engine) as session:
        acme = Client(name="Acme Dental", accounting_id=acme_accounting_id)
        beta = Client(name="Beta Law", accounting_id=beta_accounting_id)
        ws = Product(code="WS", name="Managed workstation", unit_price_cents=4500)
        m365 = Product(code="M365-BP", name="Microsoft 365 Business Premium", unit_price_cents=2200)
        labour = Product(code="LABOR", name="Technician time", unit_price_cents=15000, category="time")
        session.add_all([acme, beta, ws, m365, labour])
        session.flush()
        session.add_all(
            [
                # Acme: 680 workstations closed on Feb 28 and bumped to 712 from Mar 1.
                Contract(
                    client_id=acme.id,
                    product_id=ws.id,
                    quantity=680,
                    start=date(2025, 1, 1),
                    end=date(2026, 2, 28),
                ),
                Contract(client_id=acme.id, product_id=ws.id, quantity=712, start=date(2026, 3, 1)),
                Contract(
                    client_id=acme.id,
                    product_id=m365.id,
                    quantity=40,
                    unit_price_cents=2050,
                    start=date(2025, 6, 1),
                ),
                Contract(client_id=beta.id, product_id=ws.id, quantity=12, start=date(2025, 1, 1)),
                # ended before the period: not billed
                Contract(
                    client_id=beta.id,
                    product_id=m365.id,
                    quantity=5,
                    start=date(2025, 1, 1),
                    end=date(2026, 1, 31),
                ),
            ]
        )
        decision = Decision(
            client_id=acme.id,
            product_id=ws.id,
            period=PERIOD,
            action="back_bill",
            quantity=32,
            amount_cents=144000,
            back_bill_cents=432000,
            note="agreed with Dr. Acme",
            author="alex",
            gap={"delta_qty": 32, "back_bill_months": 3, "back_bill_cents": "4320.00"},
        )
        session.add(decision)
        # a write-off on Beta that must not appear
        session.add(
            Decision(client_id=beta.id, product_id=ws.id, period=PERIOD, action="write_off", author="alex")
        )
        entries = [
            TimeEntry(
                source="native",
                external_id="t1",
                client_id=acme.id,
                day=date(2026, 3, 4),
                person="Dana Smith",
                hours=Decimal("1.5"),
                rate_cents=15000,
                billable=True,
                note="printer VLAN",
                approved_by="alex",
                approved_at=approved,
            ),
            TimeEntry(
                source="native",
                external_id="t2",
                client_id=acme.id,
                day=date(2026, 3, 9),
                person="Lee Wong",
                hours=Decimal("0.333"),
                rate_cents=None,
                billable=True,
                note="",
                approved_by="alex",
                approved_at=approved,
            ),
            # not approved, not billable, written off, next period: none of these are billed
            TimeEntry(
                source="native",
                external_id="t3",
                client_id=acme.id,
                day=date(2026, 3, 10),
                person="Dana Smith",
                hours=Decimal("2"),
                rate_cents=15000,
                billable=True,
            ),
            TimeEntry(
                source="native",
                external_id="t4",
                client_id=acme.id,
                day=date(2026, 3, 11),
                person="Dana Smith",
                hours=Decimal("2"),
                rate_cents=15000,
                billable=False,
                approved_by="alex",
                approved_at=approved,
            ),
            TimeEntry(
                source="native",
                external_id="t5",
                client_id=acme.id,
                day=date(2026, 3, 12),
                person="Dana Smith",
                hours=Decimal("2"),
                rate_cents=15000,
                billable=True,
                approved_by="alex",
                approved_at=approved,
                written_off_by="alex",
                written_off_at=approved,
            ),
            TimeEntry(
                source="native",
                external_id="t6",
                client_id=acme.id,
                day=date(2026, 4, 2),
                person="Dana Smith",
                hours=Decimal("1"),
                rate_cents=15000,
                billable=True,
                approved_by="alex",
                approved_at=approved,
            ),
        ]
        session.add_all(entries)
        session.flush()
        return Book(acme.id, beta.id, ws.id, m365.id, labour.id, decision.id, [entries[0].id, entries[1].id])


# What the book above must invoice for 2026-03, to the cent.
ACME_EXPECTED = {
    "M365-BP": 40 * 2050,  # 82000
    "WS": 712 * 4500,  # 3204000
    "back_bill": 432000,
    "time": 22500 + 4995,  # 1.5 h × 150.00 and 0.333 h × 150.00 = 49.95
}
ACME_TOTAL = sum(ACME_EXPECTED.values())
BETA_TOTAL = 12 * 4500
