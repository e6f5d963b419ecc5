"""Contracts from ConnectWise PSA, over a real socket: the preview names what would be added, changed,
ended or in conflict (with money), applying it is audited and all-or-nothing, and nothing changes the
book until a person applies it."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from collectors.connectwise import agreement_skip_reason, to_lines, to_org
from collectors.sync import sync_source
from mcc import psa_contracts
from mcc.cli import app
from mcc.config import Config
from mcc.errors import MalformedPayload, PermissionDenied
from mcc.permissions import Actor
from sandbox.connectwise import ConnectWiseFake, addition, agreement
from store.book import import_book
from store.db import reading
from store.models import AuditEvent, Contract
from tests.sources.conftest import TEST_POLICY

ADMIN = Actor("alice", frozenset({"admin"}))
VIEWER = Actor("victor", frozenset({"viewer"}))
TODAY = date(2026, 11, 15)
ACME = {"id": 250, "identifier": "AcmeDental", "name": "Acme Dental"}
BIRCH = {"id": 251, "identifier": "BirchLegal", "name": "Birch Legal"}
CEDAR = {"id": 252, "identifier": "CedarClinic", "name": "Cedar Clinic"}
GONE = {"id": 253, "identifier": "OldCo", "name": "Old Co", "deletedFlag": True}

BOOK = """
currency = "USD"

[[products]]
code = "WS"
name = "Managed workstation"
unit_price = "45.00"

[[products]]
code = "M365-BP"
name = "Microsoft 365 Business Premium"
unit_price = "22.00"

[[clients]]
name = "Acme Dental"
accounting_id = "58"
orgs = { cw = "250" }

[[clients]]
name = "Birch Legal"
accounting_id = "59"
orgs = { cw = "251" }

