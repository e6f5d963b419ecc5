"""Invoices that must never silently not exist: a second database (or a copy of this one) pushing to the
same QuickBooks company, a vendor that forgets request ids, and "created, then 500" — over real sockets
against the accounting fakes."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, select

from accounting.registry import writer_for
from mcc import invoicing
from mcc.config import Config
from sandbox.quickbooks import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_REFRESH_TOKEN, QuickBooksFake
from store.db import make_engine, reading, transaction
from store.installation import installation_id
from store.migrate import upgrade
from store.models import Contract, Invoice, OutboxEntry
from tests.invoicebook import ACME_TOTAL, APPROVER, BETA_TOTAL, INVOICER, PERIOD, seed
from tests.test_accounting_writers import VENDORS, Vendor


@pytest.fixture
def qbo():
    fake = QuickBooksFake(customers={"58": "Acme Dental", "59": "Beta Law"})
    fake.seed({}, ["WS", "M365-BP", "LABOR"])
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def qbo_config(qbo, write_config, monkeypatch) -> Config:
    monkeypatch.setenv("MCC_QUICKBOOKS_CLIENT_ID", DEFAULT_CLIENT_ID)
    monkeypatch.setenv("MCC_QUICKBOOKS_CLIENT_SECRET", DEFAULT_CLIENT_SECRET)
    monkeypatch.setenv("MCC_QUICKBOOKS_REFRESH_TOKEN", DEFAULT_REFRESH_TOKEN)
    monkeypatch.setenv("MCC_SECRET_KEY", "test-secret-key-for-the-vault-0123456789")
    return write_config(
        f'[accounting]\nkind = "quickbooks"\nbase_url = "{qbo.url}"\nauth_url = "{qbo.url}"\n'
        f'realm_id = "{qbo.realm_id}"\n'
    )


def new_database(path: Path) -> Engine:
    upgrade(f"sqlite:///{path}")
    return make_engine(f"sqlite:///{path}")


def approve_all(engine: Engine, config: Config) -> None:
    for invoice in invoicing.build_drafts(engine, config, APPROVER, PERIOD):
        invoicing.approve(engine, INVOICER, invoice.id)


def pushed(engine: Engine) -> dict[int, tuple[str, str | None, str | None]]:
    """invoice id -> (status, remote id, last error)"""
    with reading(engine) as session:
        return {i.id: (i.status, i.remote_id, i.last_error) for i in session.scalars(select(Invoice))}


def customer_of(fake: QuickBooksFake, remote_id: str | None) -> str:
    return next(str(i["CustomerRef"]["value"]) for i in fake.invoices if i["Id"] == remote_id)


def test_two_databases_against_one_company_each_create_their_own_invoices(
    qbo, qbo_config, tmp_path: Path
) -> None:
    """Invoice ids restart in the second database (1 = Acme there too, but Acme is QuickBooks customer 59
    in it): both databases' invoices are created, and each is recorded against its own."""
    first, second = new_database(tmp_path / "first.db"), new_database(tmp_path / "second.db")
    with reading(first) as a, reading(second) as b:
        assert installation_id(a) != installation_id(b)
        assert len(installation_id(a)) == 32
    seed(first)
    seed(second, acme_accounting_id="59", beta_accounting_id="58")
    for engine in (first, second):
        approve_all(engine, qbo_config)
        assert [r.status for r in invoicing.push(engine, qbo_config, INVOICER, period=PERIOD)] == [
            "pushed",
            "pushed",
        ]
    assert len(qbo.invoices) == 4
    assert qbo.totals() == {"58": ACME_TOTAL + BETA_TOTAL, "59": ACME_TOTAL + BETA_TOTAL}
    first_rows, second_rows = pushed(first), pushed(second)
    assert sorted(first_rows) == sorted(second_rows) == [1, 2]  # the same invoice ids in both
    assert {remote for _, remote, _ in first_rows.values()}.isdisjoint(
        {remote for _, remote, _ in second_rows.values()}
    )
    for engine, acme_customer in ((first, "58"), (second, "59")):
        with reading(engine) as session:
            acme = session.scalars(select(Invoice).where(Invoice.client_id == 1)).one()
            assert customer_of(qbo, acme.remote_id) == acme_customer
            keys = set(session.scalars(select(OutboxEntry.idempotency_key)))
        assert len(keys) == 2
    posts = [r.arg("requestid") for r in qbo.requests if r.method == "POST" and r.path.endswith("/invoice")]
    assert len(set(posts)) == 4
    for engine in (first, second):
        engine.dispose()


