"""What is checked before and after each push, for every HTTP writer over real sockets: the currency is
sent and must be the customer's; every line's quantity × rate = amount; prices are sent as tax-exclusive;
the total the accounting system computed is compared with ours and any difference is kept, visibly."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from mcc import invoicing
from mcc.config import Config
from sandbox.server import Fake
from store.db import reading
from store.models import Invoice, OutboxEntry
from tests.invoicebook import ACME_TOTAL, APPROVER, BETA_TOTAL, INVOICER, PERIOD, seed
from tests.test_accounting_writers import VENDORS, Vendor


@pytest.fixture(params=VENDORS, ids=[v.kind for v in VENDORS])
def vendor(request) -> Vendor:
    return request.param


@pytest.fixture
def fake(vendor: Vendor):
    fake = vendor.make()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def config(vendor: Vendor, fake: Fake, write_config, monkeypatch) -> Config:
    for key, value in vendor.env.items():
        monkeypatch.setenv(f"MCC_{vendor.kind.upper()}_{key}", value)
    monkeypatch.setenv("MCC_SECRET_KEY", "test-secret-key-for-the-vault-0123456789")
    return write_config(
        f'[accounting]\nbase_url = "{fake.url}"\nauth_url = "{fake.url}"\n' + vendor.toml(fake)
    )


def approve_all(engine, config: Config) -> None:
    for invoice in invoicing.build_drafts(engine, config, APPROVER, PERIOD):
        invoicing.approve(engine, INVOICER, invoice.id)


def set_currency(vendor: Vendor, fake, customer: str, currency: str) -> None:
    if vendor.kind == "quickbooks":
        fake.customers[customer]["CurrencyRef"] = {"value": currency}
    else:
        fake.currencies[customer] = currency


def sent_bodies(vendor: Vendor, fake) -> list[dict]:
    return [
        json.loads(r.body)
        for r in fake.requests
        if r.path == vendor.path(fake) and r.method in ("POST", "PUT")
    ]


def currency_sent(vendor: Vendor, body: dict) -> str:
    if vendor.kind == "quickbooks":
        return body["CurrencyRef"]["value"]
    if vendor.kind == "xero":
        return body["Invoices"][0]["CurrencyCode"]
    return body["sales_invoice"]["currency_id"]


def test_the_currency_is_sent_and_one_the_customer_is_not_billed_in_is_refused(
    engine, vendor, fake, config
) -> None:
    seed(engine)
    approve_all(engine, config)
    set_currency(vendor, fake, "58", "EUR")
    results = {r.client: r for r in invoicing.push(engine, config, INVOICER, period=PERIOD)}
    acme, beta = results["Acme Dental"], results["Beta Law"]
    assert beta.status == "pushed" and fake.totals() == {"59": BETA_TOTAL}
    assert acme.status == "failed"
    assert "58" in (acme.message or "") and "is billed in EUR, but MCC invoice" in (acme.message or "")
    assert "for Acme Dental is in USD; nothing was sent" in (acme.message or "")
    assert [currency_sent(vendor, body) for body in sent_bodies(vendor, fake)] == ["USD"]
    with reading(engine) as session:
        invoice = session.scalars(select(Invoice).where(Invoice.client_id == 1)).one()
        assert (invoice.status, invoice.last_error) == ("failed", acme.message)
        # a definite refusal: the next push starts a new key
        assert session.scalars(
            select(OutboxEntry.state).where(OutboxEntry.invoice_id == invoice.id)
        ).all() == ["failed"]
    set_currency(vendor, fake, "58", "USD")
    again = invoicing.push(engine, config, INVOICER, period=PERIOD)
    assert [r.status for r in again] == ["pushed"]
    assert fake.totals() == {"58": ACME_TOTAL, "59": BETA_TOTAL}
