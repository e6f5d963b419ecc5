"""Audit search by client: every event names its client, even those whose payload holds only an invoice
id or time-entry ids, so searching for a client finds its approvals and pushes (and nobody else's)."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest
from sqlalchemy import Engine, select

from mcc import invoicing, review
from mcc.config import Config
from store.audit_search import search_events
from store.db import reading
from store.models import TimeEntry
from tests.app_support import prepare, signed_in
from tests.invoicebook import APPROVER, INVOICER, PERIOD, seed

SINCE = datetime(2000, 1, 1, tzinfo=UTC)


@pytest.fixture
def pushed(engine: Engine, write_config, tmp_path, monkeypatch: pytest.MonkeyPatch) -> Config:
    """Both clients' invoices drafted, approved and pushed to a file export; one Acme time entry approved."""
    config = write_config(
        f'[accounting]\nkind = "file"\npath = "{tmp_path / "out"}"\nformat = "csv"\n'
        'income_account = "Managed Services"\n'
    )
    book = seed(engine)
    with reading(engine) as session:
        open_entry = session.scalars(
            select(TimeEntry.id).where(TimeEntry.external_id == "t3", TimeEntry.client_id == book.acme)
        ).one()
    review.approve_time(engine, APPROVER, [open_entry], "on-site visit")
    for invoice in invoicing.build_drafts(engine, config, APPROVER, PERIOD):
        invoicing.approve(engine, INVOICER, invoice.id)
    assert {r.status for r in invoicing.push(engine, config, INVOICER, period=PERIOD)} == {"pushed"}
    prepare(engine, monkeypatch)
    return config


def test_a_client_search_finds_its_approvals_and_pushes(pushed: Config, engine: Engine) -> None:
    with reading(engine) as session:
        found = search_events(session, since=SINCE, text="acme dental")
        everything = search_events(session, since=SINCE)
    actions = [row.action for row in found]
    for action in (
        "time.approve",
        "invoice.draft_created",
        "invoice.approved",
        "invoice.push",
        "invoice.pushed",
    ):
        assert action in actions, (action, actions)
    assert all(row.clients == ("Acme Dental",) for row in found)
    # every invoice event names its client, although approve/push payloads hold only the invoice id
    invoice_events = [row for row in everything if row.entity == "invoice"]
    assert invoice_events and all(row.clients in (("Acme Dental",), ("Beta Law",)) for row in invoice_events)
    assert "Beta Law" not in {name for row in found for name in row.clients}


def test_the_audit_page_shows_the_client_and_finds_it(pushed: Config) -> None:
    at = signed_in("admin", "pages/audit.py")
    assert not at.exception, at.exception
    at.text_input(key="audit_text").set_value("Beta Law").run()
    assert not at.exception, at.exception
    table: pd.DataFrame = next(f.value for f in at.dataframe if "Details" in f.value.columns)
    assert set(table["Client"]) == {"Beta Law"}
    assert {"Approved an invoice", "Pushed an invoice"} <= set(table["Action"])
    assert all(when.endswith(" UTC") for when in table["When"])