[[contracts]]
client = "Birch Legal"
product = "M365-BP"
quantity = 40
start = "2026-01-01"
"""


def _world() -> ConnectWiseFake:
    agreements = [
        agreement(11, ACME, "Acme managed services"),
        agreement(12, BIRCH, "Birch managed services"),
        agreement(13, CEDAR, "Cedar managed services"),
        agreement(14, GONE, "Old Co agreement"),
        agreement(15, ACME, "Acme internal", cycle="None"),
    ]
    additions = {
        11: [
            addition(101, "WS", 680, 45.0, effective="2026-03-01T00:00:00Z"),
            addition(102, "BACKUP", 5, 3.0),
        ],
        12: [addition(201, "M365-BP", 47, 22.0, unit_cost=12.5), addition(202, "WS", 2.5, 45.0)],
        13: [addition(301, "WS", 10, 45.0)],
        14: [addition(401, "WS", 9, 45.0)],
        15: [addition(501, "WS", 1000, 45.0)],
    }
    return ConnectWiseFake([ACME, BIRCH, CEDAR, GONE], agreements, additions)


@pytest.fixture
def fake():
    fake = _world()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def config(write_config, fake: ConnectWiseFake, monkeypatch: pytest.MonkeyPatch) -> Config:
    for key, value in {
        "COMPANY": "sandboxmsp",
        "PUBLIC_KEY": "cw-public",
        "PRIVATE_KEY": "cw-private",
        "CLIENT_ID": fake.client_id,
    }.items():
        monkeypatch.setenv(f"MCC_CW_{key}", value)
    return write_config(
        f'[[sources]]\nname = "cw"\nkind = "connectwise"\nbase_url = "{fake.url}/v4_6_release/apis/3.0"\n'
    )


@pytest.fixture
def book(engine: Engine, config: Config) -> Engine:
    import_book(engine, config, BOOK.encode(), ADMIN, name="book.toml")
    return engine


def _read(engine: Engine, config: Config) -> None:
    results = sync_source(engine, config, "cw", policy=TEST_POLICY)
    assert all(result.ok for result in results), [result.error for result in results]


def _lines(engine: Engine, client_name: str, code: str) -> list[tuple[int, date, date | None, str | None]]:
    from store.models import Client, Product

    with reading(engine) as session:
        rows = session.execute(
            select(Contract.quantity, Contract.start, Contract.end, Contract.origin)
            .join(Client, Client.id == Contract.client_id)
            .join(Product, Product.id == Contract.product_id)
            .where(Client.name == client_name, Product.code == code)
            .order_by(Contract.start)
        ).all()
    return [tuple(row) for row in rows]


def test_preview_lists_every_kind_of_change_with_money(book: Engine, config: Config) -> None:
    _read(book, config)
    preview = psa_contracts.preview(book, config, "cw", today=TODAY)
    by_kind = {(c.kind, c.client, c.product): c for c in preview.changes}
    added = by_kind[("added", "Acme Dental", "WS")]
    assert (added.new_quantity, added.start, added.monthly_delta_cents) == (680, date(2026, 3, 1), 680 * 4500)
    conflict = by_kind[("conflict", "Birch Legal", "M365-BP")]
    assert (conflict.old_quantity, conflict.new_quantity, conflict.monthly_delta_cents) == (40, 47, 7 * 2200)
    assert preview.unmapped_orgs == [("252", "Cedar Clinic")]  # the recycle-bin company is not listed at all
    assert preview.unmapped_products == [("BACKUP", 1)]
    reasons = dict(preview.skipped)
    assert any("2.5 is not a whole number" in reason for reason in reasons.values())
    assert len(preview.changes) == 2  # "None" billing cycle and the deleted company's agreement are left out
    assert _lines(book, "Acme Dental", "WS") == []  # a preview changes nothing


def test_apply_adds_lines_leaves_conflicts_and_is_audited(book: Engine, config: Config) -> None:
    _read(book, config)
    psa_contracts.apply(book, config, "cw", ADMIN, today=TODAY)
    assert _lines(book, "Acme Dental", "WS") == [(680, date(2026, 3, 1), None, "psa:cw:11/101")]
    assert _lines(book, "Birch Legal", "M365-BP") == [(40, date(2026, 1, 1), None, None)]  # conflict kept
    with reading(book) as session:
        actor, payload = session.execute(
            select(AuditEvent.actor, AuditEvent.payload).where(AuditEvent.action == "contracts.sync")
        ).one()
    assert (
        actor == "alice"
        and '"added":1' in payload.replace(" ", "")
        and '"conflict":1' in payload.replace(" ", "")
    )
    again = psa_contracts.preview(book, config, "cw", today=TODAY)
    assert [c.kind for c in again.changes] == ["unchanged", "conflict"]


def test_taking_the_psa_figure_closes_the_book_line_at_month_end(book: Engine, config: Config) -> None:
    _read(book, config)
    psa_contracts.apply(book, config, "cw", ADMIN, take_psa=True, today=TODAY)
    assert _lines(book, "Birch Legal", "M365-BP") == [
        (40, date(2026, 1, 1), date(2026, 10, 31), None),
        (47, date(2026, 11, 1), None, "psa:cw:12/201"),
    ]


def test_later_psa_changes_become_changed_and_closed_lines(
    book: Engine, config: Config, fake: ConnectWiseFake
) -> None:
    _read(book, config)
    psa_contracts.apply(book, config, "cw", ADMIN, today=date(2026, 10, 5))
    fake.additions[11] = [addition(101, "WS", 712, 45.0, effective="2026-03-01T00:00:00Z")]
    _read(book, config)
    changed = psa_contracts.preview(book, config, "cw", today=TODAY).of_kind("changed")
    assert [(c.old_quantity, c.new_quantity, c.monthly_delta_cents) for c in changed] == [
        (680, 712, 32 * 4500)
    ]
    psa_contracts.apply(book, config, "cw", ADMIN, today=TODAY)
    assert _lines(book, "Acme Dental", "WS") == [
        (680, date(2026, 3, 1), date(2026, 10, 31), "psa:cw:11/101"),
        (712, date(2026, 11, 1), None, "psa:cw:11/101"),
    ]
    fake.agreements = [row for row in fake.agreements if row["id"] != 11]
    _read(book, config)  # every line of the company gone: held as a suspicious drop, lines kept
    assert psa_contracts.preview(book, config, "cw", today=date(2026, 12, 2)).of_kind("closed") == []
    _read(book, config)  # the next read reports the same: the agreement really closed
    closed = psa_contracts.preview(book, config, "cw", today=date(2026, 12, 2)).of_kind("closed")
    assert [(c.client, c.old_quantity, c.end) for c in closed] == [("Acme Dental", 712, date(2026, 12, 1))]


def test_only_an_admin_applies(book: Engine, config: Config) -> None:
    _read(book, config)
    with pytest.raises(PermissionDenied):
        psa_contracts.apply(book, config, "cw", VIEWER, today=TODAY)
    assert _lines(book, "Acme Dental", "WS") == []


def test_cli_previews_then_applies(book: Engine, config: Config, cli_user) -> None:
    runner = CliRunner(env={"COLUMNS": "200"})
    refused = runner.invoke(app, ["contracts", "sync", "cw", "--apply"])
    assert refused.exit_code == 1 and "--as" in refused.output
    cli_user("alice", "admin")
    shown = runner.invoke(app, ["contracts", "sync", "cw"])
    assert shown.exit_code == 0, shown.output
    assert "conflict with the book" in shown.output and "--apply" in shown.output
    assert _lines(book, "Acme Dental", "WS") == []
    applied = runner.invoke(app, ["contracts", "sync", "cw", "--apply", "--no-fetch"])
    assert applied.exit_code == 0, applied.output
    assert "applied 1 change(s)" in applied.output
    assert len(_lines(book, "Acme Dental", "WS")) == 1


def test_a_source_that_lists_no_contracts_is_refused(book: Engine, write_config) -> None:
    config = write_config('[[sources]]\nname = "ninja"\nkind = "ninjaone"\n')
    with pytest.raises(psa_contracts.PsaContractsError, match="does not list contracts"):
        psa_contracts.preview(book, config, "ninja")


def test_payload_rules_without_http() -> None:
    assert to_org(GONE) is None and to_org(ACME).name == "Acme Dental"
    assert agreement_skip_reason(agreement(1, ACME, "x", cycle="None"), set()) == 'billing cycle is "None"'
    assert (
        agreement_skip_reason(agreement(1, ACME, "x", status="Expired"), set())
        == "agreement status is Expired"
    )
    assert agreement_skip_reason(agreement(1, GONE, "x"), {"253"}) == "its company is in the recycle bin"
    ended = agreement(2, ACME, "x", end="2026-12-31T00:00:00Z")
    [line] = to_lines(ended, [addition(9, "WS", 3, 45.5, cancelled="2027-02-01T00:00:00Z")])
    assert (line.quantity, line.unit_price, line.end) == (Decimal("3"), Decimal("45.5"), date(2026, 12, 31))
    [cancelled] = to_lines(
        agreement(3, ACME, "x"), [addition(9, "WS", 3, 45.0, cancelled="2026-11-16T00:00:00Z")]
    )
    assert cancelled.end == date(2026, 11, 15)
    with pytest.raises(MalformedPayload, match="quantity is not a number"):
        list(to_lines(agreement(4, ACME, "x"), [{**addition(9, "WS", 1, 1.0), "quantity": "lots"}]))
    with pytest.raises(MalformedPayload, match="no product identifier"):
        list(to_lines(agreement(4, ACME, "x"), [{**addition(9, "WS", 1, 1.0), "product": {}}]))


def test_billing_config_shows_the_preview_and_an_admin_applies_it(
    book: Engine, config: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.app_support import prepare, signed_in, texts

    _read(book, config)
    prepare(book, monkeypatch)
    viewer = signed_in("viewer", "pages/billing_config.py")
    assert not viewer.exception
    assert "PSA contracts changed: 2 line(s)" in texts(viewer)
    assert viewer.button(key="psa_apply").disabled
    at = signed_in("admin", "pages/billing_config.py")
    assert not at.exception
    assert "Unmapped PSA company: Cedar Clinic" in texts(at)
    at.button(key="psa_apply").click().run()
    assert not at.exception
    assert [row[0] for row in _lines(book, "Acme Dental", "WS")] == [680]
    assert _lines(book, "Birch Legal", "M365-BP")[0][0] == 40  # the conflict waits for a person
    at.checkbox(key="psa_take").check().run()
    at.button(key="psa_apply").click().run()
    assert [row[0] for row in _lines(book, "Birch Legal", "M365-BP")] == [40, 47]


def test_sync_and_the_worker_flag_psa_contract_changes_without_applying(
    book: Engine, config: Config, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    from collectors.worker import Worker, WorkerOptions

    runner = CliRunner(env={"COLUMNS": "200"})
    synced = runner.invoke(app, ["sync", "cw"])
    assert synced.exit_code == 0, synced.output
    notice = "PSA contracts changed: 1 added, 1 conflict — run `mcc contracts sync cw`"
    assert f"cw: {notice}" in synced.output
    assert _lines(book, "Acme Dental", "WS") == []  # flagged, not applied
    caplog.set_level(logging.INFO, logger="collectors.worker")
    summary = Worker(book, config, options=WorkerOptions(tick=0.05, policy=TEST_POLICY)).run(once=True)
    assert (summary.runs, summary.failures) == (1, 0)
    assert f"cw: {notice}" in caplog.text
    assert _lines(book, "Acme Dental", "WS") == []
    # once the book agrees with the PSA, neither says anything
    psa_contracts.apply(book, config, "cw", ADMIN, take_psa=True)
    quiet = runner.invoke(app, ["sync", "cw"])
    assert quiet.exit_code == 0 and "PSA contracts changed" not in quiet.output


def test_the_change_notice_names_each_kind_found() -> None:
    preview = psa_contracts.ContractPreview("halo", TODAY)
    assert psa_contracts.change_notice(preview) is None
    change = psa_contracts.ContractChange("added", "A", "WS", None, 1, None, 100, TODAY, None, 100, "1")
    preview.changes = (
        [change] * 3
        + [psa_contracts.ContractChange("conflict", "B", "WS", 2, 3, 100, 100, TODAY, None, 100, "2")] * 2
        + [psa_contracts.ContractChange("unchanged", "C", "WS", 1, 1, 100, 100, TODAY, None, 0, "3")]
    )
    assert psa_contracts.change_notice(preview) == (
        "PSA contracts changed: 3 added, 2 conflicts — run `mcc contracts sync halo`"
    )
