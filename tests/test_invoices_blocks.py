"""Prepaid hour blocks on draft invoices: hours the block pays for are shown, not billed again."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import Engine

from mcc import invoicing
from mcc.config import Config
from store.db import transaction
from store.models import HourBlock
from tests.invoicebook import APPROVER, PERIOD, seed


def test_time_inside_a_prepaid_block_is_billed_only_past_the_block(engine: Engine) -> None:
    book = seed(engine)
    with transaction(engine) as session:
        session.add(HourBlock(client_id=book.acme, hours=Decimal("1"), start=date(2026, 3, 1), end=None))
    drafts = invoicing.build_drafts(engine, Config(), APPROVER, PERIOD, client_id=book.acme)
    invoice = invoicing.get_invoice(engine, drafts[0].id)
    time_lines = [line for line in invoice.lines if line.kind == "time"]
    # 1.5 h on Mar 4: the block's 1 h pays for two thirds, 0.5 h is billed; 0.333 h on Mar 9 is all billed
    assert [(line.quantity, line.amount_cents) for line in time_lines] == [
        (Decimal("0.5"), 7500),
        (Decimal("0.333"), 4995),
    ]
    assert "(1 h from the prepaid block)" in time_lines[0].description
    assert invoice.total_cents == sum(line.amount_cents for line in invoice.lines)
