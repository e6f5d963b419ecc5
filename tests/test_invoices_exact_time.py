"""Time is billed from exact hours and exact rates, rounded once per line: three 0.3333333 h entries at
$150 bill $150.00 (not $148.50), and 3 h at 123.455 bill 370.37 (not 3 × 123.46 = 370.38) — in the
reconciliation, on the draft, and on the invoice each accounting fake records over its socket."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import polars as pl
from sqlalchemy import Engine, select

from mcc import invoicing
from mcc.config import Config
from mcc.money import round_cents
from reconcile.schemas import CLIENTS, HOUR_BLOCKS, TIME_ENTRIES, frame
from reconcile.time import unbilled_time
from store.db import reading, transaction
from store.frames import time_frames
from store.models import Client, InvoiceLine, TimeEntry
from tests.invoicebook import APPROVER, BETA_TOTAL, INVOICER, PERIOD, seed
from tests.test_accounting_writers import config, fake, vendor  # noqa: F401  (fixtures)

THIRDS = 3 * 5000  # each 0.3333333 h × $150 = $49.999995 → $50.00
ODD_RATE = 37037  # 3 h × 123.455 = 370.365 → 370.37
EXACT_TIME = THIRDS + ODD_RATE


def add_time(engine: Engine) -> None:
    approved = datetime(2026, 3, 28, tzinfo=UTC)
    with transaction(engine) as session:
        beta = session.scalars(select(Client).where(Client.name == "Beta Law")).one()
        common = dict(source="ebillity", client_id=beta.id, person="Lee Wong", billable=True)
        for number in range(3):
            session.add(
                TimeEntry(
                    **common,
                    external_id=f"third-{number}",
                    day=date(2026, 3, 2 + number),
                    hours=Decimal("0.3333333"),
                    rate_cents=15000,
                    rate=Decimal("150"),
                    approved_by="alex",
                    approved_at=approved,
                )
            )
        session.add(
            TimeEntry(
                **common,
                external_id="odd-rate",
                day=date(2026, 3, 20),
                hours=Decimal("3"),
                rate_cents=12346,  # the rate in whole cents, for display
                rate=Decimal("123.455"),
                approved_by="alex",
                approved_at=approved,
            )
        )


def test_exact_time_through_reconciliation_draft_and_push(engine: Engine, fake, config: Config) -> None:  # noqa: F811
    seed(engine)
    add_time(engine)
    with reading(engine) as session:
        frames = time_frames(session, date(2026, 3, 31))
        clients = pl.DataFrame(
            session.execute(select(Client.id, Client.name)).all(), schema=CLIENTS, orient="row"
        )
    unbilled = unbilled_time(frames["entries"], frames["blocks"], clients, date(2026, 3, 31), 15000)
    beta = unbilled.filter(pl.col("client") == "Beta Law").row(0, named=True)
    assert (beta["unbilled_cents"], beta["billable_cents"]) == (EXACT_TIME, EXACT_TIME)
    assert beta["unbilled_hours_x100"] == 400  # 3.9999999 h shown as 4.00, summed exactly first

    drafts = invoicing.build_drafts(engine, config, APPROVER, PERIOD)
    with reading(engine) as session:
        lines = session.scalars(
            select(InvoiceLine).where(InvoiceLine.kind == "time").order_by(InvoiceLine.position)
        ).all()
        time_lines = [
            (ln.quantity, ln.unit_price_cents, ln.amount_cents)
            for ln in lines
            if "0.3333333 h" in ln.description or "123.455" in ln.description
        ]
        odd = next(ln.description for ln in lines if "123.455" in ln.description)
    assert time_lines == [
        (Decimal("0.3333333"), 15000, 5000),
        (Decimal("0.3333333"), 15000, 5000),
        (Decimal("0.3333333"), 15000, 5000),
        # a rate in fractions of a cent is no unit price: one unit at the exact amount, hours and rate shown
        (Decimal("1"), ODD_RATE, ODD_RATE),
    ]
    assert "3 h @ 123.455" in odd

    for invoice in drafts:
        invoicing.approve(engine, INVOICER, invoice.id)
    assert {r.status for r in invoicing.push(engine, config, INVOICER, period=PERIOD)} == {"pushed"}
    assert fake.totals()["59"] == BETA_TOTAL + EXACT_TIME


def test_unbilled_time_rounds_once_per_entry_from_exact_hours_and_rates() -> None:
    """The pure engine on its own: hours in billionths, rates in hundredths of a cent, one rounding."""
    day = date(2026, 3, 2)
    rows = [(n, 1, day, 33, 15000, True, False, False) for n in (1, 2, 3)] + [
        (4, 1, day, 300, 12346, True, False, False)
    ]
    entries = frame(rows, TIME_ENTRIES).with_columns(
        hours_e9=pl.Series([333_333_300, 333_333_300, 333_333_300, 3_000_000_000]),
        rate_e4=pl.Series([1_500_000, 1_500_000, 1_500_000, 1_234_550]),
    )
    clients = frame([(1, "Beta Law")], CLIENTS)
    result = unbilled_time(entries, frame([], HOUR_BLOCKS), clients, date(2026, 3, 31))
    row = result.row(0, named=True)
    assert (row["unbilled_cents"], row["billable_cents"], row["unbilled_hours_x100"]) == (
        EXACT_TIME,
        EXACT_TIME,
        400,
    )
    # a block of one hour covers the three thirds and 0.0000001 h of the next entry, exactly
    block = frame([(1, 100, date(2026, 3, 1), None)], HOUR_BLOCKS)
    covered = unbilled_time(entries, block, clients, date(2026, 3, 31)).row(0, named=True)
    assert covered["billable_cents"] == round_cents(Decimal("2.9999999") * Decimal("123.455") * 100)
