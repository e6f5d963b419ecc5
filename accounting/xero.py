"""Xero Accounting API: `PUT /Invoices` (create) with `xero-tenant-id` and `Idempotency-Key`,
ValidationException messages surfaced, 60 calls/min per tenant paced client-side. After an unknown
outcome the invoice is first looked up by our `Reference`."""

from __future__ import annotations

from typing import Any, ClassVar
from urllib.parse import quote

from accounting.base import (
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
from accounting.http import VendorHttp, describe_error_body, vendor_message
from mcc.errors import AccountingError

API_PATH = "/api.xro/2.0"


class Xero(Writer):
    kind = "xero"
    title = "Xero"
    default_base_url = "https://api.xero.com"
    default_auth_url = "https://identity.xero.com"
    token_path = "/connect/token"
    calls_per_minute: ClassVar[int] = 60  # per tenant connection

    def __init__(
        self, http: VendorHttp, base_url: str, tenant_id: str, income_account: str | None = None
    ) -> None:
        self.http = http
        base = base_url.rstrip("/")
        self.api = base if base.endswith(API_PATH) else base + API_PATH
        self.tenant_id = tenant_id
        self.income_account = income_account

    def close(self) -> None:
        self.http.close()

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {"xero-tenant-id": self.tenant_id, **(extra or {})}

    def payload(self, document: InvoiceDocument) -> dict[str, Any]:
        lines = []
        for line in document.lines:
            item: dict[str, Any] = {
                "Description": line.description,
                "Quantity": line.quantity,
                "UnitAmount": decimal_amount(line.unit_price_cents),
                "LineAmount": decimal_amount(line.amount_cents),
                "ItemCode": line.item_code,
            }
            if self.income_account:
                item["AccountCode"] = self.income_account
            lines.append(item)
        return {
            "Invoices": [
                {
                    "Type": "ACCREC",
                    "Contact": {"ContactID": document.customer_id},
                    "Date": document.invoice_date.isoformat(),
                    "DueDate": document.due_date.isoformat(),
                    "Reference": document.reference,
                    "CurrencyCode": document.currency,
                    # Unverified: whether MSPs want AUTHORISED (ready to send) or DRAFT; approval happened in MCC.
                    "Status": "AUTHORISED",
                    "LineAmountTypes": "Exclusive",
                    "LineItems": lines,
                }
            ]
        }

    def lookup_contact(self, contact_id: str) -> dict[str, Any] | None:
        response = self.http.request(
            "GET",
            f"{self.api}/Contacts/{quote(contact_id, safe='')}",
            describe=f"the contact {contact_id}",
            headers=self.headers(),
        )
        if response.status_code in (400, 404):
            return None
        if response.status_code != 200:
            raise AccountingError(f"Xero refused the contact lookup: {vendor_message(response)}")
        contacts = parse_json(response.content).get("Contacts") or []
        return contacts[0] if contacts else None

    def customer_name(self, customer_id: str) -> str | None:
        contact = self.lookup_contact(customer_id)
        return None if contact is None else str(contact.get("Name") or customer_id)

    def contact(self, document: InvoiceDocument) -> dict[str, Any] | None:
        """The Xero contact; an invoice in a currency other than its default currency is refused here."""
        contact = self.lookup_contact(document.customer_id)
        if contact is None:
            return None  # Xero itself answers the create with its own words for a missing contact
        currency = contact.get("DefaultCurrency")
        if currency and currency != document.currency:
            raise Rejected(
                f"Xero contact {document.customer_id} ({contact.get('Name', '')}) is billed in {currency}, but "
                f"MCC invoice {document.invoice_id} for {document.customer_name} is in {document.currency}; "
                "nothing was sent — change the currency in mcc.toml or the contact's default currency"
            )
        return contact

    def create(self, document: InvoiceDocument) -> RemoteInvoice:
        self.contact(document)
        response = self.http.request(
            "PUT",
            f"{self.api}/Invoices",
            describe=f"invoice {document.reference}",
            params={"summarizeErrors": "true"},
            content=exact_json(self.payload(document)),
            headers=self.headers(
                {"Content-Type": "application/json", "Idempotency-Key": document.idempotency_key}
            ),
        )
        if response.status_code not in (200, 201):
            raise Rejected(
                f"Xero rejected the invoice (HTTP {response.status_code}): {vendor_message(response)}"
            )
        invoices = parse_json(response.content).get("Invoices") or []
        if not invoices:
            raise AccountingError(f"Xero answered without an invoice: {response.text[:300]}")
        invoice = invoices[0]
        if invoice.get("HasErrors"):
            errors = "; ".join(str(e.get("Message")) for e in invoice.get("ValidationErrors") or [])
            raise Rejected(f"Xero rejected the invoice: {errors or describe_error_body(invoice)}")
        return _remote(invoice)

    def find(self, document: InvoiceDocument) -> RemoteInvoice | None:
        response = self.http.request(
            "GET",
            f"{self.api}/Invoices",
            describe=f"the lookup of {document.reference}",
            params={
                "where": f'Reference=="{document.reference}"',
                "Statuses": "DRAFT,SUBMITTED,AUTHORISED,PAID",
            },
            headers=self.headers(),
        )
        if response.status_code != 200:
            raise AccountingError(f"Xero refused the invoice lookup: {vendor_message(response)}")
        found = [
            _remote(invoice)
            for invoice in parse_json(response.content).get("Invoices") or []
            if invoice.get("Reference") == document.reference
        ]
        return first_ours(document, found)


def _remote(invoice: dict[str, Any]) -> RemoteInvoice:
    return RemoteInvoice(
        remote_id=str(invoice["InvoiceID"]),
        number=invoice.get("InvoiceNumber"),
        total_cents=cents_from(invoice["Total"]) if invoice.get("Total") is not None else None,
        raw=invoice,
        customer_id=str((invoice.get("Contact") or {}).get("ContactID", "")),
        reference=str(invoice.get("Reference") or ""),
        net_cents=cents_from(invoice["SubTotal"]) if invoice.get("SubTotal") is not None else None,
        currency=invoice.get("CurrencyCode"),
        lines=recorded_lines(
            invoice["LineItems"],
            lambda line: line.get("Quantity", 1),
            lambda line: line.get("LineAmount", 0),
        )
        if isinstance(invoice.get("LineItems"), list)
        else None,
    )
