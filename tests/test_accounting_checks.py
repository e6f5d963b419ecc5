"""What is checked before and after each push, for every HTTP writer over real sockets: the currency is
sent and must be the customer's; every line's quantity × rate = amount; prices are sent as tax-exclusive;
the total the accounting system computed is compared with ours and any difference is kept, visibly."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from accounting.base import DocumentLine, InvoiceDocument, NotOurInvoice, RemoteInvoice, check_ours
from accounting.outbox import pushed_warning
from mcc import invoicing
from mcc.cli import app
from mcc.config import Config
from sandbox import sage as sage_fake
from sandbox import xero as xero_fake
from sandbox.server import Fake
from store.db import reading, transaction
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


def creates(vendor: Vendor, fake) -> int:
    return len(sent_bodies(vendor, fake))


def test_a_line_whose_quantity_times_rate_is_not_its_amount_is_never_sent(
    engine, vendor, fake, config
) -> None:
    seed(engine)
    approve_all(engine, config)
    with transaction(engine) as session:  # a line changed behind the service's back (or a bad import)
        invoice = session.scalars(select(Invoice).where(Invoice.client_id == 2)).one()
        line = invoice.lines[0]
        line.amount_cents += 1
        invoice.total_cents += 1
    result = invoicing.push(engine, config, INVOICER, period=PERIOD, client_id=2)[0]
    assert result.status == "failed"
    assert result.message == (
        "MCC invoice 2 for Beta Law was not sent: line 1 (WS): 12 × 45.00 = 540.00, not 540.01 — "
        "edit the line (or rebuild the draft) and approve it again"
    )
    assert creates(vendor, fake) == 0 and fake.invoices == []
    with reading(engine) as session:
        assert session.scalars(select(OutboxEntry.state)).all() == ["failed"]


def test_prices_are_sent_as_tax_exclusive_explicitly(engine, vendor, fake, config) -> None:
    seed(engine)
    approve_all(engine, config)
    invoicing.push(engine, config, INVOICER, period=PERIOD, client_id=2)
    body = sent_bodies(vendor, fake)[0]
    if vendor.kind == "quickbooks":
        assert body["GlobalTaxCalculation"] == "TaxExcluded"
    elif vendor.kind == "xero":
        assert body["Invoices"][0]["LineAmountTypes"] == "Exclusive"
    else:
        assert [line["unit_price_includes_tax"] for line in body["sales_invoice"]["invoice_lines"]] == [False]


def add_tax(vendor: Vendor, fake) -> None:
    """Make the accounting system add 10% tax to the WS line (Sage adds only the tax MCC sends: its
    totals are checked with mapped tax rates below)."""
    if vendor.kind == "quickbooks":
        fake.sales_tax_percent = Decimal(10)
    else:
        fake.item_tax["WS"] = Decimal(10)


TAXING = [v for v in VENDORS if v.kind in ("quickbooks", "xero")]


@pytest.mark.parametrize("vendor", TAXING, ids=[v.kind for v in TAXING])
def test_a_total_the_accounting_system_computed_differently_is_flagged_and_shown(
    engine, vendor, fake, config, cli_user
) -> None:
    add_tax(vendor, fake)
    seed(engine)
    approve_all(engine, config)
    result = invoicing.push(engine, config, INVOICER, period=PERIOD, client_id=2)[0]
    assert result.status == "pushed"  # it exists: recorded, and flagged
    expected = (
        "the accounting system's total (594.00) differs from the draft's (540.00); "
        "check tax and rounding settings there"
    )
    assert result.message == expected
    with reading(engine) as session:
        invoice = session.scalars(select(Invoice).where(Invoice.client_id == 2)).one()
        assert (invoice.status, invoice.last_error) == ("pushed", expected)
        invoice_id = invoice.id
    cli_user()
    shown = CliRunner().invoke(app, ["invoices", "show", str(invoice_id)])
    assert shown.exit_code == 0, shown.output
    assert f"warning: {expected}" in " ".join(shown.output.split())


def test_a_line_the_vendor_silently_changed_is_reported() -> None:
    """Xero keeps the amount of a line whose amount is not quantity × unit price but resets its quantity
    to 1 and its tax to none; the comparison after the push names the line."""
    document = InvoiceDocument(
        invoice_id=7,
        idempotency_key="k" * 64,
        reference="MCC-7-kkkkkkkk",
        customer_id="58",
        customer_name="Acme Dental",
        period=PERIOD,
        invoice_date=date(2026, 3, 31),
        due_date=date(2026, 4, 30),
        currency="USD",
        lines=(DocumentLine("recurring", "WS", "Managed workstation", Decimal(12), 4500, 54000),),
        total_cents=54000,
    )
    recorded = RemoteInvoice("x", "INV-1", 54000, lines=((Decimal(1), 54000),))
    assert pushed_warning(document, recorded, 54000) == (
        "the accounting system changed lines: line 1 (WS) recorded as 1 for 540.00, sent as 12 for 540.00"
    )
    assert (
        pushed_warning(document, RemoteInvoice("x", "INV-1", 54000, lines=((Decimal("12.0"), 54000),)), 54000)
        is None
    )


def test_the_xero_fake_models_the_silent_quantity_reset() -> None:
    fake = xero_fake.XeroFake(contacts={"58": "Acme Dental"}, item_codes=["WS"])
    recorded, net, tax = fake._line(
        {"ItemCode": "WS", "Quantity": 12, "UnitAmount": Decimal("45.00"), "LineAmount": Decimal("594.00")},
        "Exclusive",
    )
    assert (recorded["Quantity"], recorded["LineAmount"], recorded["TaxType"], net, tax) == (
        1,
        Decimal("594.00"),
        "NONE",
        Decimal("594.00"),
        0,
    )


@pytest.fixture
def sage_with_tax(write_config, monkeypatch):
    fake = sage_fake.SageFake(contacts={"58": "Acme Dental", "59": "Beta Law"})
    fake.start()
    for key, value in {
        "CLIENT_ID": sage_fake.DEFAULT_CLIENT_ID,
        "CLIENT_SECRET": sage_fake.DEFAULT_CLIENT_SECRET,
        "REFRESH_TOKEN": sage_fake.DEFAULT_REFRESH_TOKEN,
    }.items():
        monkeypatch.setenv(f"MCC_SAGE_{key}", value)
    monkeypatch.setenv("MCC_SECRET_KEY", "test-secret-key-for-the-vault-0123456789")

    def configure(tax_rates: str) -> Config:
        return write_config(
            f'[accounting]\nkind = "sage"\nbase_url = "{fake.url}"\nauth_url = "{fake.url}"\n'
            f'income_account = "{sage_fake.DEFAULT_LEDGER_ACCOUNT}"\n'
            f"tax_rates = {{ {tax_rates} }}\n"
        )

    yield fake, configure
    fake.stop()


def sage_posts(fake) -> list:
    return [r for r in fake.requests if r.method == "POST" and r.path == "/v3.1/sales_invoices"]


def test_sage_lines_carry_the_mapped_tax_rate_and_its_amount_and_the_idempotency_key(
    engine, sage_with_tax
) -> None:
    fake, configure = sage_with_tax
    config = configure('WS = "GB_STANDARD", "*" = "GB_ZERO"')
    seed(engine)
    approve_all(engine, config)
    results = invoicing.push(engine, config, INVOICER, period=PERIOD)
    assert [(r.status, r.message) for r in results] == [("pushed", None), ("pushed", None)]
    beta_post = next(p for p in sage_posts(fake) if json.loads(p.body)["sales_invoice"]["contact_id"] == "59")
    lines = json.loads(beta_post.body, parse_float=Decimal)["sales_invoice"]["invoice_lines"]
    assert [(line["tax_rate_id"], line["tax_amount"]) for line in lines] == [
        ("GB_STANDARD", Decimal("108.00"))
    ]
    acme_post = next(p for p in sage_posts(fake) if json.loads(p.body)["sales_invoice"]["contact_id"] == "58")
    acme_lines = json.loads(acme_post.body, parse_float=Decimal)["sales_invoice"]["invoice_lines"]
    assert {line["tax_rate_id"] for line in acme_lines} == {"GB_STANDARD", "GB_ZERO"}
    acme_tax = sum(line["tax_amount"] for line in acme_lines)
    assert acme_tax == Decimal("7272.00")  # 20% of 32,040.00 + 4,320.00 (WS lines); 0% on the rest
    # the vendor's total includes exactly the tax sent: no warning
    assert fake.totals() == {"58": ACME_TOTAL + 727200, "59": BETA_TOTAL + 10800}
    with reading(engine) as session:
        keys = dict(session.execute(select(OutboxEntry.invoice_id, OutboxEntry.idempotency_key)).all())
        assert {i.last_error for i in session.scalars(select(Invoice))} == {None}
    sent_keys = {p.header("idempotency-key") for p in sage_posts(fake)}
    assert sent_keys == {key[:32] for key in keys.values()}
    assert all(len(k or "") == 32 and "-" not in (k or "") for k in sent_keys)


def test_sage_refuses_a_taxed_line_without_its_tax_amount_and_an_unknown_rate_is_named(
    engine, sage_with_tax
) -> None:
    fake, configure = sage_with_tax
    body = {
        "sales_invoice": {
            "contact_id": "59",
            "date": "2026-03-31",
            "invoice_lines": [
                {
                    "description": "WS",
                    "ledger_account_id": sage_fake.DEFAULT_LEDGER_ACCOUNT,
                    "quantity": 1,
                    "unit_price": "45.00",
                    "tax_rate_id": "GB_STANDARD",
                }
            ],
        }
    }
    answer = httpx.post(
        f"{fake.url}/v3.1/sales_invoices",
        json=body,
        headers={"Authorization": f"Bearer {fake.issue_token()}"},
    )
    assert answer.status_code == 422 and answer.json()[0]["$source"] == "invoice_lines[1].tax_amount"
    config = configure('WS = "GB_MADE_UP"')
    seed(engine)
    approve_all(engine, config)
    result = invoicing.push(engine, config, INVOICER, period=PERIOD, client_id=2)[0]
    assert result.status == "failed"
    assert result.message == (
        "Sage has no tax rate 'GB_MADE_UP' ([accounting] tax_rates in mcc.toml); use an id from GET /tax_rates"
    )
    assert len(sage_posts(fake)) == 1 and fake.invoices == []  # only the hand-made one above


def test_the_sage_fake_replays_an_idempotency_key_until_it_forgets_it(sage_with_tax) -> None:
    fake, _ = sage_with_tax
    fake.contacts["59"] = "Beta Law"
    body = {
        "sales_invoice": {
            "contact_id": "59",
            "date": "2026-03-31",
            "invoice_lines": [
                {
                    "description": "WS",
                    "ledger_account_id": sage_fake.DEFAULT_LEDGER_ACCOUNT,
                    "quantity": 1,
                    "unit_price": "45.00",
                }
            ],
        }
    }
    headers = {"Authorization": f"Bearer {fake.issue_token()}", "Idempotency-Key": "a" * 32}

    def post() -> httpx.Response:
        return httpx.post(f"{fake.url}/v3.1/sales_invoices", json=body, headers=headers)

    first, second = post(), post()
    assert first.json()["id"] == second.json()["id"] and len(fake.invoices) == 1
    fake.forget_keys()
    assert post().status_code == 201 and len(fake.invoices) == 2
    headers["Idempotency-Key"] = "a" * 8 + "-" + "a" * 23
    assert post().status_code == 422 and len(fake.invoices) == 2


def test_the_invoices_page_shows_a_pushed_invoices_difference_as_a_warning(
    engine, write_config, monkeypatch, tmp_path
) -> None:
    from tests.app_support import prepare, signed_in
    from tests.app_world import SOURCES_TOML, seed_world

    config = write_config(SOURCES_TOML + f'\n[accounting]\nkind = "file"\npath = "{tmp_path / "exports"}"\n')
    seed_world(engine, config)
    prepare(engine, monkeypatch)
    current = datetime.now(UTC).strftime("%Y-%m")  # the page opens on the current period (UTC)
    drafts = invoicing.build_drafts(engine, config, APPROVER, current)
    invoice_id = drafts[0].id
    warning = "the accounting system's total (594.00) differs from the draft's (540.00); check tax and rounding settings there"
    with transaction(engine) as session:  # as record_success leaves an invoice whose total was changed there
        invoice = session.get_one(Invoice, invoice_id)
        invoice.status, invoice.remote_id, invoice.last_error = "pushed", "130", warning
    at = signed_in("invoicer", "pages/invoices.py")
    at.selectbox(key="invoice_pick").set_value(invoice_id).run()
    assert not at.exception
    assert [w.value for w in at.warning if "differs" in w.value] == [
        f"Pushed, but the accounting system differs: {warning}"
    ]
    assert not [e.value for e in at.error if "differs" in e.value]


def test_a_vendor_rounding_a_half_cent_line_its_own_way_is_still_our_invoice_and_is_flagged() -> None:
    """1.25 h × 150.02 = 187.525: MCC rounds half away from zero (187.53); a vendor rounding half to even
    records 187.52. That invoice is ours — refusing it would make the next push a duplicate — and the
    difference is kept on it; a difference of more than a cent a line is another invoice."""
    document = InvoiceDocument(
        invoice_id=9,
        idempotency_key="k" * 64,
        reference="MCC-9-kkkkkkkk",
        customer_id="58",
        customer_name="Acme Dental",
        period=PERIOD,
        invoice_date=date(2026, 3, 31),
        due_date=date(2026, 4, 30),
        currency="USD",
        lines=(DocumentLine("time", "LABOR", "Dana", Decimal("1.25"), 15002, 18753),),
        total_cents=18753,
    )
    rounded_to_even = RemoteInvoice(
        "130",
        "1001",
        18752,
        customer_id="58",
        reference="MCC-9-kkkkkkkk",
        net_cents=18752,
        lines=((Decimal("1.25"), 18752),),
    )
    assert check_ours("QuickBooks Online", document, rounded_to_even) is rounded_to_even
    assert pushed_warning(document, rounded_to_even, 18753) == (
        "the accounting system's total (187.52) differs from the draft's (187.53); check tax and rounding "
        "settings there; the accounting system changed lines: line 1 (LABOR) recorded as 1.25 for 187.52, "
        "sent as 1.25 for 187.53"
    )
    two_cents_off = RemoteInvoice(
        "131", "1002", 18751, customer_id="58", reference="MCC-9-kkkkkkkk", net_cents=18751
    )
    with pytest.raises(NotOurInvoice, match="net total 187.51 is not 187.53"):
        check_ours("QuickBooks Online", document, two_cents_off)
