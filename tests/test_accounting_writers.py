"""One battery for every HTTP writer against its sandbox fake: exact amounts; push → re-push →
concurrent push leaves one invoice per draft; 401, 429, 500, validation error and "timeout after the
invoice was created" each keep the draft with the vendor's error and a retry makes exactly one."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from accounting.outbox import total_mismatch
from accounting.registry import writer_for
from mcc import invoicing
from mcc.config import Config
from sandbox import quickbooks, sage, xero
from sandbox.server import Fake
from store.db import reading
from store.models import Invoice, TimeEntry
from tests.invoicebook import ACME_TOTAL, APPROVER, BETA_TOTAL, INVOICER, PERIOD, Book, seed

CUSTOMERS = {"58": "Acme Dental", "59": "Beta Law"}
ITEMS = ["WS", "M365-BP", "LABOR"]


@dataclass
class Vendor:
    kind: str
    make: Callable[[], Fake]
    toml: Callable[[Fake], str]
    env: dict[str, str]
    path: Callable[[Fake], str]  # the invoice-create path
    reject: Callable[[Fake], None]  # make the next create fail validation
    rejection: str  # what the stored error says


def _qbo() -> Fake:
    fake = quickbooks.QuickBooksFake(customers=CUSTOMERS)
    fake.seed({}, ITEMS)
    return fake


def _xero() -> Fake:
    return xero.XeroFake(contacts=CUSTOMERS, item_codes=ITEMS)


def _sage() -> Fake:
    return sage.SageFake(contacts=CUSTOMERS)


VENDORS = [
    Vendor(
        "quickbooks",
        _qbo,
        lambda f: f'kind = "quickbooks"\nrealm_id = "{f.realm_id}"\n',  # type: ignore[attr-defined]
        {
            "CLIENT_ID": quickbooks.DEFAULT_CLIENT_ID,
            "CLIENT_SECRET": quickbooks.DEFAULT_CLIENT_SECRET,
            "REFRESH_TOKEN": quickbooks.DEFAULT_REFRESH_TOKEN,
        },
        lambda f: f"/v3/company/{f.realm_id}/invoice",  # type: ignore[attr-defined]
        lambda f: f.fail_next_invoice(
            code="6000",
            message="A business validation error has occurred while processing your request",  # type: ignore[attr-defined]
            detail="Business Validation Error: You must select a product/service or an account for each split line with either an amount or a billable expense.",
        ),
        "QuickBooks rejected the invoice (HTTP 400): A business validation error has occurred while processing your "
        "request: Business Validation Error: You must select a product/service or an account for each split line "
        "with either an amount or a billable expense. (code 6000)",
    ),
    Vendor(
        "xero",
        _xero,
        lambda f: f'kind = "xero"\ntenant_id = "{f.tenant_id}"\n',  # type: ignore[attr-defined]
        {
            "CLIENT_ID": xero.DEFAULT_CLIENT_ID,
            "CLIENT_SECRET": xero.DEFAULT_CLIENT_SECRET,
            "REFRESH_TOKEN": xero.DEFAULT_REFRESH_TOKEN,
        },
        lambda f: "/api.xro/2.0/Invoices",
        lambda f: f.fail_next_invoice("Account code '999' is not a valid code for this document."),  # type: ignore[attr-defined]
        "Xero rejected the invoice (HTTP 400): A validation exception occurred: "
        "Account code '999' is not a valid code for this document.",
    ),
    Vendor(
        "sage",
        _sage,
        lambda f: f'kind = "sage"\nincome_account = "{sage.DEFAULT_LEDGER_ACCOUNT}"\n',
        {
            "CLIENT_ID": sage.DEFAULT_CLIENT_ID,
            "CLIENT_SECRET": sage.DEFAULT_CLIENT_SECRET,
            "REFRESH_TOKEN": sage.DEFAULT_REFRESH_TOKEN,
        },
        lambda f: "/v3.1/sales_invoices",
        lambda f: f.fail_next_invoice("can't be blank", "date"),  # type: ignore[attr-defined]
        "Sage rejected the sales invoice (HTTP 422): can't be blank (date)",
    ),
]


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


def approved(engine, config: Config) -> Book:
    book = seed(engine)
    for invoice in invoicing.build_drafts(engine, config, APPROVER, PERIOD):
        invoicing.approve(engine, INVOICER, invoice.id)
    return book


def creates(fake: Fake, vendor: Vendor) -> int:
    return sum(1 for r in fake.requests if r.path == vendor.path(fake) and r.method in ("POST", "PUT"))


def test_push_repush_concurrent_push_one_invoice_each_with_exact_amounts(
    engine, vendor, fake, config
) -> None:
    book = approved(engine, config)
    assert [r.status for r in invoicing.push(engine, config, INVOICER, period=PERIOD)] == ["pushed", "pushed"]
    assert fake.totals() == {"58": ACME_TOTAL, "59": BETA_TOTAL}  # type: ignore[attr-defined]
    ids = [i.id for i in invoicing.build_drafts(engine, config, APPROVER, PERIOD)]
    assert {r.status for r in invoicing.push(engine, config, INVOICER, invoice_ids=ids)} == {"already_pushed"}
    results: list = []
    threads = [
        threading.Thread(
            target=lambda: results.extend(invoicing.push(engine, config, INVOICER, invoice_ids=ids))
        )
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert {r.status for r in results} == {"already_pushed"}
    assert len(fake.invoices) == 2 and creates(fake, vendor) == 2  # type: ignore[attr-defined]
    with reading(engine) as session:
        assert (
            None
            not in session.scalars(
                select(TimeEntry.invoice_id).where(TimeEntry.id.in_(book.time_entries))
            ).all()
        )


def test_concurrent_first_pushes_make_one_invoice_each(engine, vendor, fake, config) -> None:
    approved(engine, config)
    fake.delay_after_create = 0.4  # type: ignore[attr-defined]
    results: list = []
    threads = [
        threading.Thread(
            target=lambda: results.extend(invoicing.push(engine, config, INVOICER, period=PERIOD))
        )
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [r.status for r in results].count("pushed") == 2
    assert len(fake.invoices) == 2  # type: ignore[attr-defined]


@pytest.mark.parametrize("status", [401, 429, 500])
def test_vendor_failure_keeps_the_draft_and_the_retry_makes_one(engine, vendor, fake, config, status) -> None:
    book = approved(engine, config)
    fake.faults.add(
        path=vendor.path(fake),
        status=status,
        times=3,
        body=fake.unauthorized_body() if status == 401 else None,
    )
    with writer_for(config, engine, sleep=lambda s: None, default_retry_after=0) as writer:
        failed = invoicing.push(engine, config, INVOICER, period=PERIOD, client_id=book.acme, writer=writer)[
            0
        ]
    assert failed.status == "failed" and f"HTTP {status}" in (failed.message or "")
    with reading(engine) as session:
        invoice = session.scalars(select(Invoice).where(Invoice.client_id == book.acme)).one()
        assert (invoice.status, invoice.last_error) == ("failed", failed.message)
        assert session.scalars(
            select(TimeEntry.invoice_id).where(TimeEntry.id.in_(book.time_entries))
        ).all() == [None, None]
    fake.faults.clear()
    retry = invoicing.push(engine, config, INVOICER, period=PERIOD, client_id=book.acme)[0]
    assert retry.status == "pushed" and len(fake.invoices) == 1  # type: ignore[attr-defined]
    assert fake.totals() == {"58": ACME_TOTAL}  # type: ignore[attr-defined]


def test_validation_error_is_surfaced_word_for_word(engine, vendor, fake, config) -> None:
    book = approved(engine, config)
    vendor.reject(fake)
    failed = invoicing.push(engine, config, INVOICER, period=PERIOD, client_id=book.beta)[0]
    assert failed.status == "failed" and failed.message == vendor.rejection
    assert fake.invoices == []  # type: ignore[attr-defined]
    retry = invoicing.push(engine, config, INVOICER, period=PERIOD, client_id=book.beta)[0]
    assert retry.status == "pushed" and fake.totals() == {"59": BETA_TOTAL}  # type: ignore[attr-defined]


def test_timeout_after_the_invoice_was_created_is_found_not_duplicated(engine, vendor, fake, config) -> None:
    book = approved(engine, config)
    fake.delay_after_create = 1.5  # type: ignore[attr-defined]
    with writer_for(config, engine, timeout=0.5) as writer:
        failed = invoicing.push(engine, config, INVOICER, period=PERIOD, client_id=book.acme, writer=writer)[
            0
        ]
    assert failed.status == "failed" and "did not answer" in (failed.message or "")
    assert len(fake.invoices) == 1  # type: ignore[attr-defined]
    fake.delay_after_create = 0  # type: ignore[attr-defined]
    retry = invoicing.push(engine, config, INVOICER, period=PERIOD, client_id=book.acme)[0]
    assert retry.status == "pushed" and len(fake.invoices) == 1  # type: ignore[attr-defined]
    assert retry.remote_id == str(
        fake.invoices[0].get("Id") or fake.invoices[0].get("InvoiceID") or fake.invoices[0].get("id")
    )  # type: ignore[attr-defined]


def test_a_total_the_accounting_system_changed_is_reported_exactly() -> None:
    """Amounts in the warning come from integer cents, never through a float (which would print
    90071992547409.94 for 9,007,199,254,740,993 cents)."""
    assert total_mismatch(None, 4500) is None
    assert total_mismatch(4500, 4500) is None
    assert total_mismatch(9_007_199_254_740_993, 4500) == (
        "the accounting system's total (90071992547409.93) differs from the draft's (45.00); "
        "check tax and rounding settings there"
    )
    assert total_mismatch(-5, 0) == (
        "the accounting system's total (-0.05) differs from the draft's (0.00); "
        "check tax and rounding settings there"
    )
