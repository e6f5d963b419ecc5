"""QuickBooks Online Accounting API v3: OAuth2 refresh token, `POST /v3/company/{realmId}/invoice` with
`minorversion` and `requestid` (a repeated requestid returns the original response, for as long as
QuickBooks remembers it), Fault errors surfaced word for word. Item codes are matched to QBO Items by SKU
or name. Our reference leads the invoice's `PrivateNote`; `find` reads the customer's invoices through the
query endpoint and matches it there (PrivateNote itself is not filterable)."""

from __future__ import annotations

from typing import Any, ClassVar

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
from accounting.http import VendorHttp, vendor_message
from mcc.errors import AccountingError

MINOR_VERSION = "75"  # 1-74 are unsupported from 1 Aug 2025
PAGE = 1000


class QuickBooks(Writer):
    kind = "quickbooks"
    title = "QuickBooks Online"
    replays_by_key: ClassVar[bool] = True
    default_base_url = "https://quickbooks.api.intuit.com"
    default_auth_url = "https://oauth.platform.intuit.com"
    token_path = "/oauth2/v1/tokens/bearer"

    def __init__(self, http: VendorHttp, base_url: str, realm_id: str) -> None:
        self.http = http
        self.company = f"{base_url.rstrip('/')}/v3/company/{realm_id}"
        self._items: dict[str, dict[str, Any]] | None = None

    def close(self) -> None:
        self.http.close()

    def items(self) -> dict[str, dict[str, Any]]:
        """Every Item keyed by SKU, name and id (a product code may be any of them)."""
        if self._items is None:
            found: dict[str, dict[str, Any]] = {}
            start = 1
            while True:
                rows = self.query(f"SELECT * FROM Item STARTPOSITION {start} MAXRESULTS {PAGE}", "Item")  # noqa: S608 - QBO query language, integers only
                for item in rows:
                    for key in (
                        str(item.get("Id", "")),
                        item.get("FullyQualifiedName"),
                        item.get("Name"),
                        item.get("Sku"),
                    ):
                        if key:
                            found.setdefault(str(key), item)
                if len(rows) < PAGE:
                    break
                start += PAGE
            self._items = found
        return self._items

    def query(self, statement: str, entity: str) -> list[dict[str, Any]]:
        response = self.http.request(
            "GET",
            f"{self.company}/query",
            describe=f"the {entity} query",
            params={"query": statement, "minorversion": MINOR_VERSION},
        )
        if response.status_code != 200:
            raise AccountingError(f"QuickBooks refused the {entity} query: {vendor_message(response)}")
        body = parse_json(response.content)
        rows: list[dict[str, Any]] = body.get("QueryResponse", {}).get(entity, [])  # no rows: key absent
        return rows

    def lookup_customer(self, customer_id: str) -> dict[str, Any] | None:
        rows = self.query(f"SELECT * FROM Customer WHERE Id = '{_quoted(customer_id)}'", "Customer")  # noqa: S608 - quoted
        return rows[0] if rows else None

    def customer_name(self, customer_id: str) -> str | None:
        customer = self.lookup_customer(customer_id)
        return None if customer is None else str(customer.get("DisplayName") or customer_id)

    def customer(self, document: InvoiceDocument) -> dict[str, Any] | None:
        """The QuickBooks customer the invoice is for; its currency must be the invoice's."""
        customer = self.lookup_customer(document.customer_id)
        if customer is None:
            return None  # QuickBooks itself answers the create with its own words for a missing customer
        currency = (customer.get("CurrencyRef") or {}).get("value")
        if currency and currency != document.currency:
            raise Rejected(
                f"QuickBooks customer {document.customer_id} ({customer.get('DisplayName', '')}) is billed in "
                f"{currency}, but MCC invoice {document.invoice_id} for {document.customer_name} is in "
                f"{document.currency}; nothing was sent — change the currency in mcc.toml or the customer"
            )
        return customer

    def payload(self, document: InvoiceDocument) -> dict[str, Any]:
        items = self.items()
        lines = []
        for line in document.lines:
            item = items.get(line.item_code)
            if item is None:
                raise Rejected(
                    f"QuickBooks has no item {line.item_code!r} (matched by SKU or name); create it in QuickBooks "
                    "or change the product's code in the book"
                )
            lines.append(
                {
                    "DetailType": "SalesItemLineDetail",
                    "Amount": decimal_amount(line.amount_cents),
                    "Description": line.description,
                    "SalesItemLineDetail": {
                        "ItemRef": {"value": str(item["Id"]), "name": str(item.get("Name", line.item_code))},
                        "Qty": line.quantity,
                        "UnitPrice": decimal_amount(line.unit_price_cents),
                    },
                }
            )
        return {
            "CustomerRef": {"value": document.customer_id},
            "CurrencyRef": {"value": document.currency},
            # Prices in the book are before tax. Unverified: US companies (automated sales tax) may ignore it.
            "GlobalTaxCalculation": "TaxExcluded",
            "TxnDate": document.invoice_date.isoformat(),
            "DueDate": document.due_date.isoformat(),
            "PrivateNote": f"{document.reference} {document.memo}".strip(),
            "Line": lines,
        }

    def create(self, document: InvoiceDocument) -> RemoteInvoice:
        self.customer(document)
        body = exact_json(self.payload(document))
        response = self.http.request(
            "POST",
            f"{self.company}/invoice",
            describe=f"invoice {document.reference}",
            # Unverified: the documented maximum length of requestid; 40 hex characters stays short.
            params={"minorversion": MINOR_VERSION, "requestid": document.idempotency_key[:40]},
            content=body,
            headers={"Content-Type": "application/json"},
        )
        if response.status_code != 200:
            raise Rejected(
                f"QuickBooks rejected the invoice (HTTP {response.status_code}): {vendor_message(response)}"
            )
        invoice = parse_json(response.content).get("Invoice") or {}
        if "Id" not in invoice:
            raise AccountingError(f"QuickBooks answered without an invoice: {response.text[:300]}")
        return remote_invoice(invoice)

    def find(self, document: InvoiceDocument) -> RemoteInvoice | None:
        found: list[RemoteInvoice] = []
        start = 1
        customer = _quoted(document.customer_id)
        while True:
            rows = self.query(
                f"SELECT * FROM Invoice WHERE CustomerRef = '{customer}' STARTPOSITION {start} MAXRESULTS {PAGE}",  # noqa: S608 - quoted
                "Invoice",
            )
            found.extend(remote_invoice(row) for row in rows if _reference(row) == document.reference)
            if len(rows) < PAGE:
                break
            start += PAGE
        return first_ours(document, found)