def test_a_copy_of_the_database_is_never_recorded_against_the_originals_invoice(
    qbo, qbo_config, tmp_path: Path
) -> None:
    """A copy (restored backup, PostgreSQL copy) shares the installation id and so the keys. QuickBooks
    replays the original's invoice to the copy: the copy refuses it, naming both, keeps its invoice failed
    with that error, and its next push creates its own."""
    original = new_database(tmp_path / "original.db")
    shutil.copy(tmp_path / "original.db", tmp_path / "copy.db")
    copy = make_engine(f"sqlite:///{tmp_path / 'copy.db'}")
    seed(original)
    seed(copy, acme_accounting_id="59", beta_accounting_id="58")
    approve_all(original, qbo_config)
    approve_all(copy, qbo_config)
    assert [r.status for r in invoicing.push(original, qbo_config, INVOICER, period=PERIOD)] == [
        "pushed",
        "pushed",
    ]
    results = invoicing.push(copy, qbo_config, INVOICER, period=PERIOD)
    assert [r.status for r in results] == ["failed", "failed"]
    assert len(qbo.invoices) == 2  # replayed, not created
    acme_remote = pushed(original)[1][1]
    message = results[0].message or ""
    assert f"QuickBooks Online invoice {acme_remote} number 1001" in message and "(customer 58," in message
    assert "is not MCC invoice 1 for Acme Dental (customer 59," in message
    assert "customer 58 is not 59" in message
    status, remote, error = pushed(copy)[1]
    assert (status, remote, error) == ("failed", None, message)
    assert pushed(original)[1][0] == "pushed"  # the original is untouched
    retry = invoicing.push(copy, qbo_config, INVOICER, period=PERIOD)
    assert [r.status for r in retry] == ["pushed", "pushed"]
    assert len(qbo.invoices) == 4
    assert customer_of(qbo, pushed(copy)[1][1]) == "59" and customer_of(qbo, pushed(original)[1][1]) == "58"
    original.dispose()
    copy.dispose()


def test_a_replayed_answer_for_the_same_customer_with_another_total_is_refused(
    qbo, qbo_config, tmp_path: Path
) -> None:
    """Same customer, same invoice id, different amount (the copy billed another quantity): not ours."""
    original = new_database(tmp_path / "original.db")
    shutil.copy(tmp_path / "original.db", tmp_path / "copy.db")
    copy = make_engine(f"sqlite:///{tmp_path / 'copy.db'}")
    seed(original)
    seed(copy)
    approve_all(original, qbo_config)
    invoicing.push(original, qbo_config, INVOICER, period=PERIOD)
    with transaction(copy) as session:  # the copy's book says 13 workstations for Beta, not 12
        contract = session.scalars(
            select(Contract).where(Contract.client_id == 2, Contract.end.is_(None))
        ).one()
        contract.quantity = 13
    approve_all(copy, qbo_config)
    results = {r.invoice_id: r for r in invoicing.push(copy, qbo_config, INVOICER, period=PERIOD)}
    assert results[1].status == "pushed"  # identical invoice: the replay is rightly taken as this one
    assert results[2].status == "failed"
    assert "net total 540.00 is not 585.00" in (results[2].message or "")
    assert len(qbo.invoices) == 2
    original.dispose()
    copy.dispose()


# --- a vendor that forgets keys, and "created, then 500" ------------------------------------------


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
def config(vendor: Vendor, fake, write_config, monkeypatch) -> Config:
    for key, value in vendor.env.items():
        monkeypatch.setenv(f"MCC_{vendor.kind.upper()}_{key}", value)
    monkeypatch.setenv("MCC_SECRET_KEY", "test-secret-key-for-the-vault-0123456789")
    return write_config(
        f'[accounting]\nbase_url = "{fake.url}"\nauth_url = "{fake.url}"\n' + vendor.toml(fake)
    )


def test_created_then_500_with_the_key_forgotten_is_found_not_sent_again(
    engine, vendor, fake, config
) -> None:
    seed(engine)
    approve_all(engine, config)
    fake.fail_after_create = 1
    with writer_for(config, engine, sleep=lambda s: None, default_retry_after=0) as writer:
        first = invoicing.push(engine, config, INVOICER, period=PERIOD, client_id=1, writer=writer)[0]
    assert first.status == "failed" and "HTTP 500" in (first.message or "")
    assert len(fake.invoices) == 1  # created although the answer was an error
    if hasattr(fake, "forget_keys"):
        fake.forget_keys()  # the vendor no longer replays our key: only a lookup can tell
    creates_before = sum(1 for r in fake.requests if r.path == vendor.path(fake) and r.method != "GET")
    retry = invoicing.push(engine, config, INVOICER, period=PERIOD, client_id=1)[0]
    assert retry.status == "pushed" and len(fake.invoices) == 1
    remote = fake.invoices[0]
    assert retry.remote_id == str(remote.get("Id") or remote.get("InvoiceID") or remote.get("id"))
    creates_after = sum(1 for r in fake.requests if r.path == vendor.path(fake) and r.method != "GET")
    assert creates_after == creates_before  # settled by the lookup, no resend at all
    assert fake.totals() == {"58": ACME_TOTAL}


def test_the_fake_really_forgets(qbo, qbo_config, engine) -> None:
    """The model the test above relies on: after forgetting, the same requestid creates a second invoice
    (so only the writer's lookup keeps it from happening)."""
    seed(engine)
    approve_all(engine, qbo_config)
    invoicing.push(engine, qbo_config, INVOICER, period=PERIOD, client_id=1)
    post = next(r for r in qbo.requests if r.method == "POST" and r.path.endswith("/invoice"))
    token = qbo.issue_token()
    url = f"{qbo.url}{post.path}"

    def resend() -> httpx.Response:
        return httpx.post(
            url,
            params={"minorversion": "75", "requestid": post.arg("requestid")},
            content=post.body,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )

    assert resend().json()["Invoice"]["Id"] == qbo.invoices[0]["Id"] and len(qbo.invoices) == 1
    qbo.forget_keys()
    assert resend().status_code == 200 and len(qbo.invoices) == 2
    qbo.request_id_memory = 0.0
    resend()
    assert len(qbo.invoices) == 3
