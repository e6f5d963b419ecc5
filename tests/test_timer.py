"""The native timer: validation, roles, audit, and where its entries land."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from mcc.errors import PermissionDenied
from mcc.permissions import Actor
from mcc.timer import TimeEntryError, add_time_entry
from store.audit import verify_chain
from store.db import reading, transaction
from store.models import AuditEvent, Client, TimeEntry

APPROVER = Actor("bea", frozenset({"approver"}))


@pytest.fixture
def client_id(engine) -> int:
    with transaction(engine) as session:
        client = Client(name="Acme Dental")
        session.add(client)
        session.flush()
        return client.id


def _add(
    engine, client_id: int, hours: object = Decimal("1.25"), actor: Actor | None = APPROVER, **kw: object
):
    values: dict[str, object] = dict(
        day=date(2026, 3, 2), person="Bea Ortiz", rate_cents=15000, billable=True, note="Onboarding call"
    )
    values.update(kw)
    return add_time_entry(engine, actor, client_id, hours=hours, **values)  # type: ignore[arg-type]


def test_entry_is_written_for_the_client_with_an_audit_row(engine, client_id: int) -> None:
    entry = _add(engine, client_id)
    with reading(engine) as session:
        row = session.get_one(TimeEntry, entry.id)
        stored = (row.source, row.client_id, row.day, row.person, row.hours, row.rate_cents, row.billable)
        created_by = row.created_by
        [event] = session.scalars(select(AuditEvent).where(AuditEvent.action == "time.add")).all()
        audit = (event.actor, event.entity, event.entity_id, event.payload)
    assert stored == ("native", client_id, date(2026, 3, 2), "Bea Ortiz", Decimal("1.25"), 15000, True)
    assert created_by == "bea"
    assert audit[:3] == ("bea", "time_entry", str(entry.id))
    assert '"hours":"1.25"' in audit[3] and '"client":"Acme Dental"' in audit[3]
    with reading(engine) as session:
        assert verify_chain(session).ok


def test_admin_may_record_time(engine, client_id: int) -> None:
    entry = _add(engine, client_id, actor=Actor("root", frozenset({"admin"})))
    assert entry.hours == Decimal("1.25")


@pytest.mark.parametrize("roles", [{"viewer"}, {"invoicer"}, set()])
def test_viewer_and_others_may_not_record_time(engine, client_id: int, roles: set[str]) -> None:
    with pytest.raises(PermissionDenied, match="'approver' role is required"):
        _add(engine, client_id, actor=Actor("vic", frozenset(roles)))
    with pytest.raises(PermissionDenied):
        _add(engine, client_id, actor=None)
    with reading(engine) as session:
        assert session.scalars(select(TimeEntry)).all() == []
        assert session.scalars(select(AuditEvent).where(AuditEvent.action == "time.add")).all() == []


@pytest.mark.parametrize(
    ("hours", "message"),
    [
        (Decimal("0"), "more than 0 and at most 24"),
        (Decimal("-1"), "more than 0 and at most 24"),
        (Decimal("24.01"), "more than 0 and at most 24"),
        (Decimal("1.255"), "at most 2 decimal places"),
        (1.5, "must be a decimal"),
        ("soon", "must be a decimal"),
        (Decimal("NaN"), "more than 0 and at most 24"),
    ],
)
def test_hours_are_checked(engine, client_id: int, hours: object, message: str) -> None:
    with pytest.raises(TimeEntryError, match=message):
        _add(engine, client_id, hours=hours)


def test_boundaries_are_accepted(engine, client_id: int) -> None:
    assert _add(engine, client_id, hours=Decimal("24")).hours == Decimal("24.00")
    assert _add(engine, client_id, hours=Decimal("0.01")).hours == Decimal("0.01")


def test_unknown_client_is_refused_and_nothing_is_written(engine, client_id: int) -> None:
    with pytest.raises(TimeEntryError, match="no client with id 999"):
        _add(engine, 999)
    with reading(engine) as session:
        assert session.scalars(select(TimeEntry)).all() == []
        assert session.scalars(select(AuditEvent).where(AuditEvent.action == "time.add")).all() == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"person": "  "}, "person must name"),
        ({"rate_cents": -5}, "rate must be a whole number of cents"),
        ({"rate_cents": 12.5}, "rate must be a whole number of cents"),
        ({"note": "x" * 2001}, "note must be at most 2000"),
    ],
)
def test_other_fields_are_checked(engine, client_id: int, change: dict[str, object], message: str) -> None:
    with pytest.raises(TimeEntryError, match=message):
        _add(engine, client_id, **change)


def test_no_rate_and_non_billable_are_kept(engine, client_id: int) -> None:
    entry = _add(engine, client_id, rate_cents=None, billable=False)
    with reading(engine) as session:
        row = session.get_one(TimeEntry, entry.id)
        assert (row.rate_cents, row.billable) == (None, False)
