"""QuickBooks Online Accounting API v3: OAuth2 refresh token, `POST /v3/company/{realmId}/invoice` with
`minorversion` and `requestid` (a repeated requestid returns the original response), Fault errors
surfaced word for word. Item codes are matched to QBO Items by SKU or name."""

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
    parse_json,
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
            "TxnDate": document.invoice_date.isoformat(),
            "DueDate": document.due_date.isoformat(),
            "PrivateNote": f"{document.reference} {document.memo}".strip(),
            "Line": lines,
        }

    def create(self, document: InvoiceDocument) -> RemoteInvoice:
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
        return RemoteInvoice(
            remote_id=str(invoice["Id"]),
            number=invoice.get("DocNumber"),
            total_cents=cents_from(invoice["TotalAmt"]) if "TotalAmt" in invoice else None,
            raw=invoice,
        )
