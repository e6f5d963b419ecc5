"""The one small interface every accounting writer implements, and the document it is given.

A writer turns one approved invoice (`InvoiceDocument`) into one invoice in the accounting system,
sending the document's idempotency key the way that vendor honours it, and can look an invoice up by
our reference after an unknown outcome. It never touches the database; the outbox does that.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, ClassVar

from mcc.errors import AccountingError
from mcc.money import round_cents, to_decimal, to_str


@dataclass(frozen=True)
class DocumentLine:
    kind: str  # recurring | back_bill | time | adjustment
    item_code: str
    description: str
    quantity: Decimal
    unit_price_cents: int
    amount_cents: int


@dataclass(frozen=True)
class InvoiceDocument:
    """What is sent: built from an approved invoice, identical on every retry of the same push."""

    invoice_id: int
    idempotency_key: str
    reference: str  # our reference on the remote invoice, used to find it after an unknown outcome
    customer_id: str  # Client.accounting_id
    customer_name: str
    period: str
    invoice_date: date
    due_date: date
    currency: str
    lines: tuple[DocumentLine, ...]
    total_cents: int
    memo: str = ""


@dataclass(frozen=True)
class RemoteInvoice:
    """The invoice as the accounting system recorded it. `customer_id`, `reference`, `net_cents` (the sum
    of the lines before tax) and `currency` are what `check_ours` compares with the document; None means
    the vendor's answer did not say (a file export), never "anything goes" for a vendor that does."""

    remote_id: str
    number: str | None
    total_cents: int | None = None
    raw: dict[str, object] = field(default_factory=dict, compare=False, repr=False)
    customer_id: str | None = None
    reference: str | None = None
    net_cents: int | None = None
    currency: str | None = None
    # (quantity, amount in cents) of each sales line as the vendor recorded it, in order; None if not said
    lines: tuple[tuple[Decimal, int], ...] | None = None
    tax_sent_cents: int = 0  # tax MCC itself put on the lines (Sage tax_amount), expected in the total

    def describe(self, vendor: str) -> str:
        number = f" number {self.number}" if self.number else ""
        parts = [f"customer {self.customer_id}" if self.customer_id is not None else None]
        parts.append(f"reference {self.reference!r}" if self.reference is not None else None)
        parts.append(f"net {to_str(self.net_cents)}" if self.net_cents is not None else None)
        said = ", ".join(part for part in parts if part)
        return f"{vendor} invoice {self.remote_id}{number}" + (f" ({said})" if said else "")


# --- what can go wrong ------------------------------------------------------------------------


class Rejected(AccountingError):
    """The vendor refused the invoice (validation fault): nothing was created. The vendor's words are kept."""


class AccountingAuthFailed(AccountingError):
    """The vendor refused our credentials even after a token refresh: nothing was created."""


class NotOurInvoice(Rejected):
    """The vendor answered a replayed key or a lookup with an invoice that is not this one (another MCC
    database sharing our keys, or a reference reused by hand). Nothing of ours exists under that key, so
    the outbox closes it and the next push sends under a new one."""


class OutcomeUnknown(AccountingError):
    """Timeout, 5xx, throttling or a dropped connection: the invoice may or may not exist. A retry with the
    same idempotency key (or a lookup by reference) settles it without making a second one."""


class Writer:
    """Base of every writer. Subclasses implement `create` and, where the vendor allows, `find`."""

    kind: ClassVar[str]
    title: ClassVar[str]
    # True when a repeated request with the same key returns the original invoice (QBO requestid). Either
    # way the outbox looks the invoice up by reference before sending again: vendors forget keys.
    replays_by_key: ClassVar[bool] = False

    def create(self, document: InvoiceDocument) -> RemoteInvoice:
        raise NotImplementedError

    def find(self, document: InvoiceDocument) -> RemoteInvoice | None:
        """The invoice already made for this document (by reference), if the vendor lets us look."""
        return None

    def customer_name(self, customer_id: str) -> str | None:
        """The name of this customer in the accounting system, or None when it has no such customer
        (`mcc sources test` checks every client's accounting id with it)."""
        raise NotImplementedError(f"{self.title} has no customers to look up")

    def close(self) -> None:
        pass

    def __enter__(self) -> Writer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def idempotency_key(
    target: str, company: str, invoice_id: int, revision: int, generation: int, *, installation: str
) -> str:
    """Deterministic per (installation, target company, invoice, revision, push generation): the same push
    always sends the same key; a new generation starts only after the vendor definitely rejected the
    previous one. The installation id keeps a second database's invoice 5 from sharing this one's key."""
    if not installation:
        raise AccountingError("no installation id: run `mcc db upgrade` before pushing invoices")
    material = f"mcc-invoice:{installation}:{target}:{company}:{invoice_id}:r{revision}:g{generation}"
    return hashlib.sha256(material.encode()).hexdigest()[:64]


