"""QuickBooks Online writer against its sandbox fake: amounts, idempotency, every failure, and a crash
between "sent" and "recorded" (SIGKILL of `mcc invoices push`)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from decimal import Decimal
from pathlib import Path
from unittest.mock import ANY

import pytest
from sqlalchemy import select

from accounting.registry import writer_for
from accounting.tokens import Vault
from mcc import invoicing
from mcc.config import Config
from sandbox.quickbooks import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_REFRESH_TOKEN, QuickBooksFake
from store.db import reading
from store.models import Invoice, OutboxEntry, TimeEntry, VaultEntry
from tests.invoicebook import ACME_TOTAL, APPROVER, BETA_TOTAL, INVOICER, PERIOD, Book, seed

SECRET_KEY = "test-secret-key-for-the-vault-0123456789"


@pytest.fixture
def fake():
    fake = QuickBooksFake(customers={"58": "Acme Dental", "59": "Beta Law"})
    fake.seed({}, ["WS", "M365-BP", "LABOR"])
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def env(monkeypatch):
    monkeypatch.setenv("MCC_QUICKBOOKS_CLIENT_ID", DEFAULT_CLIENT_ID)
    monkeypatch.setenv("MCC_QUICKBOOKS_CLIENT_SECRET", DEFAULT_CLIENT_SECRET)
    monkeypatch.setenv("MCC_QUICKBOOKS_REFRESH_TOKEN", DEFAULT_REFRESH_TOKEN)
    monkeypatch.setenv("MCC_SECRET_KEY", SECRET_KEY)


def toml_for(fake: QuickBooksFake) -> str:
    return (
        f'[accounting]\nkind = "quickbooks"\nbase_url = "{fake.url}"\nauth_url = "{fake.url}"\n'
        f'realm_id = "{fake.realm_id}"\n'
    )


@pytest.fixture
def config(fake, env, write_config) -> Config:
    return write_config(toml_for(fake))


def approved_book(engine, config: Config) -> Book:
    book = seed(engine)
    for invoice in invoicing.build_drafts(engine, config, APPROVER, PERIOD):
        invoicing.approve(engine, INVOICER, invoice.id)
    return book


def quick_writer(config, engine, timeout: float = 5.0):
    return writer_for(config, engine, timeout=timeout, sleep=lambda seconds: None, default_retry_after=0)


def invoice_posts(fake: QuickBooksFake) -> list:
    return [r for r in fake.requests if r.method == "POST" and r.path.endswith("/invoice")]


def statuses(engine) -> dict[int, tuple[str, str | None]]:
    with reading(engine) as session:
        return {i.client_id: (i.status, i.last_error) for i in session.scalars(select(Invoice))}


def test_push_creates_one_invoice_per_draft_with_the_exact_amounts(engine, fake, config) -> None:
    book = approved_book(engine, config)
    results = invoicing.push(engine, config, INVOICER, period=PERIOD)
    assert [r.status for r in results] == ["pushed", "pushed"]
    assert fake.totals() == {"58": ACME_TOTAL, "59": BETA_TOTAL}
    acme = next(i for i in fake.invoices if i["CustomerRef"]["value"] == "58")
    sales = [line for line in acme["Line"] if line["DetailType"] == "SalesItemLineDetail"]
    assert [Decimal(str(line["Amount"])) for line in sales] == [
        Decimal("820.00"),
        Decimal("32040.00"),
        Decimal("4320.00"),
        Decimal("225.00"),
        Decimal("49.95"),
    ]
    assert sales[4]["SalesItemLineDetail"]["Qty"] == Decimal("0.333")
    post = invoice_posts(fake)[0]
    assert post.arg("minorversion") == "75" and len(post.arg("requestid") or "") == 40
    # the invoice records the remote number; time entries are invoiced only now
    with reading(engine) as session:
        pushed = session.scalars(select(Invoice).where(Invoice.client_id == book.acme)).one()
        assert (pushed.status, pushed.remote_id, pushed.remote_number) == (
            "pushed",
            acme["Id"],
            acme["DocNumber"],
        )
        invoiced = session.scalars(
            select(TimeEntry.invoice_id).where(TimeEntry.id.in_(book.time_entries))
        ).all()
        assert invoiced == [pushed.id, pushed.id]
        # the rotated refresh token is kept, encrypted
        name, ciphertext = session.execute(select(VaultEntry.name, VaultEntry.ciphertext)).one()
        assert fake.latest_refresh_token not in ciphertext
    assert Vault(engine).get(name) == {"token": fake.latest_refresh_token, "seed": ANY}


def test_push_repush_and_concurrent_push_leave_one_invoice_per_draft(engine, fake, config) -> None:
    approved_book(engine, config)
    fake.delay_after_create = 0.5  # keep the first push in flight while the others arrive
    results: list = []

    def run() -> None:
        results.extend(invoicing.push(engine, config, INVOICER, period=PERIOD))

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(fake.invoices) == 2
    assert sorted(r.status for r in results).count("pushed") == 2
    assert {r.status for r in results} <= {"pushed", "in_progress", "already_pushed"}
    fake.delay_after_create = 0
    again = invoicing.push(
        engine, config, INVOICER, period=PERIOD
    )  # everything already pushed: nothing selected
    assert again == []
    double_click = invoicing.push(engine, config, INVOICER, invoice_ids=[r.invoice_id for r in results[:1]])
    assert double_click[0].status == "already_pushed"
    assert len(fake.invoices) == 2 and fake.totals() == {"58": ACME_TOTAL, "59": BETA_TOTAL}


def test_a_500_keeps_the_draft_with_the_error_and_a_retry_makes_one_invoice(engine, fake, config) -> None:
    book = approved_book(engine, config)
    fake.faults.add(
        path=f"/v3/company/{fake.realm_id}/invoice",
        status=500,
        times=1,
        body={
            "Fault": {
                "Error": [{"Message": "An application error has occurred", "code": "10000"}],
                "type": "SystemFault",
            }
        },
    )
    with quick_writer(config, engine) as writer:
        first = invoicing.push(engine, config, INVOICER, period=PERIOD, writer=writer)
    assert [r.status for r in first] == ["failed", "pushed"]
    status, error = statuses(engine)[book.acme]
    assert status == "failed" and "(HTTP 500): An application error has occurred (code 10000)" in (
        error or ""
    )
    with reading(engine) as session:
        assert session.scalars(
            select(TimeEntry.invoice_id).where(TimeEntry.id.in_(book.time_entries))
        ).all() == [None, None]
    retry = invoicing.push(engine, config, INVOICER, period=PERIOD)
    assert [r.status for r in retry] == ["pushed"]
    assert fake.totals() == {"58": ACME_TOTAL, "59": BETA_TOTAL}


def test_timeout_after_the_invoice_was_created_is_settled_by_the_retry(engine, fake, config) -> None:
    book = approved_book(engine, config)
    fake.delay_after_create = 1.5
    with quick_writer(config, engine, timeout=0.5) as writer:
        first = invoicing.push(engine, config, INVOICER, period=PERIOD, client_id=book.acme, writer=writer)
    assert first[0].status == "failed" and "did not answer" in (first[0].message or "")
    assert len(fake.invoices) == 1  # it was created although we never heard back
    fake.delay_after_create = 0
    retry = invoicing.push(engine, config, INVOICER, period=PERIOD, client_id=book.acme)
    assert retry[0].status == "pushed" and retry[0].remote_id == fake.invoices[0]["Id"]
    assert len(fake.invoices) == 1
    # settled by the lookup by reference before any resend: one POST only
    assert len(invoice_posts(fake)) == 1
    lookups = [r.arg("query") or "" for r in fake.requests if r.path.endswith("/query")]
    assert "SELECT * FROM Invoice WHERE CustomerRef = '58' STARTPOSITION 1 MAXRESULTS 1000" in lookups


def test_validation_fault_is_shown_word_for_word_and_a_fixed_retry_uses_a_new_key(
    engine, fake, config
) -> None:
    fake.customers.pop("58")
    book = approved_book(engine, config)
    result = invoicing.push(engine, config, INVOICER, period=PERIOD, client_id=book.acme)[0]
    assert result.status == "failed"
    assert result.message == (
        "QuickBooks rejected the invoice (HTTP 400): Invalid Reference Id: "
        "Invalid Reference Id : Customer 58 not found (code 2500)"
    )
    with reading(engine) as session:
        assert session.scalars(select(OutboxEntry.state)).all() == ["failed"]
    fake.add_customer("58", "Acme Dental")
    retry = invoicing.push(engine, config, INVOICER, period=PERIOD, client_id=book.acme)[0]
    assert retry.status == "pushed" and len(fake.invoices) == 1
    assert len({r.arg("requestid") for r in invoice_posts(fake)}) == 2


def test_401_refreshes_the_token_once_then_reports(engine, fake, config) -> None:
    book = approved_book(engine, config)
    path = f"/v3/company/{fake.realm_id}/invoice"
    fake.faults.add(path=path, status=401, times=1, body=fake.unauthorized_body())
    assert invoicing.push(engine, config, INVOICER, period=PERIOD, client_id=book.acme)[0].status == "pushed"
    fake.faults.add(path=path, status=401, times=2, body=fake.unauthorized_body())
    beta = invoicing.push(engine, config, INVOICER, period=PERIOD, client_id=book.beta)[0]
    assert beta.status == "failed"
    assert "refused the credentials" in (beta.message or "") and "AuthenticationFailed" in (
        beta.message or ""
    )
    assert invoicing.push(engine, config, INVOICER, period=PERIOD, client_id=book.beta)[0].status == "pushed"
    assert len(fake.invoices) == 2


def test_429_is_waited_out_and_persistent_throttling_fails_cleanly(engine, fake, config) -> None:
    book = approved_book(engine, config)
    path = f"/v3/company/{fake.realm_id}/invoice"
    fake.faults.add(path=path, status=429, times=1)
    with quick_writer(config, engine) as writer:
        assert invoicing.push(engine, config, INVOICER, period=PERIOD, client_id=book.acme, writer=writer)[
            0
        ].ok
    fake.faults.add(path=path, status=429, times=3)
    with quick_writer(config, engine) as writer:
        beta = invoicing.push(engine, config, INVOICER, period=PERIOD, client_id=book.beta, writer=writer)[0]
    assert beta.status == "failed" and "throttling" in (beta.message or "")
    assert invoicing.push(engine, config, INVOICER, period=PERIOD, client_id=book.beta)[0].status == "pushed"
    assert len(fake.invoices) == 2


def test_unknown_item_code_blocks_the_push_with_a_clear_message(engine, fake, config) -> None:
    fake.items = {k: v for k, v in fake.items.items() if v["Name"] != "LABOR"}
    book = approved_book(engine, config)
    result = invoicing.push(engine, config, INVOICER, period=PERIOD, client_id=book.acme)[0]
    assert result.status == "failed" and "QuickBooks has no item 'LABOR'" in (result.message or "")
    assert fake.invoices == []


def test_killed_mid_push_then_pushed_again_makes_one_invoice(
    engine, fake, config, database_url, tmp_path: Path, cli_user
) -> None:
    book = approved_book(engine, config)
    cli_user("ines", "invoicer")  # MCC_USER, inherited by the subprocesses
    fake.delay_after_create = 60  # created, then the answer hangs: the push is killed before recording
    code = "import sys; from mcc.cli import app; sys.argv[0] = 'mcc'; app()"
    environment = {**os.environ, "MCC_CONFIG": str(config.path)}
    process = subprocess.Popen(
        [sys.executable, "-c", code, "invoices", "push", "--period", PERIOD, "--client", str(book.acme)],
        env=environment,
        cwd=Path(__file__).parent.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        assert fake.created.wait(30), process.communicate(timeout=5)[0].decode(errors="replace")
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    assert len(fake.invoices) == 1
    with reading(engine) as session:
        assert (
            session.scalars(select(Invoice.status).where(Invoice.client_id == book.acme)).one() == "pushing"
        )
        assert session.scalars(select(OutboxEntry.state)).one() == "sent"
    fake.delay_after_create = 0
    runner_env = subprocess.run(
        [sys.executable, "-c", code, "invoices", "push", "--period", PERIOD],
        env=environment,
        cwd=Path(__file__).parent.parent,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert runner_env.returncode == 0, runner_env.stdout + runner_env.stderr
    assert len(fake.invoices) == 2  # Acme once (found again by its reference), Beta once
    assert fake.totals() == {"58": ACME_TOTAL, "59": BETA_TOTAL}
    with reading(engine) as session:
        assert sorted(session.scalars(select(Invoice.status))) == ["pushed", "pushed"]
