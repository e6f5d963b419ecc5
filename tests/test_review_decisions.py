"""Decisions on gaps: one append-only row and one audit event each, and they show up in later
reconciliations (a bump removes the gap, an exclusion lowers the count, a write-off stays decided)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import polars as pl
import pytest
from sqlalchemy import Engine, select

from mcc.config import Config
from mcc.errors import MccError, PermissionDenied
from mcc.permissions import Actor
from mcc.reconciliation import reconcile_period
from mcc.review import GapFilter, approve_time, decide, decide_bulk, write_off_time
from store.audit import verify_chain
from store.db import reading, transaction
from store.models import AuditEvent, Contract, Decision, Exclusion, TimeEntry
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


def test_bump_closes_the_line_and_opens_one_so_the_gap_goes(engine: Engine, book: DbBook) -> None:
    decision = decide(
        engine,
        APPROVER,
        client_id=book.clients["Acme Dental"],
        product_code="WS",
        period="2026-03",
        action="bump",
        quantity=712,
        effective_date=date(2026, 3, 1),
        note="owner agreed on the phone",
        config=CONFIG,
    )
    with reading(engine) as session:
        lines = session.scalars(
            select(Contract).where(Contract.product_id == book.products["WS"]).order_by(Contract.id)
        ).all()
        acme = [
            (c.quantity, c.start, c.end, c.decision_id, c.unit_price_cents)
            for c in lines
            if c.client_id == book.clients["Acme Dental"]
        ]
        stored = session.get(Decision, decision.id)
        assert stored is not None
        row = (stored.author, stored.amount_cents, stored.note, stored.gap["since"])
        events = [(e.action, e.payload) for e in session.scalars(select(AuditEvent))]
    assert acme == [
        (680, date(2025, 1, 1), date(2026, 2, 28), None, 4500),
        (712, date(2026, 3, 1), None, decision.id, 4500),
    ]
    assert row == ("alice", 144_000, "owner agreed on the phone", "2026-02")
    assert [action for action, _ in events] == ["decision.bump"]
    assert '"note":"owner agreed on the phone"' in events[0][1]
    after = gap(engine, "Acme Dental", "WS")
    assert (after["status"], after["billed_qty"], after["decision"]) == ("match", 712, "bump")
    # the previous month still shows its own gap against the old line
    assert gap(engine, "Acme Dental", "WS", "2026-02")["status"] == "under_billed"


def test_back_bill_records_amount_and_months(engine: Engine, book: DbBook) -> None:
    decision = decide(
        engine,
        APPROVER,
        client_id=book.clients["Acme Dental"],
        product_code="WS",
        period="2026-03",
        action="back_bill",
        config=CONFIG,
    )
    assert decision.back_bill_cents == 20 * 4500
    assert decision.gap["back_bill_months"] == ["2026-02"]
    assert gap(engine, "Acme Dental", "WS")["back_bill_cents"] == 0  # already covered: not offered twice
    with pytest.raises(MccError, match="nothing to back-bill"):
        decide(
            engine,
            APPROVER,
            client_id=book.clients["Birch Law"],
            product_code="WS",
            period="2026-03",
            action="back_bill",
            config=CONFIG,
        )


def test_exclude_entities_creates_exclusions_and_lowers_the_count(engine: Engine, book: DbBook) -> None:
    decide(
        engine,
        APPROVER,
        client_id=book.clients["Acme Dental"],
        product_code="M365",
        period="2026-03",
        action="exclude",
        entity_ids=[f"shared-{n}" for n in range(7)],
        reason="shared mailboxes are not billed",
        config=CONFIG,
    )
    with reading(engine) as session:
        reasons = [e.reason for e in session.scalars(select(Exclusion))]
    assert reasons == ["shared mailboxes are not billed"] * 7
    after = gap(engine, "Acme Dental", "M365")
    assert (after["observed_qty"], after["excluded_qty"], after["status"]) == (47, 7, "match")
    with pytest.raises(MccError, match="not one of this client's"):
        decide(
            engine,
            APPROVER,
            client_id=book.clients["Birch Law"],
            product_code="WS",
            period="2026-03",
            action="exclude",
            entity_ids=["shared-1"],
            config=CONFIG,
        )


def test_write_off_stays_decided_for_its_period(engine: Engine, book: DbBook) -> None:
    decide(
        engine,
        APPROVER,
        client_id=book.clients["Birch Law"],
        product_code="WS",
        period="2026-03",
        action="write_off",
        note="goodwill",
        config=CONFIG,
    )
    after = gap(engine, "Birch Law", "WS")
    assert (after["status"], after["decision"], after["decision_note"]) == (
        "under_billed",
        "write_off",
        "goodwill",
    )
    assert reconcile_period(engine, CONFIG, "2026-03").totals["open_gaps"] == 2


def test_viewer_may_not_decide_and_nothing_is_written(engine: Engine, book: DbBook) -> None:
    with pytest.raises(PermissionDenied, match="approver"):
        decide(
            engine,
            VIEWER,
            client_id=book.clients["Birch Law"],
            product_code="WS",
            period="2026-03",
            action="defer",
        )
    with pytest.raises(PermissionDenied):
        decide_bulk(
            engine, VIEWER, GapFilter(status="under_billed"), "defer", "x", config=CONFIG, period="2026-03"
        )
    with reading(engine) as session:
        assert session.scalars(select(Decision)).all() == []


def test_bulk_decides_each_matching_gap_with_one_batch(engine: Engine, book: DbBook) -> None:
    decisions = decide_bulk(
        engine,
        APPROVER,
        GapFilter(status="under_billed", category="rmm", max_amount_cents=20_000),
        "bump",
        "small device gaps",
        config=CONFIG,
        period="2026-03",
    )
    assert [(d.client_id, d.quantity, d.amount_cents) for d in decisions] == [
        (book.clients["Birch Law"], 13, 13_500)
    ]
    with reading(engine) as session:
        actions = [e.action for e in session.scalars(select(AuditEvent).order_by(AuditEvent.id))]
        assert verify_chain(session).ok
    assert actions == ["decision.bump", "decision.bulk"]
    # decided gaps are not picked up again by the next batch
    assert (
        decide_bulk(
            engine, APPROVER, GapFilter(client="Birch Law"), "defer", "again", config=CONFIG, period="2026-03"
        )
        == []
    )
    with pytest.raises(MccError, match="cannot be decided in bulk"):
        decide_bulk(engine, APPROVER, GapFilter(), "exclude", "x", config=CONFIG, period="2026-03")


def test_time_is_approved_or_written_off_once(engine: Engine, book: DbBook) -> None:
    with transaction(engine) as session:
        entries = [
            TimeEntry(
                source="native",
                external_id=str(n),
                client_id=book.clients["Birch Law"],
                day=date(2026, 3, 2),
                person="Sam",
                hours=Decimal("1.5"),
                rate_cents=12_000,
                billable=True,
            )
            for n in range(2)
        ]
        session.add_all(entries)
        session.flush()
        ids = [e.id for e in entries]
    rec = reconcile_period(engine, CONFIG, "2026-03")
    assert rec.unbilled_time.select("client", "unbilled_hours_x100", "billable_cents").rows() == [
        ("Birch Law", 300, 36_000)
    ]
    assert approve_time(engine, APPROVER, [ids[0]], "ok") == 1
    assert write_off_time(engine, APPROVER, [ids[1]]) == 1
    with pytest.raises(MccError, match="already written off"):
        write_off_time(engine, APPROVER, [ids[1]])
    assert reconcile_period(engine, CONFIG, "2026-03").unbilled_time["unbilled_hours_x100"].to_list() == [150]
    with pytest.raises(PermissionDenied):
        approve_time(engine, VIEWER, ids)


def test_a_bump_beyond_any_contract_is_refused_and_nothing_is_written(engine: Engine, book: DbBook) -> None:
    """A 20-digit quantity used to reach the database and fail there with an overflow traceback."""
    with pytest.raises(MccError, match="bump quantity must be at most 10,000,000"):
        decide(
            engine,
            APPROVER,
            client_id=book.clients["Acme Dental"],
            product_code="WS",
            period="2026-03",
            action="bump",
            quantity=99_999_999_999_999_999_999,
            config=CONFIG,
        )
    with reading(engine) as session:
        assert session.scalars(select(Decision)).all() == []
        assert session.scalars(select(AuditEvent)).all() == []


def test_an_exclusion_on_review_applies_from_its_period_so_history_keeps_earlier_leakage(
    engine: Engine, book: DbBook
) -> None:
    from mcc.reconciliation import history

    book.count("m365", "t-acme", "users", "2026-02", 47)
    decide(
        engine,
        APPROVER,
        client_id=book.clients["Acme Dental"],
        product_code="M365",
        period="2026-03",
        action="exclude",
        entity_ids=[f"shared-{n}" for n in range(7)],
        reason="shared mailboxes are not billed",
        config=CONFIG,
    )
    with reading(engine) as session:
        starts = {row.start for row in session.scalars(select(Exclusion))}
    assert starts == {date(2026, 3, 1)}
    march, february = gap(engine, "Acme Dental", "M365"), gap(engine, "Acme Dental", "M365", "2026-02")
    assert (march["excluded_qty"], march["status"]) == (7, "match")
    assert (february["excluded_qty"], february["status"], february["monthly_amount_cents"]) == (
        0,
        "under_billed",
        7 * 2200,
    )
    months = history(engine, CONFIG, 2, today=TODAY).filter(pl.col("category") == "identity")
    assert months.select("period", "leakage_cents").rows() == [("2026-02", 7 * 2200)]
    # February's seats are still back-billable, so the gap waits for a decision on them
    assert (march["back_bill_cents"], march["open"]) == (7 * 2200, True)


def test_an_exclusion_may_start_earlier_but_not_after_its_period(engine: Engine, book: DbBook) -> None:
    book.count("m365", "t-acme", "users", "2026-02", 47)
    shared = [f"shared-{n}" for n in range(7)]
    arguments = {
        "client_id": book.clients["Acme Dental"],
        "product_code": "M365",
        "period": "2026-03",
        "action": "exclude",
        "entity_ids": shared,
        "reason": "never billable",
        "config": CONFIG,
    }
    with pytest.raises(MccError, match="must start by 2026-03-31, got 2026-04-01"):
        decide(engine, APPROVER, effective_date=date(2026, 4, 1), **arguments)  # type: ignore[arg-type]
    with reading(engine) as session:
        assert session.scalars(select(Exclusion)).all() == []  # nothing half-written
    decision = decide(engine, APPROVER, effective_date=date(2026, 2, 1), **arguments)  # type: ignore[arg-type]
    assert decision.effective_date == date(2026, 2, 1)
    february = gap(engine, "Acme Dental", "M365", "2026-02")
    assert (february["excluded_qty"], february["status"]) == (7, "match")
    assert gap(engine, "Acme Dental", "M365")["back_bill_cents"] == 0
