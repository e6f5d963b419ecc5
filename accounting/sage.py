"""Sage Business Cloud Accounting API v3.1: `POST /sales_invoices` with an `Idempotency-Key` (32 hyphenless
hex characters, from the outbox key). Sage keeps such keys for a limited time, so after an unknown outcome
the invoice is first looked up by our `reference`. Each line carries the tax rate mapped to its product in
`[accounting] tax_rates` and the tax amount on it (v3.1 requires it for a rate above zero)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from accounting.base import (
    DocumentLine,
    InvoiceDocument,
    Rejected,
    RemoteInvoice,
    Writer,
    cents_from,
    decimal_amount,
    exact_json,
    first_ours,
    parse_json,
    recorded_lines,
)
from accounting.http import VendorHttp, vendor_message
from mcc.errors import AccountingError
from mcc.money import round_cents

API_PATH = "/v3.1"


class Sage(Writer):
    kind = "sage"
    title = "Sage Accounting"
    default_base_url = "https://api.accounting.sage.com"
    default_auth_url = "https://oauth.accounting.sage.com"
    token_path = "/token"

    def __init__(
        self,
        http: VendorHttp,
        base_url: str,
        business_id: str | None,
        ledger_account_id: str,
        tax_rates: dict[str, str] | None = None,
    ) -> None:
        self.http = http
        base = base_url.rstrip("/")
        self.api = base if base.endswith(API_PATH) else base + API_PATH
        self.business_id = business_id
        self.ledger_account_id = ledger_account_id
        self.tax_rates = dict(tax_rates or {})
        self._percentages: dict[str, Decimal] = {}

    def close(self) -> None:
        self.http.close()

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        # Unverified: X-Business selects the business when the user has several.
        business = {"X-Business": self.business_id} if self.business_id else {}
        return {**business, **(extra or {})}

    def tax_rate_of(self, item_code: str) -> str | None:
        return self.tax_rates.get(item_code) or self.tax_rates.get("*")

    def percentage(self, tax_rate_id: str) -> Decimal:
        """The rate's current percentage, read once per writer from `GET /tax_rates/{id}`."""
        if tax_rate_id not in self._percentages:
            response = self.http.request(
                "GET",
                f"{self.api}/tax_rates/{quote(tax_rate_id, safe='')}",
                describe=f"the tax rate {tax_rate_id}",
                headers=self.headers(),
            )
            if response.status_code == 404:
                raise Rejected(
                    f"Sage has no tax rate {tax_rate_id!r} ([accounting] tax_rates in mcc.toml); "
                    "use an id from GET /tax_rates"
                )
            if response.status_code != 200:
                raise AccountingError(f"Sage refused the tax rate lookup: {vendor_message(response)}")
            value = parse_json(response.content).get("percentage")
            self._percentages[tax_rate_id] = Decimal(str(value if value is not None else 0))
        return self._percentages[tax_rate_id]

    def line_tax_cents(self, item_code: str, net_cents: int) -> int:
        rate = self.tax_rate_of(item_code)
        if rate is None:
            return 0
        return round_cents(Decimal(net_cents) * self.percentage(rate) / 100)

    def tax_cents(self, document: InvoiceDocument) -> int:
        return sum(self.line_tax_cents(line.item_code, line.amount_cents) for line in document.lines)

    def line(self, line: DocumentLine) -> dict[str, Any]:
        sent: dict[str, Any] = {
            "description": f"{line.item_code} · {line.description}",
            "ledger_account_id": self.ledger_account_id,
            "quantity": line.quantity,
            "unit_price": decimal_amount(line.unit_price_cents),
            "net_amount": decimal_amount(line.amount_cents),
            "unit_price_includes_tax": False,  # prices in the book are before tax
        }
        rate = self.tax_rate_of(line.item_code)
        if rate is not None:
            sent["tax_rate_id"] = rate
            sent["tax_amount"] = decimal_amount(self.line_tax_cents(line.item_code, line.amount_cents))
        return sent

    def payload(self, document: InvoiceDocument) -> dict[str, Any]:
        # Unverified beyond the invoicing guide: lines carry the item code in the description and post to
        # the configured income ledger account (no product link).
        return {
            "sales_invoice": {
                "contact_id": document.customer_id,
                "date": document.invoice_date.isoformat(),
                "due_date": document.due_date.isoformat(),
                "reference": document.reference,
                "currency_id": document.currency,
                "invoice_lines": [self.line(line) for line in document.lines],
            }
        }

    def lookup_contact(self, contact_id: str) -> dict[str, Any] | None:
        response = self.http.request(
            "GET",
            f"{self.api}/contacts/{quote(contact_id, safe='')}",
            describe=f"the contact {contact_id}",
            headers=self.headers(),
        )
        if response.status_code in (400, 404):
            return None
        if response.status_code != 200:
            raise AccountingError(f"Sage refused the contact lookup: {vendor_message(response)}")
        contact = parse_json(response.content)
        return contact if isinstance(contact, dict) else None

    def customer_name(self, customer_id: str) -> str | None:
        contact = self.lookup_contact(customer_id)
        return None if contact is None else str(contact.get("displayed_as") or customer_id)

    def contact(self, document: InvoiceDocument) -> dict[str, Any] | None:
        """The Sage contact; an invoice in a currency other than the contact's is refused here."""
        contact = self.lookup_contact(document.customer_id)
        if contact is None:
            return None  # Sage itself answers the create with its own words for a missing contact
        currency = (contact.get("currency") or {}).get("id")
        if currency and currency != document.currency:
            raise Rejected(
                f"Sage contact {document.customer_id} ({contact.get('displayed_as', '')}) is billed in "
                f"{currency}, but MCC invoice {document.invoice_id} for {document.customer_name} is in "
                f"{document.currency}; nothing was sent — change the currency in mcc.toml or the contact"
            )
        return contact

    def create(self, document: InvoiceDocument) -> RemoteInvoice:
        self.contact(document)
        response = self.http.request(
            "POST",
            f"{self.api}/sales_invoices",
            describe=f"sales invoice {document.reference}",
            content=exact_json(self.payload(document)),
            headers=self.headers(
                {"Content-Type": "application/json", "Idempotency-Key": sage_idempotency_key(document)}
            ),
        )
        if response.status_code not in (200, 201):
            raise Rejected(
                f"Sage rejected the sales invoice (HTTP {response.status_code}): {vendor_message(response)}"
            )
        return replace(_remote(parse_json(response.content)), tax_sent_cents=self.tax_cents(document))

    def find(self, document: InvoiceDocument) -> RemoteInvoice | None:
        # Unverified: `search` matching the reference, and `attributes` widening the list items.
        response = self.http.request(
            "GET",
            f"{self.api}/sales_invoices",
            describe=f"the lookup of {document.reference}",
            params={
                "search": document.reference,
                "attributes": "reference,invoice_number,contact,net_amount,total_amount,currency",
            },
            headers=self.headers(),
        )
        if response.status_code != 200:
            raise AccountingError(f"Sage refused the sales invoice lookup: {vendor_message(response)}")
        found = [
            _remote(item)
            for item in parse_json(response.content).get("$items") or []
            if item.get("reference") == document.reference
        ]
        chosen = first_ours(document, found)
        return replace(chosen, tax_sent_cents=self.tax_cents(document)) if chosen is not None else None


