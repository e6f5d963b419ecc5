"""Never twice, never lost: each push of an approved invoice goes through an outbox row whose
idempotency key is derived from the invoice and written (with a lease) before the vendor is called.

- Keys include this database's installation id, so a second database (or a restored copy pushing new
  invoices) never shares a key with this one by accident.
- A retry, a double click or a crash between "sent" and "recorded" reuses the row's key, and first looks
  the invoice up by our reference (every HTTP writer): an unclear outcome is settled by a lookup, never by
  a blind resend. Only when nothing is found is it sent again, with the same key, which the vendor
  replays if it still remembers it (QBO `requestid`, Xero and Sage `Idempotency-Key`).
- Every answer — new, replayed or found — is checked against the document (customer, reference, net
  total, currency) before it is recorded; an invoice that is not ours stops the push with both named.
- Two pushes at once: the claim is one short transaction (SQLite BEGIN IMMEDIATE, PostgreSQL row lock);
  the second sees a live lease and steps back. A lease whose owner process is gone is taken over.
- A definite rejection (validation fault) closes the row as failed; the next push starts a new key.
- Time entries are marked invoiced in the same transaction that records the success.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import Engine, func, select

from accounting.base import (
    DocumentLine,
    InvoiceDocument,
    Rejected,
    RemoteInvoice,
    Writer,
    check_lines,
    check_ours,
    idempotency_key,
    reference_for,
    remote_differences,
)
from mcc.errors import MccError
from mcc.money import to_str
from mcc.permissions import Actor
from store.audit import record_event
from store.db import transaction
from store.installation import installation_id
from store.models import Client, Invoice, OutboxEntry, TimeEntry
from store.types import utcnow

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)  # longer than any single push (HTTP timeouts are 30 s)
PUSHABLE = ("approved", "failed", "pushing")


@dataclass(frozen=True)
class PushResult:
    invoice_id: int
    client: str
    status: str  # pushed | already_pushed | queued | in_progress | failed | not_approved
    total_cents: int
    remote_id: str | None = None
    remote_number: str | None = None
    message: str | None = None

    @property
    def ok(self) -> bool:
        return self.status in ("pushed", "already_pushed", "queued")


@dataclass(frozen=True)
class Claim:
    outbox_id: int
    document: InvoiceDocument
    attempt: int
    previously_sent: bool
    owner: str


def new_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _owner_alive(owner: str | None) -> bool:
    """A lease held by a process on this host that no longer exists is stale (it was killed mid-push)."""
    if not owner:
        return False
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return True  # another machine: trust the lease until it expires
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _document(invoice: Invoice, client: Client, key: str, due_days: int) -> InvoiceDocument:
    approved = invoice.approved_at.date() if invoice.approved_at else date.today()
    return InvoiceDocument(
        invoice_id=invoice.id,
        idempotency_key=key,
        reference=reference_for(invoice.id, key),
        customer_id=client.accounting_id or "",
        customer_name=client.name,
        period=invoice.period,
        invoice_date=approved,
        due_date=approved + timedelta(days=due_days),
        currency=invoice.currency,
        lines=tuple(
            DocumentLine(
                kind=line.kind,
                item_code=line.item_code,
                description=line.description,
                quantity=line.quantity,
                unit_price_cents=line.unit_price_cents,
                amount_cents=line.amount_cents,
            )
            for line in invoice.lines
        ),
        total_cents=invoice.total_cents,
        memo=f"{client.name} {invoice.period}",
    )


def claim(
    engine: Engine, actor: Actor, invoice_id: int, *, target: str, company: str, due_days: int, owner: str
) -> Claim | PushResult:
    """Take the push of one invoice, or say why not (already pushed, in progress elsewhere, not approved)."""
    now = utcnow()
    with transaction(engine) as session:
        invoice = session.get(Invoice, invoice_id, with_for_update=True)
        if invoice is None:
            raise MccError(f"invoice {invoice_id} does not exist")
        client = session.get_one(Client, invoice.client_id)
        if invoice.status == "pushed":
            return PushResult(
                invoice.id,
                client.name,
                "already_pushed",
                invoice.total_cents,
                invoice.remote_id,
                invoice.remote_number,
            )
        if invoice.status not in PUSHABLE:
            return PushResult(
                invoice.id,
                client.name,
                "not_approved",
                invoice.total_cents,
                message=f"invoice {invoice.id} is {invoice.status}; approve it before pushing",
            )
        latest = session.scalars(
            select(OutboxEntry)
            .where(OutboxEntry.invoice_id == invoice.id)
            .order_by(OutboxEntry.id.desc())
            .limit(1)
        ).first()
        if (
            latest is not None
            and latest.state in ("pending", "sent")
            and latest.lease_until is not None
            and latest.lease_until > now
            and latest.lease_owner != owner
            and _owner_alive(latest.lease_owner)
        ):
            return PushResult(
                invoice.id,
                client.name,
                "in_progress",
                invoice.total_cents,
                message=f"invoice {invoice.id} is being pushed by another process right now",
            )
        if latest is not None and latest.state in ("pending", "sent") and latest.target == target:
            entry = latest  # unknown outcome last time: same key, so the vendor cannot make a second invoice
            previously_sent = True
        else:
            generation = 1 + (
                session.scalar(
                    select(func.count()).select_from(OutboxEntry).where(OutboxEntry.invoice_id == invoice.id)
                )
                or 0
            )
            key = idempotency_key(
                target,
                company,
                invoice.id,
                invoice.revision,
                generation,
                installation=installation_id(session),
            )
            entry = OutboxEntry(invoice_id=invoice.id, idempotency_key=key, target=target, attempts=0)
            session.add(entry)
            previously_sent = False
        entry.state = "sent"  # from here on the vendor may have it
        entry.attempts += 1
        entry.lease_owner = owner
        entry.lease_until = now + LEASE
        entry.updated_at = now
        invoice.status = "pushing"
        invoice.target = target
        session.flush()
        record_event(
            session,
            actor=actor.username,
            action="invoice.push",
            entity="invoice",
            entity_id=invoice.id,
            payload={
                "target": target,
                "idempotency_key": entry.idempotency_key,
                "attempt": entry.attempts,
                "total_cents": invoice.total_cents,
                "revision": invoice.revision,
            },
        )
        document = _document(invoice, client, entry.idempotency_key, due_days)
        return Claim(entry.id, document, entry.attempts, previously_sent, owner)


def send(writer: Writer, claim: Claim) -> RemoteInvoice:
    """The vendor call: when an earlier attempt may have created the invoice, look it up by our reference
    first (whether or not the vendor replays keys: it may have forgotten ours); create (with the key) only
    when it is not there. Whatever comes back is checked to be ours before it is recorded. Nothing is sent
    for a document whose lines do not add up."""
    check_lines(claim.document)
    if claim.previously_sent:
        found = writer.find(claim.document)
        if found is not None:
            return check_ours(writer.title, claim.document, found)
    return check_ours(writer.title, claim.document, writer.create(claim.document))


def record_success(engine: Engine, actor: Actor, claim: Claim, remote: RemoteInvoice) -> PushResult:
    now = utcnow()
    with transaction(engine) as session:
        entry = session.get_one(OutboxEntry, claim.outbox_id)
        invoice = session.get_one(Invoice, entry.invoice_id)
        client = session.get_one(Client, invoice.client_id)
        entry.state = "confirmed"
        entry.remote_id = remote.remote_id
        entry.remote_number = remote.number
        entry.last_error = None
        entry.lease_until = None
        entry.updated_at = now
        invoice.status = "pushed"
        invoice.pushed_at = now
        invoice.remote_id = remote.remote_id
        invoice.remote_number = remote.number
        warning = pushed_warning(claim.document, remote, invoice.total_cents)
        invoice.last_error = warning
        time_ids = [line.time_entry_id for line in invoice.lines if line.time_entry_id is not None]
        if time_ids:
            for entry_row in session.scalars(select(TimeEntry).where(TimeEntry.id.in_(time_ids))):
                if entry_row.invoice_id is None:
                    entry_row.invoice_id = invoice.id
        record_event(
            session,
            actor=actor.username,
            action="invoice.pushed",
            entity="invoice",
            entity_id=invoice.id,
            payload={
                "target": entry.target,
                "remote_id": remote.remote_id,
                "remote_number": remote.number,
                "total_cents": invoice.total_cents,
                "remote_total_cents": remote.total_cents,
                "warning": warning,
                "time_entries": time_ids,
            },
        )
        return PushResult(
            invoice.id, client.name, "pushed", invoice.total_cents, remote.remote_id, remote.number, warning
        )


def pushed_warning(document: InvoiceDocument, remote: RemoteInvoice, draft_cents: int) -> str | None:
    """What is kept (and shown) on a pushed invoice the accounting system recorded differently: its total
    (tax added there, rounding) and any line whose quantity or amount it changed."""
    expected = draft_cents + remote.tax_sent_cents
    mismatch = total_mismatch(remote.total_cents, expected)
    if mismatch and remote.tax_sent_cents:
        mismatch = mismatch.replace(
            "the draft's", f"the draft's plus the {to_str(remote.tax_sent_cents)} tax sent"
        )
    parts = [mismatch]
    differences = remote_differences(document, remote)
    if differences:
        parts.append("the accounting system changed lines: " + "; ".join(differences))
    text = "; ".join(part for part in parts if part)
    return text or None


def total_mismatch(remote_cents: int | None, draft_cents: int) -> str | None:
    """The warning kept on a pushed invoice whose total the accounting system computed differently."""
    if remote_cents is None or remote_cents == draft_cents:
        return None
    return (
        f"the accounting system's total ({to_str(remote_cents)}) differs from the draft's "
        f"({to_str(draft_cents)}); check tax and rounding settings there"
    )


def record_failure(engine: Engine, actor: Actor, claim: Claim, error: MccError) -> PushResult:
    definite = isinstance(error, Rejected)
    message = str(error)
    with transaction(engine) as session:
        entry = session.get_one(OutboxEntry, claim.outbox_id)
        invoice = session.get_one(Invoice, entry.invoice_id)
        client = session.get_one(Client, invoice.client_id)
        # A rejection means nothing exists remotely: close the row so the next push uses a new key.
        # Anything else (timeout, 5xx, auth) keeps the row open: the next push reuses its key.
        entry.state = "failed" if definite else "sent"
        entry.last_error = message
        entry.lease_until = None
        entry.updated_at = utcnow()
        invoice.status = "failed"
        invoice.last_error = message
        record_event(
            session,
            actor=actor.username,
            action="invoice.push_failed",
            entity="invoice",
            entity_id=invoice.id,
            payload={
                "target": entry.target,
                "idempotency_key": entry.idempotency_key,
                "error": message,
                "definite": definite,
            },
        )
        return PushResult(invoice.id, client.name, "failed", invoice.total_cents, message=message)


def push_one(
    engine: Engine, writer: Writer, actor: Actor, invoice_id: int, *, target: str, company: str, due_days: int
) -> PushResult:
    taken = claim(
        engine, actor, invoice_id, target=target, company=company, due_days=due_days, owner=new_owner()
    )
    if isinstance(taken, PushResult):
        return taken
    try:
        remote = send(writer, taken)
    except MccError as error:
        log.warning("push of invoice %s failed: %s", invoice_id, error)
        return record_failure(engine, actor, taken, error)
    return record_success(engine, actor, taken, remote)