def check_lines(document: InvoiceDocument) -> None:
    """Before anything is sent: every line's quantity × unit price, rounded once half away from zero, is
    its amount to the cent, and the lines add up to the total. A vendor recomputes lines (Xero resets the
    quantity of a line whose amount does not match), so an inconsistent line must never leave MCC."""
    wrong = []
    for number, line in enumerate(document.lines, start=1):
        product = round_cents(line.quantity * line.unit_price_cents)
        if product != line.amount_cents:
            wrong.append(
                f"line {number} ({line.item_code}): {line.quantity} × {to_str(line.unit_price_cents)} = "
                f"{to_str(product)}, not {to_str(line.amount_cents)}"
            )
    added = sum(line.amount_cents for line in document.lines)
    if added != document.total_cents:
        wrong.append(f"the lines add up to {to_str(added)}, not the total {to_str(document.total_cents)}")
    if wrong:
        raise Rejected(
            f"MCC invoice {document.invoice_id} for {document.customer_name} was not sent: "
            + "; ".join(wrong)
            + " — edit the line (or rebuild the draft) and approve it again"
        )


def remote_differences(document: InvoiceDocument, remote: RemoteInvoice) -> list[str]:
    """After a push: where the lines the vendor recorded differ from ours (quantity or amount)."""
    if remote.lines is None:
        return []
    found = []
    if len(remote.lines) != len(document.lines):
        found.append(f"{len(remote.lines)} lines recorded, {len(document.lines)} sent")
    for number, (line, (quantity, amount)) in enumerate(zip(document.lines, remote.lines, strict=False), 1):
        if quantity != line.quantity or amount != line.amount_cents:
            found.append(
                f"line {number} ({line.item_code}) recorded as {quantity} for {to_str(amount)}, "
                f"sent as {line.quantity} for {to_str(line.amount_cents)}"
            )
    return found


def mismatches(document: InvoiceDocument, remote: RemoteInvoice) -> list[str]:
    """How a remote invoice differs from the document in what identifies it: customer, reference, net
    total and currency. Empty when it is ours (or the vendor did not say)."""
    found = []
    if remote.customer_id is not None and remote.customer_id != document.customer_id:
        found.append(f"customer {remote.customer_id} is not {document.customer_id}")
    if remote.reference is not None and remote.reference != document.reference:
        found.append(f"reference {remote.reference!r} is not {document.reference!r}")
    # A vendor may round an inexact line (hours × rate) its own way: up to a cent a line is still ours
    # (and flagged after the push); more is another invoice.
    if remote.net_cents is not None and abs(remote.net_cents - document.total_cents) > len(document.lines):
        found.append(f"net total {to_str(remote.net_cents)} is not {to_str(document.total_cents)}")
    if remote.currency is not None and remote.currency != document.currency:
        found.append(f"currency {remote.currency} is not {document.currency}")
    return found


def check_ours(vendor: str, document: InvoiceDocument, remote: RemoteInvoice) -> RemoteInvoice:
    """Every answer (new, replayed by key, or found by reference) is checked before it is recorded."""
    differences = mismatches(document, remote)
    if differences:
        raise NotOurInvoice(
            f"{remote.describe(vendor)} is not MCC invoice {document.invoice_id} for {document.customer_name} "
            f"(customer {document.customer_id}, reference {document.reference!r}, net "
            f"{to_str(document.total_cents)} {document.currency}): {'; '.join(differences)}. Another MCC "
            "database may be pushing to this company with the same keys; nothing was recorded, and the "
            "next push sends this invoice under a new key"
        )
    return remote


def first_ours(document: InvoiceDocument, candidates: list[RemoteInvoice]) -> RemoteInvoice | None:
    """Of the invoices a lookup found, the one that is ours; else the first (so `check_ours` names it)."""
    for candidate in candidates:
        if not mismatches(document, candidate):
            return candidate
    return candidates[0] if candidates else None


def reference_for(invoice_id: int, key: str) -> str:
    """Short enough for every vendor's reference field (Sage: 25 characters)."""
    return f"MCC-{invoice_id}-{key[:8]}"


def recorded_lines(rows: list[dict[str, Any]], quantity: Any, amount: Any) -> tuple[tuple[Decimal, int], ...]:
    """(quantity, cents) per vendor line, read with the given accessors."""
    return tuple((Decimal(str(quantity(row))), cents_from(amount(row))) for row in rows)


def decimal_amount(cents: int) -> Decimal:
    """4500 -> Decimal('45.00'), as every writer sends amounts (the one conversion in mcc.money)."""
    return to_decimal(cents)


def cents_from(value: object) -> int:
    """A vendor amount (JSON number parsed as Decimal, or a string) -> cents, exactly."""
    amount = Decimal(str(value))
    cents = amount * 100
    if cents != cents.to_integral_value():
        raise AccountingError(f"the accounting system answered with a sub-cent amount: {value}")
    return int(cents)


def exact_json(payload: object) -> bytes:
    """JSON with Decimals written as exact numbers (never through float)."""
    decimals: list[Decimal] = []

    def swap(value: object) -> object:
        if isinstance(value, Decimal):
            decimals.append(value)
            return f"__mcc_decimal_{len(decimals) - 1}__"
        if isinstance(value, dict):
            return {key: swap(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [swap(item) for item in value]
        return value

    text = json.dumps(swap(payload), ensure_ascii=False)
    for index, value in enumerate(decimals):
        text = text.replace(f'"__mcc_decimal_{index}__"', _plain(value), 1)
    return text.encode()


def _plain(value: Decimal) -> str:
    text = format(value, "f")
    return text


def parse_json(content: bytes) -> Any:
    """Vendor JSON with every non-integer number as Decimal."""
    return json.loads(content or b"null", parse_float=Decimal)
