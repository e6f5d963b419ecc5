"""Undo: a reversing, audited decision for one decision or a whole bulk batch. The gap is open again, what
the decision did to the book is taken back, and an undo is refused once the decision is on a sent invoice."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import DatabaseError
from typer.testing import CliRunner

from accounting.drafts import plan_draft
from mcc import users
from mcc.cli import app
from mcc.config import Config
from mcc.errors import MccError, PermissionDenied
from mcc.permissions import Actor
from mcc.reconciliation import reconcile_period
from mcc.review import GapFilter, decide, decide_bulk
from mcc.undo import undo, undo_batch
from store.audit import verify_chain
from store.db import reading, transaction
from store.models import AuditEvent, Client, Contract, Decision, Exclusion, Invoice, InvoiceLine
from tests.reconcile_seed import DbBook

APPROVER = Actor("alice", frozenset({"approver"}))
VIEWER = Actor("victor", frozenset({"viewer"}))
CONFIG = Config()
TODAY = date(2026, 3, 20)


@pytest.fixture
def book(engine: Engine) -> DbBook:
    book = DbBook(engine)
    book.product("WS", 4500)
    book.product("M365", 2200, category="identity")
    book.mapping("WS", "ninja", "devices")
    book.mapping("M365", "m365", "users")
    book.client("Acme Dental", ninja="12", m365="t-acme")
    book.client("Birch Law", ninja="13")
    book.contract("Acme Dental", "WS", 680, date(2025, 1, 1), unit_price_cents=4500)
    book.contract("Acme Dental", "M365", 40, date(2025, 1, 1))
    book.contract("Birch Law", "WS", 10, date(2025, 1, 1))
    book.months("ninja", "12", "devices", {"2026-02": 700, "2026-03": 712})
    book.months("ninja", "13", "devices", {"2026-03": 13})
    book.count("m365", "t-acme", "users", "2026-03", 47)
    for n in range(7):
        book.entity("m365", "t-acme", "users", f"shared-{n}", user_purpose="shared")
    return book


def gap(engine: Engine, client: str, product: str, period: str = "2026-03") -> dict[str, object]:
    gaps = reconcile_period(engine, CONFIG, period, today=TODAY).gaps
    return gaps.filter((pl.col("client") == client) & (pl.col("product_code") == product)).row(0, named=True)


def totals(engine: Engine) -> dict[str, int]:
    return dict(reconcile_period(engine, CONFIG, "2026-03", today=TODAY).totals)


def one(engine: Engine, book: DbBook, action: str, product: str = "WS", **fields: object) -> Decision:
    return decide(
        engine,
        APPROVER,
        client_id=book.clients["Acme Dental"],
        product_code=product,
        period="2026-03",
        action=action,
        config=CONFIG,
        **fields,  # type: ignore[arg-type]
    )


def test_undoing_a_bump_restores_the_contract_and_opens_the_gap(engine: Engine, book: DbBook) -> None:
    before = gap(engine, "Acme Dental", "WS")
    open_before = totals(engine)
    bump = one(engine, book, "bump", quantity=712)
    assert gap(engine, "Acme Dental", "WS")["status"] == "match"
    done = undo(engine, APPROVER, bump.id, note="bumped the wrong client")
    with reading(engine) as session:
        lines = [
            (c.quantity, c.start, c.end, c.decision_id)
            for c in session.scalars(
                select(Contract)
                .where(
                    Contract.client_id == book.clients["Acme Dental"],
                    Contract.product_id == book.products["WS"],
                )
                .order_by(Contract.id)
            )
        ]
        written = session.get(Decision, done.undos[0].id)
        assert written is not None
        stored = (written.action, written.reverses_decision_id, written.author, written.note)
        events = [e.action for e in session.scalars(select(AuditEvent).order_by(AuditEvent.id))]
        assert verify_chain(session).ok
    assert lines == [(680, date(2025, 1, 1), None, None)]
    assert stored == ("undo", bump.id, "alice", "bumped the wrong client")
    assert events == ["decision.bump", "decision.undo"]
    after = gap(engine, "Acme Dental", "WS")
    assert (after["status"], after["billed_qty"], after["decision"], after["open"]) == (
        before["status"],
        680,
        None,
        True,
    )
    assert totals(engine) == open_before


def test_undoing_an_exclusion_revokes_it_and_the_count_comes_back(engine: Engine, book: DbBook) -> None:
    excluded = one(engine, book, "exclude", product="M365", entity_ids=["shared-0", "shared-1"])
    assert gap(engine, "Acme Dental", "M365")["excluded_qty"] == 2
    undo(engine, APPROVER, excluded.id)
    with reading(engine) as session:
        revoked = [(e.revoked_by, e.revoked_at is not None) for e in session.scalars(select(Exclusion))]
    assert revoked == [("alice", True), ("alice", True)]
    after = gap(engine, "Acme Dental", "M365")
    assert (after["excluded_qty"], after["decision"], after["open"]) == (0, None, True)


def test_undoing_a_write_off_offers_its_months_and_money_again(engine: Engine, book: DbBook) -> None:
    before = gap(engine, "Acme Dental", "WS")
    written_off = one(engine, book, "write_off", note="goodwill")
    assert gap(engine, "Acme Dental", "WS")["written_off_monthly_cents"] == before["monthly_amount_cents"]
    undo(engine, APPROVER, written_off.id)
    after = gap(engine, "Acme Dental", "WS")
    assert (after["open"], after["open_monthly_cents"], after["back_bill_cents"]) == (
        True,
        before["open_monthly_cents"],
        before["back_bill_cents"],
    )
    assert after["written_off_monthly_cents"] == 0


def test_an_earlier_decision_stands_again_when_the_later_one_is_undone(engine: Engine, book: DbBook) -> None:
    one(engine, book, "defer")
    written_off = one(engine, book, "write_off")
    undo(engine, APPROVER, written_off.id)
    assert gap(engine, "Acme Dental", "WS")["decision"] == "defer"


def test_an_undo_cannot_be_undone_and_a_decision_is_undone_once(engine: Engine, book: DbBook) -> None:
    deferred = one(engine, book, "defer")
    done = undo(engine, APPROVER, deferred.id)
    with pytest.raises(MccError, match=f"#{deferred.id} was already undone by #{done.undos[0].id}"):
        undo(engine, APPROVER, deferred.id)
    with pytest.raises(MccError, match="is itself an undo"):
        undo(engine, APPROVER, done.undos[0].id)
    with pytest.raises(MccError, match="no decision #999"):
        undo(engine, APPROVER, 999)


def _invoice(engine: Engine, book: DbBook, decision: Decision, status: str) -> int:
    with transaction(engine) as session:
        invoice = Invoice(
            client_id=book.clients["Acme Dental"],
            period="2026-03",
            status=status,
            currency="USD",
            created_by="ivy",
            remote_number="1043" if status == "pushed" else None,
            basis={"decisions": [decision.id], "time_entries": {}},
        )
        invoice.lines.append(
            InvoiceLine(
                position=1,
                kind="back_bill",
                item_code="WS",
                description="Back-bill",
                quantity=1,
                unit_price_cents=90_000,
                amount_cents=90_000,
                decision_id=decision.id,
            )
        )
        session.add(invoice)
        session.flush()
        return invoice.id


def test_undo_is_refused_once_the_decision_is_on_a_pushed_invoice(engine: Engine, book: DbBook) -> None:
    back_bill = one(engine, book, "back_bill")
    invoice_id = _invoice(engine, book, back_bill, "pushed")
    with pytest.raises(
        MccError, match=rf"is on invoice #{invoice_id}, already sent to the accounting system as 1043"
    ):
        undo(engine, APPROVER, back_bill.id)
    with reading(engine) as session:
        assert session.scalars(select(Decision).where(Decision.action == "undo")).all() == []
    assert gap(engine, "Acme Dental", "WS")["decision"] == "back_bill"


def test_a_draft_invoice_does_not_stop_an_undo_and_is_rebuilt_without_it(
    engine: Engine, book: DbBook
) -> None:
    back_bill = one(engine, book, "back_bill")
    with reading(engine) as session:
        client = session.get(Client, book.clients["Acme Dental"])
        assert client is not None
        assert [line.kind for line in plan_draft(session, client, "2026-03").lines].count("back_bill") == 1
    _invoice(engine, book, back_bill, "draft")
    undo(engine, APPROVER, back_bill.id)
    with reading(engine) as session:
        client = session.get(Client, book.clients["Acme Dental"])
        assert client is not None
        assert [line.kind for line in plan_draft(session, client, "2026-03").lines].count("back_bill") == 0
    assert gap(engine, "Acme Dental", "WS")["back_bill_cents"] == 20 * 4500


def test_a_bulk_decision_is_undone_as_a_whole(engine: Engine, book: DbBook) -> None:
    open_before = totals(engine)
    decided = decide_bulk(
        engine,
        APPROVER,
        GapFilter(status="under_billed"),
        "write_off",
        "small",
        config=CONFIG,
        period="2026-03",
        today=TODAY,
    )
    assert len(decided) >= 2
    done = undo_batch(engine, APPROVER, decided[0].batch_id or "", note="wrong filter")
    assert sorted(d.id for d in done.reversed) == sorted(d.id for d in decided)
    assert len({d.batch_id for d in done.undos}) == 1 and done.batch_id != decided[0].batch_id
    with reading(engine) as session:
        bulk_events = [e.action for e in session.scalars(select(AuditEvent)) if "bulk" in e.action]
    assert bulk_events == ["decision.bulk", "decision.bulk_undo"]
    assert totals(engine) == open_before
    with pytest.raises(MccError, match="already undone"):
        undo_batch(engine, APPROVER, decided[0].batch_id or "")


def test_a_viewer_may_not_undo(engine: Engine, book: DbBook) -> None:
    deferred = one(engine, book, "defer")
    with pytest.raises(PermissionDenied):
        undo(engine, VIEWER, deferred.id)


def test_decisions_stay_append_only_after_the_undo_migration(engine: Engine, book: DbBook) -> None:
    one(engine, book, "defer")
    for statement in ("UPDATE decisions SET note = 'x'", "DELETE FROM decisions"):
        with pytest.raises(DatabaseError, match="append-only"), transaction(engine) as session:
            session.execute(text(statement))


def test_mcc_undo_reverses_a_decision_as_the_named_user(
    engine: Engine, book: DbBook, write_config, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_config()
    monkeypatch.setattr(users, "BCRYPT_ROUNDS", 4)
    users.add_user(
        engine,
        Actor("setup", frozenset({"admin"})),
        "sam",
        name="Sam",
        password="a long enough password",
        roles=["approver"],
    )
    deferred = one(engine, book, "defer")
    runner = CliRunner(env={"COLUMNS": "200"})
    result = runner.invoke(app, ["undo", str(deferred.id), "--as", "sam", "--note", "not yet"])
    assert result.exit_code == 0, result.output
    assert f"undid defer #{deferred.id}" in result.output
    again = runner.invoke(app, ["undo", str(deferred.id), "--as", "sam"])
    assert again.exit_code == 1 and "already undone" in again.stderr
    with reading(engine) as session:
        written = session.scalars(select(Decision).where(Decision.action == "undo")).one()
        assert (written.author, written.note) == ("sam", "not yet")


def test_a_bulk_write_off_needs_a_note(engine: Engine, book: DbBook) -> None:
    with pytest.raises(MccError, match="bulk write-off needs a note"):
        decide_bulk(
            engine, APPROVER, GapFilter(), "write_off", "  ", config=CONFIG, period="2026-03", today=TODAY
        )
    with reading(engine) as session:
        assert session.scalars(select(Decision)).all() == []
