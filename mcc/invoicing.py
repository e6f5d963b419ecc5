"""Invoice service functions used by the CLI and the pages: build drafts, edit and approve them (audited,
role-checked here), push approved ones through the outbox, list them."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

import polars as pl
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, selectinload

from accounting.base import Writer
from accounting.basis import draft_basis, stale_reason, stale_reasons
from accounting.drafts import PlannedLine, parse_period, plan_draft
from accounting.outbox import PUSHABLE, PushResult, push_one
from accounting.registry import company_of, writer_for
from mcc.config import Config
from mcc.errors import MccError, PermissionDenied
from mcc.money import MAX_AMOUNT, round_cents, to_str
from mcc.permissions import Actor, require
from store.audit import record_event
from store.db import reading, transaction
from store.models import Client, Invoice, InvoiceLine, OutboxEntry
from store.types import utcnow

__all__ = [
    "PushResult",
    "approve",
    "build_drafts",
    "edit_line",
    "get_invoice",
    "list_invoices",
    "push",
    "writer_for",
]

FROZEN = ("approved", "pushing", "pushed", "failed")  # never rebuilt, unless stale and never sent
REOPENABLE = ("approved", "failed")  # a stale one with no push in flight goes back to draft


def _rebuild_hint(invoice: Invoice) -> str:
    return (
        f"rebuild it first (Build drafts on the Invoices page, or `mcc invoices draft --period "
        f"{invoice.period} --client {invoice.client_id}`)"
    )


def _reopen_stale(session: Session, actor: Actor, invoices: list[Invoice]) -> None:
    """An approved (or failed, never sent) invoice whose decisions or time changed goes back to draft, so
    the rebuild can bring it up to date; one with a push in flight or done is never touched."""
    reasons = stale_reasons(session, [i for i in invoices if i.status in REOPENABLE])
    for invoice in invoices:
        reason = reasons.get(invoice.id)
        if reason is None or _open_outbox(session, invoice.id) is not None:
            continue
        was = invoice.status
        invoice.status = "draft"
        invoice.approved_by = None
        invoice.approved_at = None
        record_event(
            session,
            actor=actor.username,
            action="invoice.reopened_stale",
            entity="invoice",
            entity_id=invoice.id,
            payload={"status_before": was, "reason": reason},
        )


def _line_signature(line: InvoiceLine | PlannedLine) -> tuple[Any, ...]:
    return (
        line.kind,
        line.item_code,
        line.description,
        Decimal(line.quantity),
        line.unit_price_cents,
        line.amount_cents,
        line.product_id,
        line.decision_id,
        line.time_entry_id,
        line.note,
    )


def _lines_payload(lines: Iterable[InvoiceLine | PlannedLine]) -> list[dict[str, Any]]:
    return [
        {
            "kind": line.kind,
            "item": line.item_code,
            "quantity": str(line.quantity),
            "unit_price_cents": line.unit_price_cents,
            "amount_cents": line.amount_cents,
        }
        for line in lines
    ]


def build_drafts(
    engine: Engine, config: Config, actor: Actor, period: str, client_id: int | None = None
) -> list[Invoice]:
    """One draft per client with something to bill in `period`. An unapproved draft is rebuilt (its lines
    replaced); an approved, pushed or failed invoice is left as it is and returned unchanged."""
    if actor is None or not (actor.has("approver") or actor.has("invoicer")):
        raise PermissionDenied(actor.username if actor else "", "approver", "build draft invoices")
    parse_period(period)
    result: list[Invoice] = []
    with transaction(engine) as session:
        query = select(Client).order_by(Client.name)
        if client_id is not None:
            query = query.where(Client.id == client_id)
        clients = session.scalars(query).all()
        if client_id is not None and not clients:
            raise MccError(f"client {client_id} does not exist")
        for client in clients:
            existing = session.scalars(
                select(Invoice)
                .where(Invoice.client_id == client.id, Invoice.period == period, Invoice.status != "void")
                .order_by(Invoice.sequence)
                .options(selectinload(Invoice.lines))
            ).all()
            _reopen_stale(session, actor, list(existing))
            frozen = [invoice for invoice in existing if invoice.status in FROZEN]
            if frozen:
                result.extend(frozen)
                continue
            draft = existing[0] if existing else None
            plan = plan_draft(session, client, period, draft_id=draft.id if draft else None)
            blocked = "; ".join(plan.blocked) or None
            basis = draft_basis(
                session,
                client.id,
                period,
                [line.time_entry_id for line in plan.lines if line.time_entry_id],
                carried=[line.decision_id for line in plan.lines if line.decision_id],
            )
            if not plan.lines:
                if draft is not None:
                    record_event(
                        session,
                        actor=actor.username,
                        action="invoice.draft_removed",
                        entity="invoice",
                        entity_id=draft.id,
                        payload={"reason": "nothing left to bill"},
                    )
                    session.delete(draft)
                continue
            if draft is None:
                sequence = (
                    session.scalar(
                        select(func.max(Invoice.sequence)).where(
                            Invoice.client_id == client.id, Invoice.period == period
                        )
                    )
                    or 0
                ) + 1
                draft = Invoice(
                    client_id=client.id,
                    period=period,
                    sequence=sequence,
                    status="draft",
                    currency=config.currency,
                    created_by=actor.username,
                )
                draft.lines = [line.as_model(position) for position, line in enumerate(plan.lines, start=1)]
                draft.total_cents = plan.total_cents
                draft.blocked_reason = blocked
                draft.basis = basis
                session.add(draft)
                session.flush()
                record_event(
                    session,
                    actor=actor.username,
                    action="invoice.draft_created",
                    entity="invoice",
                    entity_id=draft.id,
                    payload={
                        "client": client.name,
                        "period": period,
                        "total_cents": draft.total_cents,
                        "lines": _lines_payload(plan.lines),
                        "blocked": blocked,
                    },
                )
            elif [_line_signature(x) for x in draft.lines] != [_line_signature(x) for x in plan.lines] or (
                draft.blocked_reason != blocked
            ):
                before = draft.total_cents
                draft.lines.clear()
                session.flush()
                draft.lines.extend(
                    line.as_model(position) for position, line in enumerate(plan.lines, start=1)
                )
                draft.total_cents = plan.total_cents
                draft.blocked_reason = blocked
                draft.basis = basis
                draft.currency = config.currency
                draft.revision += 1
                session.flush()
                record_event(
                    session,
                    actor=actor.username,
                    action="invoice.draft_rebuilt",
                    entity="invoice",
                    entity_id=draft.id,
                    payload={
                        "client": client.name,
                        "period": period,
                        "total_cents_before": before,
                        "total_cents": draft.total_cents,
                        "lines": _lines_payload(plan.lines),
                        "blocked": blocked,
                    },
                )
            else:
                draft.basis = basis  # the same lines, now known to match the newer decisions
            result.append(draft)
    return result


def _open_outbox(session: Session, invoice_id: int) -> OutboxEntry | None:
    return session.scalars(
        select(OutboxEntry).where(
            OutboxEntry.invoice_id == invoice_id, OutboxEntry.state.in_(("pending", "sent"))
        )
    ).first()


def edit_line(
    engine: Engine,
    actor: Actor,
    line_id: int,
    quantity: Decimal | str | int | None = None,
    unit_price_cents: int | None = None,
    description: str | None = None,
    note: str | None = None,
) -> Invoice:
    """Change one line of a draft (audited with before and after). Editing an approved invoice sends it
    back to draft; a pushed one, or one whose last push may have reached the vendor, cannot be edited."""
    require(actor, "invoicer", "edit invoices")
    with transaction(engine) as session:
        line = session.get(InvoiceLine, line_id)
        if line is None:
            raise MccError(f"invoice line {line_id} does not exist")
        invoice = session.get_one(Invoice, line.invoice_id, with_for_update=True)
        if invoice.status in ("pushing", "pushed", "void"):
            raise MccError(f"invoice {invoice.id} is {invoice.status} and can no longer be edited")
        if _open_outbox(session, invoice.id) is not None:
            raise MccError(
                f"invoice {invoice.id} may already exist in {invoice.target} (its last push had an unknown outcome); "
                "push it again to settle that before editing"
            )
        before = {
            "quantity": str(line.quantity),
            "unit_price_cents": line.unit_price_cents,
            "description": line.description,
            "note": line.note,
            "amount_cents": line.amount_cents,
        }
        if quantity is not None:
            try:
                value = Decimal(str(quantity))
            except InvalidOperation:
                raise MccError(f"quantity must be a number, got {quantity!r}") from None
            if not value.is_finite() or value < 0:
                raise MccError(f"quantity must be a number ≥ 0, got {quantity!r}")
            line.quantity = value
        if unit_price_cents is not None:
            if isinstance(unit_price_cents, bool) or not isinstance(unit_price_cents, int):
                raise MccError(f"unit price must be whole cents, got {unit_price_cents!r}")
            if abs(unit_price_cents) > MAX_AMOUNT * 100:
                raise MccError(f"unit price must be at most {MAX_AMOUNT}, got {unit_price_cents} cents")
            line.unit_price_cents = unit_price_cents
        if description is not None:
            if not description.strip():
                raise MccError("a line description cannot be empty")
            line.description = description.strip()
        if note is not None:
            line.note = note.strip() or None
        amount = Decimal(line.quantity) * line.unit_price_cents
        if abs(amount) > MAX_AMOUNT * 100:
            raise MccError(
                f"invoice line {line_id}: {line.quantity} × {to_str(line.unit_price_cents)} is more than "
                f"{MAX_AMOUNT}; check the quantity and unit price"
            )
        line.amount_cents = round_cents(amount)
        session.flush()
        invoice.total_cents = sum(item.amount_cents for item in invoice.lines)
        invoice.revision += 1
        was = invoice.status
        invoice.status = "draft"
        invoice.approved_by = None
        invoice.approved_at = None
        after = {
            "quantity": str(line.quantity),
            "unit_price_cents": line.unit_price_cents,
            "description": line.description,
            "note": line.note,
            "amount_cents": line.amount_cents,
        }
        record_event(
            session,
            actor=actor.username,
            action="invoice.line_edited",
            entity="invoice",
            entity_id=invoice.id,
            payload={
                "line_id": line.id,
                "before": before,
                "after": after,
                "status_before": was,
                "total_cents": invoice.total_cents,
                "revision": invoice.revision,
            },
        )
        return invoice


def approve(engine: Engine, actor: Actor, invoice_id: int) -> Invoice:
    """Approve a draft for pushing. Nothing is ever sent before this."""
    require(actor, "invoicer", "approve invoices")
    with transaction(engine) as session:
        invoice = session.get(Invoice, invoice_id, with_for_update=True)
        if invoice is None:
            raise MccError(f"invoice {invoice_id} does not exist")
        if invoice.status != "draft":
            raise MccError(f"invoice {invoice_id} is {invoice.status}; only a draft can be approved")
        if invoice.blocked_reason:
            raise MccError(f"invoice {invoice_id} is blocked: {invoice.blocked_reason}")
        if not invoice.lines:
            raise MccError(f"invoice {invoice_id} has no lines")
        stale = stale_reason(session, invoice)
        if stale is not None:
            raise MccError(f"invoice {invoice_id} is stale ({stale}): {_rebuild_hint(invoice)}")
        invoice.status = "approved"
        invoice.approved_by = actor.username
        invoice.approved_at = utcnow()
        invoice.last_error = None
        record_event(
            session,
            actor=actor.username,
            action="invoice.approved",
            entity="invoice",
            entity_id=invoice.id,
            payload={
                "total_cents": invoice.total_cents,
                "revision": invoice.revision,
                "lines": _lines_payload(invoice.lines),
            },
        )
        return invoice


def push(
    engine: Engine,
    config: Config,
    actor: Actor,
    invoice_ids: list[int] | None = None,
    period: str | None = None,
    client_id: int | None = None,
    progress: Callable[[PushResult], None] | None = None,
    writer: Writer | None = None,
) -> list[PushResult]:
    """Push approved (or previously failed) invoices to the configured accounting system, once each."""
    require(actor, "invoicer", "push invoices")
    if period is not None:
        parse_period(period)
    with reading(engine) as session:
        query = select(Invoice.id).order_by(Invoice.period, Invoice.client_id, Invoice.sequence)
        if invoice_ids is not None:
            query = query.where(Invoice.id.in_(invoice_ids))
        else:
            query = query.where(Invoice.status.in_(PUSHABLE))
        if period is not None:
            query = query.where(Invoice.period == period)
        if client_id is not None:
            query = query.where(Invoice.client_id == client_id)
        ids = list(session.scalars(query))
    if invoice_ids is not None:
        missing = sorted(set(invoice_ids) - set(ids))
        if missing:
            raise MccError(f"no invoice with id {', '.join(map(str, missing))}")
    if not ids:
        return []
    if config.accounting.kind == "qbd" and writer is None:
        from accounting.qbwc import queue

        queued = []
        for invoice_id in ids:  # the Web Connector fetches them on its next poll
            result = _refuse_stale(engine, invoice_id) or queue(
                engine, actor, invoice_id, company=company_of(config), due_days=config.accounting.due_days
            )
            queued.append(result)
            if progress is not None:
                progress(result)
        return queued
    own_writer = writer is None
    active = writer or writer_for(config, engine)
    results = []
    try:
        for invoice_id in ids:
            refused = _refuse_stale(engine, invoice_id)
            if refused is not None:
                results.append(refused)
                if progress is not None:
                    progress(refused)
                continue
            result = push_one(
                engine,
                active,
                actor,
                invoice_id,
                target=config.accounting.kind,
                company=company_of(config),
                due_days=config.accounting.due_days,
            )
            results.append(result)
            if progress is not None:
                progress(result)
    finally:
        if own_writer:
            active.close()
    return results


def _refuse_stale(engine: Engine, invoice_id: int) -> PushResult | None:
    """A stale invoice is not sent — unless a push of it is already in flight (it may exist remotely
    already, so only settling that push is safe)."""
    with reading(engine) as session:
        invoice = session.get_one(Invoice, invoice_id)
        if invoice.status not in REOPENABLE or _open_outbox(session, invoice_id) is not None:
            return None
        reason = stale_reason(session, invoice)
        if reason is None:
            return None
        client = session.get_one(Client, invoice.client_id)
        return PushResult(
            invoice_id=invoice.id,
            client=client.name,
            status="stale",
            total_cents=invoice.total_cents,
            message=f"not sent: invoice {invoice.id} is stale ({reason}); {_rebuild_hint(invoice)}",
        )


def get_invoice(engine: Engine, invoice_id: int) -> Invoice:
    with reading(engine) as session:
        invoice = session.scalars(
            select(Invoice).where(Invoice.id == invoice_id).options(selectinload(Invoice.lines))
        ).first()
        if invoice is None:
            raise MccError(f"invoice {invoice_id} does not exist")
        session.expunge_all()  # keep the loaded state: closing a reading session expires what it holds
        return invoice


INVOICE_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "id": pl.Int64,
    "client_id": pl.Int64,
    "client": pl.String,
    "period": pl.String,
    "sequence": pl.Int64,
    "status": pl.String,
    "currency": pl.String,
    "total_cents": pl.Int64,
    "lines": pl.Int64,
    "revision": pl.Int64,
    "target": pl.String,
    "remote_id": pl.String,
    "remote_number": pl.String,
    "approved_by": pl.String,
    "pushed_at": pl.Datetime(time_zone="UTC"),
    "last_error": pl.String,
    "blocked_reason": pl.String,
    "stale": pl.String,
}


def list_invoices(engine: Engine, period: str | None = None, client_id: int | None = None) -> pl.DataFrame:
    with reading(engine) as session:
        query = (
            select(Invoice, Client.name)
            .join(Client, Client.id == Invoice.client_id)
            .options(selectinload(Invoice.lines))
            .order_by(Invoice.period.desc(), Client.name, Invoice.sequence)
        )
        if period is not None:
            query = query.where(Invoice.period == period)
        if client_id is not None:
            query = query.where(Invoice.client_id == client_id)
        found = [(invoice, name) for invoice, name in session.execute(query)]
        stale = stale_reasons(session, [invoice for invoice, _ in found])
        rows = [
            {
                "id": invoice.id,
                "client_id": invoice.client_id,
                "client": name,
                "period": invoice.period,
                "sequence": invoice.sequence,
                "status": invoice.status,
                "currency": invoice.currency,
                "total_cents": invoice.total_cents,
                "lines": len(invoice.lines),
                "revision": invoice.revision,
                "target": invoice.target,
                "remote_id": invoice.remote_id,
                "remote_number": invoice.remote_number,
                "approved_by": invoice.approved_by,
                "pushed_at": invoice.pushed_at,
                "last_error": invoice.last_error,
                "blocked_reason": invoice.blocked_reason,
                "stale": stale.get(invoice.id),
            }
            for invoice, name in found
        ]
    return pl.DataFrame(rows, schema=INVOICE_SCHEMA)
