"""The outbox on PostgreSQL: concurrent pushes of the same invoice make exactly one remote invoice, and a
copy of the database (CREATE DATABASE … TEMPLATE, same installation id) is never recorded against the
original's invoice."""

from __future__ import annotations

import threading
import uuid

import pytest
from sqlalchemy import create_engine, select

from mcc import invoicing
from store.db import make_engine, normalise_url, reading
from store.installation import installation_id
from store.models import Invoice, OutboxEntry
from tests.invoicebook import ACME_TOTAL, APPROVER, BETA_TOTAL, INVOICER, PERIOD, seed
from tests.test_accounting_writers import VENDORS, Vendor

pytestmark = pytest.mark.postgres
HTTP_VENDORS = [v for v in VENDORS if v.kind in ("quickbooks", "xero", "sage")]


@pytest.fixture(params=HTTP_VENDORS, ids=[v.kind for v in HTTP_VENDORS])
def vendor(request) -> Vendor:
    return request.param


@pytest.fixture
def fake(vendor: Vendor):
    fake = vendor.make()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def config(vendor: Vendor, fake, write_config, monkeypatch):
    for key, value in vendor.env.items():
        monkeypatch.setenv(f"MCC_{vendor.kind.upper()}_{key}", value)
    monkeypatch.setenv("MCC_SECRET_KEY", "test-secret-key-for-the-vault-0123456789")
    return write_config(
        f'[accounting]\nbase_url = "{fake.url}"\nauth_url = "{fake.url}"\n' + vendor.toml(fake)
    )


def approve_all(engine, config) -> None:
    for invoice in invoicing.build_drafts(engine, config, APPROVER, PERIOD):
        invoicing.approve(engine, INVOICER, invoice.id)


def test_concurrent_pushes_of_one_invoice_make_exactly_one_remote_invoice(
    postgres_url: str, vendor, fake, config
) -> None:
    engine = make_engine(postgres_url)
    try:
        seed(engine)
        approve_all(engine, config)
        fake.delay_after_create = 0.5  # the first push stays in flight while the others arrive
        start = threading.Barrier(6)
        results: list = []
        errors: list[BaseException] = []

        def push() -> None:
            start.wait()
            try:
                results.extend(invoicing.push(engine, config, INVOICER, invoice_ids=[1]))
            except BaseException as error:
                errors.append(error)

        threads = [threading.Thread(target=push) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        statuses = sorted(r.status for r in results)
        assert statuses.count("pushed") == 1, statuses
        assert set(statuses) <= {"pushed", "in_progress", "already_pushed"}
        assert len(fake.invoices) == 1 and fake.totals() == {"58": ACME_TOTAL}
        fake.delay_after_create = 0
        again = invoicing.push(engine, config, INVOICER, invoice_ids=[1])
        assert again[0].status == "already_pushed" and len(fake.invoices) == 1
        with reading(engine) as session:
            assert session.scalars(select(OutboxEntry.state)).all() == ["confirmed"]
            assert (
                session.scalars(select(Invoice.remote_id).where(Invoice.id == 1)).one()
                == results[[r.status for r in results].index("pushed")].remote_id
            )
    finally:
        engine.dispose()


def test_a_postgresql_copy_is_refused_the_originals_invoice_and_then_creates_its_own(
    postgres_server: str, postgres_url: str, vendor, fake, config
) -> None:
    copy_name = f"mcc_copy_{uuid.uuid4().hex[:8]}"
    admin = create_engine(normalise_url(postgres_server), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(
            f'CREATE DATABASE "{copy_name}" TEMPLATE "{postgres_url.rsplit("/", 1)[1]}"'
        )
    admin.dispose()
    original = make_engine(postgres_url)
    copy = make_engine(postgres_server.rsplit("/", 1)[0] + "/" + copy_name)
    try:
        with reading(original) as a, reading(copy) as b:
            assert installation_id(a) == installation_id(
                b
            )  # a copy keeps it: the check below is what protects
        seed(original)
        seed(copy, acme_accounting_id="59", beta_accounting_id="58")
        approve_all(original, config)
        approve_all(copy, config)
        assert {r.status for r in invoicing.push(original, config, INVOICER, period=PERIOD)} == {"pushed"}
        refused = invoicing.push(copy, config, INVOICER, period=PERIOD)
        assert [r.status for r in refused] == ["failed", "failed"] and len(fake.invoices) == 2
        assert "is not MCC invoice 1 for Acme Dental (customer 59," in (refused[0].message or "")
        assert {r.status for r in invoicing.push(copy, config, INVOICER, period=PERIOD)} == {"pushed"}
        assert len(fake.invoices) == 4
        assert fake.totals() == {"58": ACME_TOTAL + BETA_TOTAL, "59": ACME_TOTAL + BETA_TOTAL}
    finally:
        original.dispose()
        copy.dispose()
