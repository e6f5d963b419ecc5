"""Drafts: what goes on them, exact totals, blocking, rebuild, audited edits and approval by role."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from mcc import invoicing
from mcc.config import Config
from mcc.errors import MccError, PermissionDenied
from store.db import reading
from store.models import AuditEvent, Invoice
from tests.invoicebook import ACME_TOTAL, APPROVER, BETA_TOTAL, INVOICER, PERIOD, VIEWER, seed


def by_client(drafts: list[Invoice]) -> dict[int, Invoice]:
    return {invoice.client_id: invoice for invoice in drafts}


def test_drafts_hold_recurring_back_bill_and_time_lines_exact_to_the_cent(engine) -> None:
    book = seed(engine)
    drafts = by_client(invoicing.build_drafts(engine, Config(), APPROVER, PERIOD))
    acme = invoicing.get_invoice(engine, drafts[book.acme].id)
    assert acme.total_cents == ACME_TOTAL == 3_745_495
    assert [(line.kind, line.item_code, line.amount_cents) for line in acme.lines] == [
        ("recurring", "M365-BP", 82000),
        ("recurring", "WS", 3_204_000),
        ("back_bill", "WS", 432000),
        ("time", "LABOR", 22500),
        ("time", "LABOR", 4995),
    ]
    back_bill = acme.lines[2]
    assert (
        back_bill.description == "Back-bill Managed workstation, under-billed Dec 2025 – Feb 2026 (3 months)"
    )
    assert back_bill.note == "agreed with Dr. Acme"
    assert acme.lines[3].description == "2026-03-04 · Dana Smith · 1.5 h @ 150.00 — printer VLAN"
    assert acme.lines[4].quantity == Decimal("0.333")
    beta = invoicing.get_invoice(engine, drafts[book.beta].id)
    assert beta.total_cents == BETA_TOTAL
    assert [line.kind for line in beta.lines] == ["recurring"]
    assert acme.status == beta.status == "draft"
    assert acme.blocked_reason is None


def test_a_missing_customer_mapping_blocks_only_that_draft(engine) -> None:
    book = seed(engine, beta_accounting_id=None)
    drafts = by_client(invoicing.build_drafts(engine, Config(), INVOICER, PERIOD))
    assert drafts[book.acme].blocked_reason is None
    assert "client 'Beta Law' has no accounting_id" in (drafts[book.beta].blocked_reason or "")
    with pytest.raises(MccError, match="blocked: client 'Beta Law' has no accounting_id"):
        invoicing.approve(engine, INVOICER, drafts[book.beta].id)
    invoicing.approve(engine, INVOICER, drafts[book.acme].id)


def test_rebuilding_replaces_a_draft_but_never_an_approved_invoice(engine) -> None:
    book = seed(engine)
    first = by_client(invoicing.build_drafts(engine, Config(), APPROVER, PERIOD))
    again = by_client(invoicing.build_drafts(engine, Config(), APPROVER, PERIOD))
    assert again[book.acme].id == first[book.acme].id
    assert again[book.acme].revision == 1  # nothing changed, nothing rewritten
    line = invoicing.get_invoice(engine, first[book.acme].id).lines[0]
    invoicing.edit_line(engine, INVOICER, line.id, quantity="41")
    rebuilt = by_client(invoicing.build_drafts(engine, Config(), APPROVER, PERIOD))[book.acme]
    assert rebuilt.total_cents == ACME_TOTAL and rebuilt.revision == 3
    invoicing.approve(engine, INVOICER, rebuilt.id)
    kept = by_client(invoicing.build_drafts(engine, Config(), APPROVER, PERIOD))[book.acme]
    assert kept.status == "approved" and kept.revision == 3


def test_edit_is_audited_recomputes_exactly_and_sends_an_approved_invoice_back_to_draft(engine) -> None:
    book = seed(engine)
    draft = by_client(invoicing.build_drafts(engine, Config(), APPROVER, PERIOD))[book.acme]
    invoicing.approve(engine, INVOICER, draft.id)
    time_line = invoicing.get_invoice(engine, draft.id).lines[4]
    edited = invoicing.edit_line(engine, INVOICER, time_line.id, quantity="0.335", note="rounded up")
    assert edited.status == "draft" and edited.approved_by is None
    assert edited.total_cents == ACME_TOTAL - 4995 + 5025  # 0.335 × 150.00 = 50.25
    with reading(engine) as session:
        actor, payload = session.execute(
            select(AuditEvent.actor, AuditEvent.payload).where(AuditEvent.action == "invoice.line_edited")
        ).one()
    assert actor == "ines"
    assert '"before":{"amount_cents":4995' in payload and '"amount_cents":5025' in payload
    with pytest.raises(MccError, match="quantity must be a number"):
        invoicing.edit_line(engine, INVOICER, time_line.id, quantity="lots")


def test_roles_are_checked_in_the_service(engine) -> None:
    book = seed(engine)
    with pytest.raises(PermissionDenied):
        invoicing.build_drafts(engine, Config(), VIEWER, PERIOD)
    draft = by_client(invoicing.build_drafts(engine, Config(), APPROVER, PERIOD))[book.acme]
    with pytest.raises(PermissionDenied, match="'invoicer' role is required"):
        invoicing.approve(engine, APPROVER, draft.id)
    with pytest.raises(PermissionDenied):
        invoicing.edit_line(engine, APPROVER, draft.lines[0].id, quantity=1)
    with pytest.raises(PermissionDenied):
        invoicing.push(engine, Config(), APPROVER)


def test_nothing_is_pushed_before_approval(engine, tmp_path) -> None:
    seed(engine)
    exports = tmp_path / "exports"
    config = Config.model_validate({"accounting": {"kind": "file", "path": str(exports)}})
    invoicing.build_drafts(engine, config, APPROVER, PERIOD)
    assert invoicing.push(engine, config, INVOICER, period=PERIOD) == []
    assert not exports.exists()


def test_bad_period_is_a_clear_error(engine) -> None:
    with pytest.raises(MccError, match="period must look like YYYY-MM"):
        invoicing.build_drafts(engine, Config(), APPROVER, "March")


@pytest.mark.parametrize("period", [" 2026-3", "2026-3 ", "+202-03", "2026-3", "2026-13"])
def test_a_period_not_spelled_yyyy_mm_is_refused_not_stored(engine, period: str) -> None:
    """The text becomes Invoice.period; a loose spelling would make an invoice no reconciliation matches."""
    seed(engine)
    with pytest.raises(MccError, match="period must look like YYYY-MM"):
        invoicing.build_drafts(engine, Config(), APPROVER, period)
    with reading(engine) as session:
        assert session.scalars(select(Invoice)).all() == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"quantity": "1e30"}, "is more than 999999999999.99"),
        ({"quantity": "100000000000"}, "is more than 999999999999.99"),
        ({"unit_price_cents": 10**20}, "unit price must be at most 999999999999.99"),
    ],
)
def test_an_edit_beyond_any_real_amount_is_refused_and_changes_nothing(
    engine, change: dict[str, object], message: str
) -> None:
    """'1e30' used to crash inside Decimal rounding; a huge price overflowed the database column."""
    book = seed(engine)
    draft = by_client(invoicing.build_drafts(engine, Config(), APPROVER, PERIOD))[book.acme]
    line = invoicing.get_invoice(engine, draft.id).lines[0]
    with pytest.raises(MccError, match=message):
        invoicing.edit_line(engine, INVOICER, line.id, **change)  # type: ignore[arg-type]
    after = invoicing.get_invoice(engine, draft.id)
    assert (after.total_cents, after.revision, after.lines[0].quantity) == (
        ACME_TOTAL,
        draft.revision,
        line.quantity,
    )
