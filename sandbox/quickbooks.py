"""QuickBooks Online fake: the Intuit token endpoint (refresh-token grant, rotating tokens), the query
endpoint (`QueryResponse`, `{}` when empty) and invoice create with `minorversion` and `requestid` replay.

Vendor-specific failures on demand, besides `fake.faults`:
  fake.fail_next_invoice(code="2500", message=..., detail=...)   # ValidationFault for the next create
  fake.delay_after_create = 5.0                                  # create, then answer late (client timeout)
  fake.fail_after_create = 1                                     # create, then answer 500 (once per count)
  fake.request_id_memory = 0.0                                   # forget each requestid after N seconds
  fake.forget_keys()                                      # forget every requestid seen so far
All can be set over HTTP: `POST /_sandbox/quickbooks` with {"fault": {...}}, {"delay_after_create": 5},
{"fail_after_create": 1}, {"request_id_memory": 0} or {"forget_keys": true}.
Each customer has a currency (`CurrencyRef`); an invoice in another currency is refused.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import threading
import time
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sandbox.server import Fake, HttpError, Request, Response

DEFAULT_REALM = "9130350000000000"
DEFAULT_CLIENT_ID = "sandbox-quickbooks-client"
DEFAULT_CLIENT_SECRET = "sandbox-quickbooks-secret"
DEFAULT_REFRESH_TOKEN = "sandbox-quickbooks-refresh"

_QUERY = re.compile(
    r"^\s*SELECT\s+(?P<what>\*|COUNT\(\*\))\s+FROM\s+(?P<entity>\w+)"
    r"(?:\s+WHERE\s+(?P<field>\w+)\s*=\s*'(?P<value>[^']*)')?"
    r"(?:\s+STARTPOSITION\s+(?P<start>\d+))?(?:\s+MAXRESULTS\s+(?P<max>\d+))?\s*$",
    re.IGNORECASE,
)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def fault(message: str, detail: str, code: str, kind: str = "ValidationFault") -> dict[str, Any]:
    return {
        "Fault": {
            "Error": [{"Message": message, "Detail": detail, "code": code, "element": ""}],
            "type": kind,
        },
        "time": _now(),
    }


class _Encoder(json.JSONEncoder):
    def default(self, o: Any) -> Any:
        if isinstance(o, Decimal):
            return float(o)  # the fake's answer only; amounts are 2-dp values that round-trip exactly
        return super().default(o)


class QuickBooksFake(Fake):
    name = "quickbooks"

    def __init__(
        self,
        *,
        realm_id: str = DEFAULT_REALM,
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: str = DEFAULT_CLIENT_SECRET,
        refresh_token: str = DEFAULT_REFRESH_TOKEN,
        customers: dict[str, str] | None = None,
        items: dict[str, str] | None = None,
    ) -> None:
        super().__init__()
        self.realm_id = realm_id
        self.client_id = client_id
        self.client_secret = client_secret
        # Unverified: Intuit keeps a previous refresh token usable for a while after rotation; so does the fake.
        self.refresh_tokens: set[str] = {refresh_token}
        self.latest_refresh_token = refresh_token
        self.customers: dict[str, dict[str, Any]] = {}
        self.items: dict[str, dict[str, Any]] = {}
        self.invoices: list[dict[str, Any]] = []
        self.replies: dict[str, Response] = {}  # requestid -> the original response
        self.replied_at: dict[str, float] = {}  # requestid -> when it was first answered
        # Unverified: how long QuickBooks keeps a requestid; None here means for ever.
        self.request_id_memory: float | None = None
        self.fail_after_create = 0
        self.sales_tax_percent = Decimal(0)  # the company's automated sales tax, added to TotalAmt
        self.delay_after_create = 0.0
        self.created = threading.Event()  # set whenever an invoice is created (tests wait on it)
        self._next_faults: list[dict[str, Any]] = []
        for customer_id, name in (customers or {"1": "Sandbox Customer"}).items():
            self.add_customer(customer_id, name)
        for item_id, name in (items or {}).items():
            self.add_item(item_id, name)
        self.route("POST", "/oauth2/v1/tokens/bearer", self._token)
        self.route("GET", "/v3/company/{realm}/query", self._query)
        # Intuit's SDKs (python-quickbooks among them) POST the query as the body, `application/text`.
        self.route("POST", "/v3/company/{realm}/query", self._query)
        self.route("POST", "/v3/company/{realm}/invoice", self._create_invoice)
        self.route("GET", "/v3/company/{realm}/invoice/{id}", self._read_invoice)
        self.route("POST", "/_sandbox/quickbooks", self._control)

    # -- seeding and inspection --------------------------------------------------------------
    def add_customer(self, customer_id: str, name: str, currency: str = "USD") -> None:
        self.customers[str(customer_id)] = {
            "Id": str(customer_id),
            "DisplayName": name,
            "Active": True,
            "CurrencyRef": {"value": currency},
        }

    def add_item(self, item_id: str, name: str, sku: str | None = None) -> None:
        item = {
            "Id": str(item_id),
            "Name": name,
            "FullyQualifiedName": name,
            "Type": "Service",
            "Active": True,
        }
        if sku:
            item["Sku"] = sku
        self.items[str(item_id)] = item

    def seed(self, customers: dict[str, str], item_codes: list[str]) -> None:
        """Customers by id (Client.accounting_id -> name) and one Item per product code (named by it)."""
        for customer_id, name in customers.items():
            self.add_customer(customer_id, name)
        for code in item_codes:
            if not any(item["Name"] == code for item in self.items.values()):
                self.add_item(str(len(self.items) + 1), code)

    def fail_next_invoice(
        self,
        code: str = "2500",
        message: str = "Invalid Reference Id",
        detail: str = "Invalid Reference Id : Something you're trying to use has been made inactive. Check the fields with accounts, customers, items, vendors or employees.",
    ) -> None:
        self._next_faults.append(fault(message, detail, code))

    def forget_keys(self) -> None:
        """As QuickBooks does after a while: a repeated requestid is then processed as a new request."""
        with self.lock:
            self.replies.clear()
            self.replied_at.clear()

    def _remembered(self, request_id: str) -> Response | None:
        answered = self.replied_at.get(request_id)
        if answered is None:
            return None
        if self.request_id_memory is not None and time.monotonic() - answered >= self.request_id_memory:
            self.replies.pop(request_id, None)
            self.replied_at.pop(request_id, None)
            return None
        return self.replies.get(request_id)

    def totals(self) -> dict[str, int]:
        """Customer id -> summed TotalAmt in cents, to compare with the reconciliation."""
        result: dict[str, int] = {}
        for invoice in self.invoices:
            customer = invoice["CustomerRef"]["value"]
            result[customer] = result.get(customer, 0) + int(Decimal(str(invoice["TotalAmt"])) * 100)
        return result

    # -- protocol ----------------------------------------------------------------------------
    def _reply(self, status: int, body: Any) -> Response:
        return Response(status, raw=json.dumps(body, cls=_Encoder).encode())

    def unauthorized_body(self) -> Any:
        return {
            "fault": {
                "error": [
                    {
                        "message": "message=AuthenticationFailed; errorCode=003200; statusCode=401",
                        "detail": "Token expired",
                        "code": "3200",
                    }
                ],
                "type": "AUTHENTICATION",
            },
            "time": _now(),
        }

    def _token(self, request: Request) -> Response:
        expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        if request.header("authorization") != f"Basic {expected}":
            raise HttpError(401, {"error": "invalid_client"})
        form = request.form()
        if form.get("grant_type") != "refresh_token" or form.get("refresh_token") not in self.refresh_tokens:
            raise HttpError(400, {"error": "invalid_grant"})
        new_refresh = "qbo-rt-" + secrets.token_urlsafe(12)
        with self.lock:
            self.refresh_tokens.add(new_refresh)
            self.latest_refresh_token = new_refresh
        return Response(
            200,
            {
                "token_type": "bearer",
                "access_token": self.issue_token(),
                "expires_in": 3600,
                "refresh_token": new_refresh,
                "x_refresh_token_expires_in": 8726400,
            },
        )

    def _check(self, request: Request) -> None:
        self.require_bearer(request)
        if request.params.get("realm") != self.realm_id:
            raise HttpError(
                403,
                {
                    "fault": {
                        "error": [
                            {
                                "message": "message=ApplicationAuthorizationFailed; errorCode=003100; statusCode=403"
                            }
                        ],
                        "type": "SERVICE",
                    }
                },
            )
        minor = request.arg("minorversion")
        if minor is not None and (not minor.isdigit() or int(minor) < 75):
            raise HttpError(
                400, fault("Invalid minor version", f"Minor version {minor} is not supported", "2030")
            )

    def _query(self, request: Request) -> Response:
        self._check(request)
        if request.method == "POST":
            content_type = (request.header("content-type") or "").split(";")[0].strip().lower()
            if content_type not in ("application/text", "text/plain"):
                raise HttpError(
                    415, fault("Unsupported Media Type", f"Content-Type {content_type!r} for a query", "6010")
                )  # Unverified: the code and wording Intuit answers here
            query = request.body.decode("utf-8", errors="replace")
        else:
            query = request.arg("query") or ""
        match = _QUERY.match(query)
        if not match:
            raise HttpError(400, fault("Error parsing query", f"QueryParserError: {query}", "4000"))
        tables = {"customer": self.customers.values(), "item": self.items.values(), "invoice": self.invoices}
        entity = match["entity"].capitalize()
        rows = list(tables.get(entity.lower(), []))
        if match["field"]:
            rows = [row for row in rows if _field_text(row, match["field"]) == match["value"]]
        if match["what"].upper().startswith("COUNT"):
            return self._reply(200, {"QueryResponse": {"totalCount": len(rows)}, "time": _now()})
        start = int(match["start"] or 1)
        size = min(int(match["max"] or 100), 1000)
        page = rows[start - 1 : start - 1 + size]
        body: dict[str, Any] = {"QueryResponse": {}, "time": _now()}
        if page:
            body["QueryResponse"] = {entity: page, "startPosition": start, "maxResults": len(page)}
        return self._reply(200, body)

    def _read_invoice(self, request: Request) -> Response:
        self._check(request)
        for invoice in self.invoices:
            if invoice["Id"] == request.params["id"]:
                return self._reply(200, {"Invoice": invoice, "time": _now()})
        raise HttpError(
            400,
            fault(
                "Object Not Found",
                "Object Not Found : Something you're trying to use has been made inactive.",
                "610",
            ),
        )

    def _create_invoice(self, request: Request) -> Response:
        self._check(request)
        request_id = request.arg("requestid")
        with self.lock:  # one create at a time, so a concurrent repeat of a requestid sees the first
            remembered = self._remembered(request_id) if request_id else None
            if remembered is not None:
                return remembered
            response = self._validate_and_create(request)
            if request_id:
                self.replies[request_id] = response
                self.replied_at[request_id] = time.monotonic()
            if response.status == 200 and self.fail_after_create > 0:
                self.fail_after_create -= 1
                failed = fault(
                    "An application error has occurred", "created, then failed", "10000", "SystemFault"
                )
                response = self._reply(500, failed)
                if request_id:
                    self.replies.pop(request_id, None)  # the 500 is not replayed: the next try is processed
                    self.replied_at.pop(request_id, None)
        if response.status == 200 and self.delay_after_create:
            time.sleep(self.delay_after_create)
        return response

    def _validate_and_create(self, request: Request) -> Response:
        if self._next_faults:
            return self._reply(400, self._next_faults.pop(0))
        try:
            body = json.loads(request.body, parse_float=Decimal)
        except ValueError:
            return self._reply(
                400, fault("Request has invalid or unsupported property", "Invalid JSON", "2010")
            )
        customer = str((body.get("CustomerRef") or {}).get("value", ""))
        if customer not in self.customers:
            return self._reply(
                400,
                fault(
                    "Invalid Reference Id", f"Invalid Reference Id : Customer {customer} not found", "2500"
                ),
            )
        currency = str((body.get("CurrencyRef") or {}).get("value") or "")
        customer_currency = self.customers[customer]["CurrencyRef"]["value"]
        if currency and currency != customer_currency:
            # Unverified: the exact code and words QBO uses for a currency other than the customer's.
            return self._reply(
                400,
                fault(
                    "Business Validation Error",
                    f"Business Validation Error: the transaction currency {currency} must match the "
                    f"customer's currency {customer_currency}",
                    "6190",
                ),
            )
        lines: list[dict[str, Any]] = []
        total = Decimal(0)
        for number, line in enumerate(body.get("Line") or [], start=1):
            detail = line.get("SalesItemLineDetail") or {}
            item_id = str((detail.get("ItemRef") or {}).get("value", ""))
            if item_id not in self.items:
                return self._reply(
                    400,
                    fault("Invalid Reference Id", f"Invalid Reference Id : Item {item_id} not found", "2500"),
                )
            amount = Decimal(str(line.get("Amount", 0)))
            qty = Decimal(str(detail.get("Qty", 1)))
            unit = Decimal(str(detail.get("UnitPrice", amount)))
            if (qty * unit).quantize(Decimal("0.01")) != amount:
                # Unverified: the exact code QBO uses for Amount != Qty * UnitPrice.
                return self._reply(
                    400,
                    fault(
                        "Amount is not equal to UnitPrice * Qty",
                        f"Line {number}: Amount {amount} is not equal to UnitPrice {unit} * Qty {qty}",
                        "6070",
                    ),
                )
            lines.append({**line, "Id": str(number), "LineNum": number})
            total += amount
        lines.append({"DetailType": "SubTotalLineDetail", "Amount": total, "SubTotalLineDetail": {}})
        tax = (total * self.sales_tax_percent / 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        invoice_id = str(130 + len(self.invoices))
        invoice = {
            **body,
            "Id": invoice_id,
            "SyncToken": "0",
            "DocNumber": str(1001 + len(self.invoices)),
            "domain": "QBO",
            "Line": lines,
            "CustomerRef": {"value": customer, "name": self.customers[customer]["DisplayName"]},
            "CurrencyRef": {"value": customer_currency},
            "TxnTaxDetail": {"TotalTax": tax},
            "TotalAmt": total + tax,
            "Balance": total + tax,
            "MetaData": {"CreateTime": _now(), "LastUpdatedTime": _now()},
        }
        self.invoices.append(invoice)
        self.created.set()
        return self._reply(200, {"Invoice": invoice, "time": _now()})

    def _control(self, request: Request) -> Response:
        payload = request.json() or {}
        if "delay_after_create" in payload:
            self.delay_after_create = float(payload["delay_after_create"])
        if "fault" in payload:
            self.fail_next_invoice(**payload["fault"])
        if "fail_after_create" in payload:
            self.fail_after_create = int(payload["fail_after_create"])
        if "request_id_memory" in payload:
            memory = payload["request_id_memory"]
            self.request_id_memory = None if memory is None else float(memory)
        if payload.get("forget_keys"):
            self.forget_keys()
        return Response(204)


def _field_text(row: dict[str, Any], field: str) -> str:
    """A row's value for a WHERE: reference fields (CustomerRef, ItemRef…) compare by their `value`."""
    value = row.get(field, "")
    if isinstance(value, dict):
        value = value.get("value", "")
    return str(value)
