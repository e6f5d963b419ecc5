"""A client's accounting id must name a customer in the configured accounting system: its format is
checked at book import (with the line), its existence by `mcc sources test` (over real sockets)."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from mcc.cli import app
from mcc.errors import BookError
from mcc.permissions import Actor
from sandbox import xero
from sandbox.quickbooks import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_REFRESH_TOKEN, QuickBooksFake
from store.book import import_book
from store.db import reading, transaction
from store.models import Client

ADMIN = Actor("ada", frozenset({"admin"}))
ACME = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"
BETA = "6f9619ff-8b86-d011-b42d-00cf4fc964ff"

BOOK = """currency = "USD"

[[clients]]
name = "Acme Dental"
accounting_id = "{acme}"

[[clients]]
name = "Beta Law"
accounting_id = "{beta}"
"""


def xero_toml(url: str = "http://127.0.0.1:9") -> str:
    return f'[accounting]\nkind = "xero"\ntenant_id = "{xero.DEFAULT_TENANT}"\nbase_url = "{url}"\nauth_url = "{url}"\n'


def test_a_xero_contact_id_that_is_not_a_uuid_is_refused_at_import_with_its_line(
    engine, write_config
) -> None:
    config = write_config(xero_toml())
    with pytest.raises(BookError) as refused:
        import_book(engine, config, BOOK.format(acme=ACME, beta="58"), ADMIN, name="book.toml")
    assert str(refused.value) == (
        "book.toml line 9: clients[2].accounting_id: '58' is not a Xero ContactID (a UUID such as "
        "3f2504e0-4f89-41d3-9a0c-0305e82c3301), as [accounting] kind = 'xero' needs"
    )
    with reading(engine) as session:
        assert session.scalars(select(Client)).all() == []  # nothing half-imported
    import_book(engine, config, BOOK.format(acme=ACME, beta=BETA), ADMIN, name="book.toml")
    with reading(engine) as session:
        assert set(session.scalars(select(Client.accounting_id))) == {ACME, BETA}


def test_quickbooks_ids_are_numbers_and_a_file_export_takes_any_id(engine, write_config) -> None:
    quickbooks = write_config('[accounting]\nkind = "quickbooks"\nrealm_id = "1"\n')
    with pytest.raises(
        BookError, match=r"clients\[1\].accounting_id: 'C-58' is not a QuickBooks customer Id"
    ):
        import_book(engine, quickbooks, BOOK.format(acme="C-58", beta="59"), ADMIN, name="book.toml")
    import_book(engine, quickbooks, BOOK.format(acme="58", beta="59"), ADMIN, name="book.toml")
    export = write_config("")
    import_book(engine, export, BOOK.format(acme="C-58", beta="anything"), ADMIN, name="book.toml")


@pytest.fixture
def xero_fake(monkeypatch):
    fake = xero.XeroFake(contacts={ACME: "Acme Dental"})
    fake.start()
    monkeypatch.setenv("MCC_XERO_CLIENT_ID", xero.DEFAULT_CLIENT_ID)
    monkeypatch.setenv("MCC_XERO_CLIENT_SECRET", xero.DEFAULT_CLIENT_SECRET)
    monkeypatch.setenv("MCC_XERO_REFRESH_TOKEN", xero.DEFAULT_REFRESH_TOKEN)
    monkeypatch.setenv("MCC_SECRET_KEY", "test-secret-key-for-the-vault-0123456789")
    yield fake
    fake.stop()


def test_sources_test_looks_up_every_clients_accounting_id(engine, write_config, xero_fake) -> None:
    write_config(xero_toml(xero_fake.url))
    with transaction(engine) as session:  # as an older database may hold them
        session.add_all(
            [
                Client(name="Acme Dental", accounting_id=ACME),
                Client(name="Beta Law", accounting_id=BETA),
                Client(name="Cedar Law", accounting_id="61"),
                Client(name="Dune Dental", accounting_id=None),
            ]
        )
    failed = CliRunner().invoke(app, ["sources", "test", "accounting"])
    assert failed.exit_code == 1, failed.output
    text = " ".join(failed.output.split())
    assert "FAIL accounting (xero," in text
    assert "connected to Xero; 3 of 4 client(s) cannot be invoiced:" in text
    assert f"Beta Law: Xero has no customer '{BETA}'" in text
    assert "Cedar Law: '61' is not a Xero ContactID" in text
    assert "Dune Dental: no accounting_id" in text
    assert "Acme Dental" not in text.split("cannot be invoiced:")[1]
    looked_up = {r.path for r in xero_fake.requests if r.path.startswith("/api.xro/2.0/Contacts/")}
    assert looked_up == {f"/api.xro/2.0/Contacts/{ACME}", f"/api.xro/2.0/Contacts/{BETA}"}
    xero_fake.contacts[BETA] = "Beta Law"
    with transaction(engine) as session:
        for client in session.scalars(select(Client).where(Client.name.in_(["Cedar Law", "Dune Dental"]))):
            session.delete(client)
    passed = CliRunner().invoke(app, ["sources", "test", "accounting"])
    assert passed.exit_code == 0, passed.output
    assert "ok   accounting (xero," in passed.output and "all 2 client(s) found as customers" in passed.output


def test_sources_test_reports_refused_accounting_credentials(engine, write_config, monkeypatch) -> None:
    fake = QuickBooksFake(customers={"58": "Acme Dental"})
    fake.start()
    try:
        monkeypatch.setenv("MCC_QUICKBOOKS_CLIENT_ID", DEFAULT_CLIENT_ID)
        monkeypatch.setenv("MCC_QUICKBOOKS_CLIENT_SECRET", DEFAULT_CLIENT_SECRET)
        monkeypatch.setenv("MCC_QUICKBOOKS_REFRESH_TOKEN", DEFAULT_REFRESH_TOKEN + "-revoked")
        monkeypatch.setenv("MCC_SECRET_KEY", "test-secret-key-for-the-vault-0123456789")
        write_config(
            f'[accounting]\nkind = "quickbooks"\nrealm_id = "{fake.realm_id}"\nbase_url = "{fake.url}"\n'
            f'auth_url = "{fake.url}"\n'
        )
        with transaction(engine) as session:
            session.add(Client(name="Acme Dental", accounting_id="58"))
        result = CliRunner().invoke(app, ["sources", "test", "accounting"])
    finally:
        fake.stop()
    assert result.exit_code == 1
    assert "FAIL accounting (quickbooks," in result.output and "invalid_grant" in result.output
