"""End to end: reconcile → decide (bump + back-bill) → draft → approve → push to the QuickBooks fake;
the amounts in the fake equal the reconciliation's to the cent."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest
from sqlalchemy import update

from mcc import invoicing
from mcc.permissions import Actor
from mcc.reconciliation import reconcile_period
from mcc.review import decide
from sandbox.quickbooks import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_REFRESH_TOKEN, QuickBooksFake
from store.db import transaction
from store.models import Client
from tests.reconcile_seed import DbBook

APPROVER = Actor("alice", frozenset({"approver"}))
INVOICER = Actor("ines", frozenset({"invoicer"}))
TODAY = date(2026, 3, 20)


@pytest.fixture
def fake():
    fake = QuickBooksFake(customers={"58": "Acme Dental", "61": "Birch Law"})
    fake.seed({}, ["WS", "M365"])
    fake.start()
    yield fake
    fake.stop()


def test_pushed_amounts_equal_the_reconciliation(engine, fake, write_config, monkeypatch) -> None:
    monkeypatch.setenv("MCC_QUICKBOOKS_CLIENT_ID", DEFAULT_CLIENT_ID)
    monkeypatch.setenv("MCC_QUICKBOOKS_CLIENT_SECRET", DEFAULT_CLIENT_SECRET)
    monkeypatch.setenv("MCC_QUICKBOOKS_REFRESH_TOKEN", DEFAULT_REFRESH_TOKEN)
    monkeypatch.setenv("MCC_SECRET_KEY", "test-secret-key-for-the-vault-0123456789")
    config = write_config(
        f'[accounting]\nkind = "quickbooks"\nbase_url = "{fake.url}"\nauth_url = "{fake.url}"\n'
        f'realm_id = "{fake.realm_id}"\n'
    )
    book = DbBook(engine)
    book.product("WS", 4500)
    book.product("M365", 2200, category="identity")
    book.mapping("WS", "ninja", "devices")
    book.mapping("M365", "m365", "users")
    book.client("Acme Dental", ninja="12", m365="t-acme")
    book.client("Birch Law", ninja="13")
    book.contract("Acme Dental", "WS", 680, date(2025, 1, 1), unit_price_cents=4500)
    book.contract("Acme Dental", "M365", 40, date(2025, 1, 1))
    book.contract("Birch Law", "WS", 10, date(2025, 1, 1))
    book.months("ninja", "12", "devices", {"2026-01": 690, "2026-02": 700, "2026-03": 712})
    book.months("ninja", "13", "devices", {"2026-03": 13})
    book.count("m365", "t-acme", "users", "2026-03", 40)
    with transaction(engine) as session:
        session.execute(update(Client).where(Client.name == "Acme Dental").values(accounting_id="58"))
        session.execute(update(Client).where(Client.name == "Birch Law").values(accounting_id="61"))

    acme = book.clients["Acme Dental"]
    before = reconcile_period(engine, config, "2026-03", today=TODAY).gaps
    acme_ws = before.filter((pl.col("client_id") == acme) & (pl.col("product_code") == "WS")).row(
        0, named=True
    )
    back_bill = decide(
        engine,
        APPROVER,
        client_id=acme,
        product_code="WS",
        period="2026-03",
        action="back_bill",
        config=config,
    )
    decide(
        engine,
        APPROVER,
        client_id=acme,
        product_code="WS",
        period="2026-03",
        action="bump",
        quantity=712,
        effective_date=date(2026, 3, 1),
        config=config,
    )
    assert back_bill.back_bill_cents == acme_ws["back_bill_cents"] == (10 + 20) * 4500

    drafts = invoicing.build_drafts(engine, config, APPROVER, "2026-03")
    for invoice in drafts:
        invoicing.approve(engine, INVOICER, invoice.id)
    assert [r.status for r in invoicing.push(engine, config, INVOICER, period="2026-03")] == [
        "pushed",
        "pushed",
    ]

    after = reconcile_period(engine, config, "2026-03", today=TODAY).gaps
    recurring = (
        after.filter(pl.col("billed_qty") > 0)
        .group_by("client_id")
        .agg((pl.col("billed_qty") * pl.col("unit_price_cents")).sum().alias("cents"))
    )
    expected = {row["client_id"]: row["cents"] for row in recurring.iter_rows(named=True)}
    expected[acme] += back_bill.back_bill_cents
    by_customer = {"58": book.clients["Acme Dental"], "61": book.clients["Birch Law"]}
    assert {by_customer[k]: v for k, v in fake.totals().items()} == expected
    assert expected[acme] == 712 * 4500 + 40 * 2200 + 30 * 4500
    descriptions = [line.get("Description") for line in fake.invoices[0]["Line"]]
    assert "Back-bill WS product, under-billed Jan 2026 – Feb 2026 (2 months)" in descriptions
