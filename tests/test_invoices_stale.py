"""A draft knows the decisions and time entries it was built from: a later decision for its client and
period, or a change to one of its time entries, makes it stale — shown in the list, refused at approve
and push until it is rebuilt. A pushed invoice is never changed."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from mcc import invoicing
from mcc.cli import app
from mcc.config import Config
from mcc.errors import MccError
from store.db import reading, transaction
from store.models import AuditEvent, Decision, Invoice, TimeEntry
from tests.invoicebook import ACME_TOTAL, APPROVER, INVOICER, PERIOD, Book, seed


def _acme_draft(engine: Engine, config: Config, book: Book) -> Invoice:
    drafts = invoicing.build_drafts(engine, config, APPROVER, PERIOD, book.acme)
    assert len(drafts) == 1
    return drafts[0]


def _stale(engine: Engine, invoice_id: int) -> str | None:
    listing = invoicing.list_invoices(engine, period=PERIOD)
    return listing.filter(listing["id"] == invoice_id)["stale"].item()


def _decide_back_bill(engine: Engine, book: Book, cents: int, author: str = "alex") -> int:
    with transaction(engine) as session:
        decision = Decision(
            client_id=book.acme,
            product_id=book.m365,
            period=PERIOD,
            action="back_bill",
            quantity=3,
            amount_cents=6150,
            back_bill_cents=cents,
            author=author,
            gap={"back_bill_months": 2},
        )
        session.add(decision)
        session.flush()
        return decision.id


@pytest.fixture
def file_config(tmp_path: Path) -> Config:
    return Config.model_validate({"accounting": {"kind": "file", "path": str(tmp_path / "exports")}})


def test_a_later_decision_makes_the_draft_stale_and_approve_waits_for_a_rebuild(
    engine: Engine, file_config: Config
) -> None:
    book = seed(engine)
    draft = _acme_draft(engine, file_config, book)
    assert _stale(engine, draft.id) is None
    decision_id = _decide_back_bill(engine, book, 12300, author="bea")
    reason = _stale(engine, draft.id)
    assert reason == f"1 decision(s) recorded after it was built (first: #{decision_id} back_bill by bea)"
    with pytest.raises(MccError, match=rf"invoice {draft.id} is stale .*rebuild it first"):
        invoicing.approve(engine, INVOICER, draft.id)
    assert invoicing.get_invoice(engine, draft.id).status == "draft"
    rebuilt = _acme_draft(engine, file_config, book)
    assert rebuilt.id == draft.id and rebuilt.total_cents == ACME_TOTAL + 12300
    assert _stale(engine, draft.id) is None
    assert invoicing.approve(engine, INVOICER, draft.id).status == "approved"


def test_an_approved_invoice_gone_stale_is_not_pushed_and_a_rebuild_reopens_it(
    engine: Engine, file_config: Config, tmp_path: Path
) -> None:
    book = seed(engine)
    draft = _acme_draft(engine, file_config, book)
    invoicing.approve(engine, INVOICER, draft.id)
    _decide_back_bill(engine, book, 5000)
    [refused] = invoicing.push(engine, file_config, INVOICER, period=PERIOD, client_id=book.acme)
    assert refused.status == "stale" and not refused.ok
    assert "not sent" in (refused.message or "") and "rebuild it first" in (refused.message or "")
    assert not (tmp_path / "exports").exists()
    assert invoicing.get_invoice(engine, draft.id).status == "approved"
    reopened = _acme_draft(engine, file_config, book)
    assert (reopened.id, reopened.status, reopened.total_cents) == (draft.id, "draft", ACME_TOTAL + 5000)
    with reading(engine) as session:
        actions = session.scalars(
            select(AuditEvent.action).where(AuditEvent.entity_id == str(draft.id))
        ).all()
    assert "invoice.reopened_stale" in actions
    invoicing.approve(engine, INVOICER, draft.id)
    [pushed] = invoicing.push(engine, file_config, INVOICER, period=PERIOD, client_id=book.acme)
    assert pushed.status == "pushed", pushed.message


@pytest.mark.parametrize("change", ["hours", "rate", "write_off", "unapprove"])
def test_a_change_to_one_of_its_time_entries_makes_the_draft_stale(
    engine: Engine, file_config: Config, change: str
) -> None:
    book = seed(engine)
    draft = _acme_draft(engine, file_config, book)
    entry_id = book.time_entries[0]
    with transaction(engine) as session:
        entry = session.get_one(TimeEntry, entry_id)
        if change == "hours":
            entry.hours = Decimal("2.5")
        elif change == "rate":
            entry.rate_cents = 16000
        elif change == "write_off":
            entry.written_off_at = entry.approved_at
        else:
            entry.approved_at = None
    assert _stale(engine, draft.id) == f"time entry {entry_id} changed"
    with pytest.raises(MccError, match="is stale"):
        invoicing.approve(engine, INVOICER, draft.id)
    _acme_draft(engine, file_config, book)
    assert _stale(engine, draft.id) is None


def test_a_pushed_invoice_is_never_changed_by_later_decisions(engine: Engine, file_config: Config) -> None:
    book = seed(engine)
    draft = _acme_draft(engine, file_config, book)
    invoicing.approve(engine, INVOICER, draft.id)
    [pushed] = invoicing.push(engine, file_config, INVOICER, period=PERIOD, client_id=book.acme)
    assert pushed.ok
    before = invoicing.get_invoice(engine, draft.id)
    late = _decide_back_bill(engine, book, 7000)
    [again] = invoicing.build_drafts(engine, file_config, APPROVER, PERIOD, book.acme)
    after = invoicing.get_invoice(engine, draft.id)
    assert again.id == draft.id and after.status == "pushed"
    assert (after.revision, after.total_cents, len(after.lines)) == (
        before.revision,
        before.total_cents,
        len(before.lines),
    )
    assert _stale(engine, draft.id) is None  # settled: nothing to rebuild
    # the late back-bill goes on the next invoice, once
    [april] = invoicing.build_drafts(engine, file_config, APPROVER, "2026-04", book.acme)
    carried = [line for line in april.lines if line.decision_id == late]
    assert [(line.kind, line.amount_cents) for line in carried] == [("back_bill", 7000)]
    assert "decided after the Mar 2026 invoice" in carried[0].description
    [may] = invoicing.build_drafts(engine, file_config, APPROVER, "2026-05", book.acme)
    assert late not in [line.decision_id for line in may.lines]  # already on April's draft
    [rebuilt] = invoicing.build_drafts(engine, file_config, APPROVER, "2026-04", book.acme)
    assert [line.decision_id for line in rebuilt.lines].count(late) == 1


def test_invoices_list_on_the_cli_marks_a_stale_draft(context, write_config, cli_user) -> None:
    write_config()
    book = seed(context.engine)
    cli_user("ines", "invoicer")
    runner = CliRunner(env={"COLUMNS": "250"})
    assert runner.invoke(app, ["invoices", "draft", "--period", PERIOD]).exit_code == 0
    fresh = runner.invoke(app, ["invoices", "list", "--period", PERIOD])
    assert "stale" not in fresh.output
    _decide_back_bill(context.engine, book, 100)
    listed = runner.invoke(app, ["invoices", "list", "--period", PERIOD])
    assert listed.exit_code == 0
    assert "(stale)" in listed.output and "stale:" in listed.output  # the table may wrap a cell's words
    refused = runner.invoke(app, ["invoices", "approve", "1"])
    assert refused.exit_code == 1 and "invoice 1 is stale" in refused.stderr


def test_undoing_a_back_bill_carried_to_the_next_draft_makes_that_draft_stale(
    engine: Engine, file_config: Config
) -> None:
    from mcc.undo import undo

    book = seed(engine)
    draft = _acme_draft(engine, file_config, book)
    invoicing.approve(engine, INVOICER, draft.id)
    [pushed] = invoicing.push(engine, file_config, INVOICER, period=PERIOD, client_id=book.acme)
    assert pushed.ok
    late = _decide_back_bill(engine, book, 7000)
    [april] = invoicing.build_drafts(engine, file_config, APPROVER, "2026-04", book.acme)
    assert late in [line.decision_id for line in april.lines]
    undo(engine, APPROVER, late, note="billed by hand already")
    listing = invoicing.list_invoices(engine, period="2026-04")
    stale = listing.filter(listing["id"] == april.id)["stale"].item()
    assert stale is not None and f"#{late + 1} undo" in stale
    with pytest.raises(MccError):
        invoicing.approve(engine, INVOICER, april.id)
    [rebuilt] = invoicing.build_drafts(engine, file_config, APPROVER, "2026-04", book.acme)
    assert late not in [line.decision_id for line in rebuilt.lines]
