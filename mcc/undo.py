"""Undo: a decision that reverses an earlier one (single or a whole bulk batch). Like every decision it is
an append-only row plus an audit event; the reversed decision's effects on the book (a bump's contract
lines, an exclusion's entities) are taken back in the same transaction, and the gap is open again."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from mcc.money import to_str
from mcc.permissions import Actor, require
from mcc.reconciliation import resolve_period
from mcc.review import DecisionError
from reconcile.periods import add_months, period_of
from store.audit import record_event
from store.db import reading, transaction
from store.models import (
    AuditEvent,
    Client,
    Contract,
    Decision,
    Exclusion,
    Invoice,
    InvoiceLine,
    Product,
    User,
)
from store.types import utcnow

UNDO = "undo"
# Invoices that have left (or are leaving) for the accounting system: what is on them stays decided.
SENT = ("pushing", "pushed")


@dataclass(frozen=True)
class Undone:
    """What an undo did: the undo rows written and the decisions they reverse."""

    undos: list[Decision]
    reversed: list[Decision]

    @property
    def batch_id(self) -> str | None:
        return self.undos[0].batch_id if self.undos else None


def undo_of(session: Session, decision_id: int) -> Decision | None:
    """The undo that reversed `decision_id`, if any."""
    return session.scalar(select(Decision).where(Decision.reverses_decision_id == decision_id).limit(1))


def _sent_invoice(session: Session, decision: Decision) -> Invoice | None:
    """A pushed (or pushing) invoice this decision is on: as a line, or in the basis it was built from."""
    on_line = session.scalar(
        select(Invoice)
        .join(InvoiceLine)
        .where(InvoiceLine.decision_id == decision.id, Invoice.status.in_(SENT))
        .limit(1)
    )
    if on_line is not None:
        return on_line
    for invoice in session.scalars(
        select(Invoice).where(
            Invoice.client_id == decision.client_id,
            Invoice.period == decision.period,
            Invoice.status.in_(SENT),
        )
    ):
        if decision.id in (invoice.basis or {}).get("decisions", []):
            return invoice
    return None


def _refusal(session: Session, decision: Decision) -> str | None:
    if decision.action == UNDO:
        return f"decision #{decision.id} is itself an undo; decide the gap again instead"
    earlier = undo_of(session, decision.id)
    if earlier is not None:
        return f"decision #{decision.id} was already undone by #{earlier.id} ({earlier.author})"
    invoice = _sent_invoice(session, decision)
    if invoice is not None:
        remote = f" as {invoice.remote_number}" if invoice.remote_number else ""
        return (
            f"decision #{decision.id} is on invoice #{invoice.id}, already sent to the accounting system"
            f"{remote}: an undo here would not change that invoice; credit or void it there, then decide again"
        )
    if decision.action == "bump":
        later = session.scalars(
            select(Decision).where(
                Decision.client_id == decision.client_id,
                Decision.product_id == decision.product_id,
                Decision.action == "bump",
                Decision.id > decision.id,
            )
        ).all()
        standing = [d for d in later if undo_of(session, d.id) is None]
        if standing:
            return f"decision #{decision.id} was followed by bump #{standing[0].id} on the same gap; undo that first"
    return None


def _closed_ends(session: Session, decision: Decision) -> dict[int, date | None]:
    """The end each contract line had before the bump closed it (from the bump's audit event)."""
    payload_text = session.scalar(
        select(AuditEvent.payload).where(
            AuditEvent.entity == "decision",
            AuditEvent.entity_id == str(decision.id),
            AuditEvent.action == "decision.bump",
        )
    )
    payload = json.loads(payload_text) if payload_text else {}
    ends = payload.get("closed_ends") or {}
    return {
        int(line_id): date.fromisoformat(ends[str(line_id)]) if ends.get(str(line_id)) else None
        for line_id in payload.get("closed_contracts") or []
    }


def _take_back(session: Session, actor: Actor, decision: Decision) -> dict[str, Any]:
    """Reverse what the decision did to the book; returns what changed, for the audit event."""
    if decision.action == "bump":
        opened = session.scalars(select(Contract).where(Contract.decision_id == decision.id)).all()
        removed = [line.id for line in opened]
        for line in opened:
            session.delete(line)
        reopened = {}
        for line_id, end in _closed_ends(session, decision).items():
            closed = session.get(Contract, line_id)
            if closed is not None:
                closed.end = end
                reopened[str(line_id)] = end.isoformat() if end else None
        session.flush()
        return {"removed_contracts": removed, "reopened_contracts": reopened}
    if decision.action == "exclude":
        now = utcnow()
        revoked = []
        for exclusion in session.scalars(
            select(Exclusion).where(Exclusion.decision_id == decision.id, Exclusion.revoked_at.is_(None))
        ):
            exclusion.revoked_at, exclusion.revoked_by = now, actor.username
            revoked.append(exclusion.id)
        return {"revoked_exclusions": revoked}
    return {}


def _undo(session: Session, actor: Actor, decision: Decision, note: str, batch_id: str | None) -> Decision:
    refusal = _refusal(session, decision)
    if refusal:
        raise DecisionError(refusal)
    effects = _take_back(session, actor, decision)
    undo = Decision(
        client_id=decision.client_id,
        product_id=decision.product_id,
        period=decision.period,
        action=UNDO,
        note=note,
        author=actor.username,
        batch_id=batch_id,
        gap={"reverses": {"action": decision.action, "author": decision.author, "note": decision.note}},
        reverses_decision_id=decision.id,
    )
    session.add(undo)
    session.flush()
    client = session.get(Client, decision.client_id)
    product = session.get(Product, decision.product_id) if decision.product_id is not None else None
    record_event(
        session,
        actor=actor.username,
        action="decision.undo",
        entity="decision",
        entity_id=undo.id,
        payload={
            "client": client.name if client else None,
            "product": product.code if product else None,
            "period": decision.period,
            "reverses": decision.id,
            "reversed_action": decision.action,
            "reversed_author": decision.author,
            "monthly_amount": to_str(decision.amount_cents),
            "back_bill": to_str(decision.back_bill_cents),
            "note": note,
            "batch_id": batch_id,
            **effects,
        },
        decisions=[undo],
    )
    return undo


def undo(engine: Engine, actor: Actor | None, decision_id: int, note: str = "") -> Undone:
    """Undo one decision: refused for an undo, a decision already undone, or one on a sent invoice.
    A decision that was part of a bulk batch is undone alone (see `undo_batch` for the whole batch)."""
    actor = require(actor, "approver", "undo decisions")
    with transaction(engine) as session:
        decision = session.get(Decision, decision_id)
        if decision is None:
            raise DecisionError(f"no decision #{decision_id}")
        written = _undo(session, actor, decision, note, None)
        return Undone([written], [decision])


def undo_batch(engine: Engine, actor: Actor | None, batch_id: str, note: str = "") -> Undone:
    """Undo every decision of a bulk batch, all or nothing, under a new batch id."""
    actor = require(actor, "approver", "undo decisions")
    with transaction(engine) as session:
        decisions = session.scalars(
            select(Decision)
            .where(Decision.batch_id == batch_id, Decision.action != UNDO)
            .order_by(Decision.id)
        ).all()
        if not decisions:
            raise DecisionError(f"no bulk decision with batch id {batch_id!r}")
        standing = [d for d in decisions if undo_of(session, d.id) is None]
        if not standing:
            raise DecisionError(f"every decision of batch {batch_id} was already undone")
        new_batch = uuid.uuid4().hex
        written = [_undo(session, actor, d, note, new_batch) for d in standing]
        record_event(
            session,
            actor=actor.username,
            action="decision.bulk_undo",
            entity="batch",
            entity_id=new_batch,
            payload={
                "reverses_batch": batch_id,
                "note": note,
                "decisions": [d.id for d in written],
                "reversed": [d.id for d in standing],
            },
        )
        return Undone(written, list(standing))


@dataclass(frozen=True)
class HistoryEntry:
    """One decision on a client's gaps in a period, as the decision history lists it."""

    id: int
    product_code: str | None
    product: str | None
    action: str
    author: str
    created_at: Any
    note: str
    batch_id: str | None
    reverses: int | None
    undone_by: int | None

    @property
    def undoable(self) -> bool:
        return self.action != UNDO and self.undone_by is None


def history(engine: Engine, client_id: int, period: str) -> list[HistoryEntry]:
    """Every decision on the client's gaps in `period`, newest first, with the undo that reversed each."""
    with reading(engine) as session:
        rows = session.execute(
            select(Decision, Product.code, Product.name)
            .outerjoin(Product, Product.id == Decision.product_id)
            .where(Decision.client_id == client_id, Decision.period == period)
            .order_by(Decision.id.desc())
        ).all()
        undone_by = {d.reverses_decision_id: d.id for d, _, _ in rows if d.reverses_decision_id is not None}
        return [
            HistoryEntry(
                id=d.id,
                product_code=code,
                product=name,
                action=d.action,
                author=d.author,
                created_at=d.created_at,
                note=d.note or "",
                batch_id=d.batch_id,
                reverses=d.reverses_decision_id,
                undone_by=undone_by.get(d.id),
            )
            for d, code, name in rows
        ]


# Decisions worth suggesting again next period, when they were taken with a reason.
REMEMBERED = ("write_off", "defer")


@dataclass(frozen=True)
class Suggestion:
    """Last period's standing write-off or deferral of a gap, offered (never applied) this period."""

    action: str
    note: str
    author: str
    period: str


def last_period_suggestions(engine: Engine, client_id: int, period: str) -> dict[str, Suggestion]:
    """product code -> what was decided on that gap last period, for the write-offs and deferrals that
    still stand and carry a note (the reason). The page shows it and pre-fills the form; a person records it."""
    previous = period_of(add_months(resolve_period(period), -1))
    with reading(engine) as session:
        rows = session.execute(
            select(Decision, Product.code, User.name)
            .join(Product, Product.id == Decision.product_id)
            .outerjoin(User, User.username == Decision.author)
            .where(Decision.client_id == client_id, Decision.period == previous)
            .order_by(Decision.id)
        ).all()
        reversed_ids = {d.reverses_decision_id for d, _, _ in rows if d.reverses_decision_id is not None}
        standing: dict[str, Suggestion] = {}
        for decision, code, name in rows:
            if decision.action != UNDO and decision.id not in reversed_ids:
                note = (decision.note or "").strip()
                standing[code] = Suggestion(decision.action, note, name or decision.author, previous)
    return {code: s for code, s in standing.items() if s.action in REMEMBERED and s.note}