def sage_idempotency_key(document: InvoiceDocument) -> str:
    """Sage wants 32 hex characters without hyphens; the outbox key is hex, so its first 32 (a hash)."""
    key = document.idempotency_key[:32].lower()
    if len(key) != 32 or any(char not in "0123456789abcdef" for char in key):
        raise AccountingError(
            f"the idempotency key {document.idempotency_key!r} is not hex; cannot send to Sage"
        )
    return key


def _remote(invoice: dict[str, Any]) -> RemoteInvoice:
    if "id" not in invoice:
        raise AccountingError(f"Sage answered without a sales invoice id: {str(invoice)[:300]}")
    total = invoice.get("total_amount")
    net = invoice.get("net_amount")
    contact = invoice.get("contact")
    currency = invoice.get("currency")
    return RemoteInvoice(
        remote_id=str(invoice["id"]),
        number=invoice.get("invoice_number") or invoice.get("displayed_as"),
        total_cents=cents_from(total) if total is not None else None,
        raw=invoice,
        customer_id=str(contact.get("id", "")) if isinstance(contact, dict) else None,
        reference=str(invoice.get("reference") or "") if "reference" in invoice else None,
        net_cents=cents_from(net) if net is not None else None,
        currency=str(currency.get("id")) if isinstance(currency, dict) and currency.get("id") else None,
        lines=recorded_lines(
            invoice["invoice_lines"],
            lambda line: line.get("quantity", 1),
            lambda line: line.get("net_amount", 0),
        )
        if isinstance(invoice.get("invoice_lines"), list)
        else None,
    )
