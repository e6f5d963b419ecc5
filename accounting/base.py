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
from mcc.money import to_decimal


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
    """The invoice as the accounting system recorded it."""

    remote_id: str
    number: str | None
    total_cents: int | None = None
    raw: dict[str, object] = field(default_factory=dict, compare=False, repr=False)


# --- what can go wrong ------------------------------------------------------------------------


class Rejected(AccountingError):
    """The vendor refused the invoice (validation fault): nothing was created. The vendor's words are kept."""


class AccountingAuthFailed(AccountingError):
    """The vendor refused our credentials even after a token refresh: nothing was created."""


class OutcomeUnknown(AccountingError):
    """Timeout, 5xx, throttling or a dropped connection: the invoice may or may not exist. A retry with the
    same idempotency key (or a lookup by reference) settles it without making a second one."""


class Writer:
    """Base of every writer. Subclasses implement `create` and, where the vendor allows, `find`."""

    kind: ClassVar[str]
    title: ClassVar[str]
    # True when a repeated request with the same key returns the original invoice (QBO requestid);
    # otherwise the outbox looks the invoice up by reference before sending again.
    replays_by_key: ClassVar[bool] = False

    def create(self, document: InvoiceDocument) -> RemoteInvoice:
        raise NotImplementedError

    def find(self, document: InvoiceDocument) -> RemoteInvoice | None:
        """The invoice already made for this document (by reference), if the vendor lets us look."""
        return None

    def close(self) -> None:
        pass

    def __enter__(self) -> Writer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def idempotency_key(target: str, company: str, invoice_id: int, revision: int, generation: int) -> str:
    """Deterministic per (target company, invoice, revision, push generation): the same push always sends
    the same key; a new generation starts only after the vendor definitely rejected the previous one."""
    material = f"mcc-invoice:{target}:{company}:{invoice_id}:r{revision}:g{generation}"
    return hashlib.sha256(material.encode()).hexdigest()[:64]


def reference_for(invoice_id: int, key: str) -> str:
    """Short enough for every vendor's reference field (Sage: 25 characters)."""
    return f"MCC-{invoice_id}-{key[:8]}"


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