def _quoted(value: str) -> str:
    """A value inside a QBO query string literal (backslash-escaped quote)."""
    return value.replace("\\", "\\\\").replace("'", "\\'")


def _reference(invoice: dict[str, Any]) -> str:
    """Our reference: the first word of the PrivateNote we wrote."""
    note = str(invoice.get("PrivateNote") or "")
    return note.split(" ", 1)[0]


def _sales_lines(invoice: dict[str, Any]) -> list[dict[str, Any]]:
    return [line for line in invoice.get("Line") or [] if line.get("DetailType") == "SalesItemLineDetail"]


def _net_cents(invoice: dict[str, Any]) -> int | None:
    lines = _sales_lines(invoice)
    if not lines:
        return None
    return sum(cents_from(line.get("Amount", 0)) for line in lines)


def remote_invoice(invoice: dict[str, Any]) -> RemoteInvoice:
    """What QuickBooks recorded, with what identifies it (customer, reference, net total, currency)."""
    return RemoteInvoice(
        remote_id=str(invoice["Id"]),
        number=invoice.get("DocNumber"),
        total_cents=cents_from(invoice["TotalAmt"]) if "TotalAmt" in invoice else None,
        raw=invoice,
        customer_id=str((invoice.get("CustomerRef") or {}).get("value", "")),
        reference=_reference(invoice),
        net_cents=_net_cents(invoice),
        currency=(invoice.get("CurrencyRef") or {}).get("value"),
        lines=recorded_lines(
            _sales_lines(invoice),
            lambda line: (line.get("SalesItemLineDetail") or {}).get("Qty", 1),
            lambda line: line.get("Amount", 0),
        ),
    )
