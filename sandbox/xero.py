"""Xero fake: identity token endpoint (rotating refresh tokens), `GET /connections`, and
`PUT/GET /api.xro/2.0/Invoices` with `xero-tenant-id`, `Idempotency-Key` replay, ValidationException
bodies, the 60-calls-per-minute tenant limit (429 + Retry-After + X-Rate-Limit-Problem) and the
X-*Limit-Remaining headers.

Failures on demand besides `fake.faults`: `fake.fail_next_invoice("Contact ... not found")`,
`fake.delay_after_create = 5` (create, then answer late), `fake.fail_after_create = 1` (create, then
answer 500), `fake.forget_keys()` (Idempotency-Keys seen so far are processed as new); over HTTP via
`POST /_sandbox/xero`.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import threading
import time
import uuid
from collections import deque
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sandbox.server import Fake, HttpError, Request, Response

DEFAULT_TENANT = "fe79f7dd-b6d4-4a92-ba7b-538af6289c58"
DEFAULT_CLIENT_ID = "sandbox-xero-client"
DEFAULT_CLIENT_SECRET = "sandbox-xero-secret"
DEFAULT_REFRESH_TOKEN = "sandbox-xero-refresh"
_WHERE = re.compile(r'^\s*Reference\s*==\s*"(?P<value>[^"]*)"\s*$')


_MS_DATE = re.compile(r"^/Date\((?P<ms>-?\d+)(?P<offset>[+-]\d{4})?\)/$")


def ms_date(day: str) -> str:
    moment = datetime.combine(date.fromisoformat(day), datetime.min.time(), tzinfo=UTC)
    return f"/Date({int(moment.timestamp() * 1000)}+0000)/"


def parse_day(value: Any) -> str | None:
    """A request's date as Xero accepts it: `/Date(1767139200000+0000)/` (the spec's `x-is-msdate`, what
    xero-python sends), or ISO `2026-01-31` / `2026-01-31T00:00:00` → "2026-01-31"; None if neither."""
    if value is None:
        return None
    text = str(value).strip()
    match = _MS_DATE.match(text)
    try:
        if match:
            return datetime.fromtimestamp(int(match["ms"]) / 1000, UTC).date().isoformat()
        return datetime.fromisoformat(text.replace("Z", "+00:00")).date().isoformat()
    except (ValueError, OverflowError, OSError):
        return None


class _Encoder(json.JSONEncoder):
    def default(self, o: Any) -> Any:
        if isinstance(o, Decimal):
            return float(o)  # the fake's answer only; 2-dp and 4-dp values round-trip exactly
        return super().default(o)


def validation_error(invoice: dict[str, Any], messages: list[str]) -> dict[str, Any]:
    return {
        "ErrorNumber": 10,
        "Type": "ValidationException",
        "Message": "A validation exception occurred",
        "Elements": [{**invoice, "HasErrors": True, "ValidationErrors": [{"Message": m} for m in messages]}],
    }


class XeroFake(Fake):
    name = "xero"

    def __init__(
        self,
        *,
        tenant_id: str = DEFAULT_TENANT,
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: str = DEFAULT_CLIENT_SECRET,
        refresh_token: str = DEFAULT_REFRESH_TOKEN,
        contacts: dict[str, str] | None = None,
        item_codes: list[str] | None = None,
        calls_per_minute: int = 60,
    ) -> None:
        super().__init__()
        self.tenant_id = tenant_id
        self.client_id = client_id
        self.client_secret = client_secret
        self.refresh_tokens = {refresh_token}  # Xero allows a grace period for the previous token
        self.latest_refresh_token = refresh_token
        self.contacts: dict[str, str] = dict(contacts or {})
        self.base_currency = "USD"
        self.currencies: dict[str, str] = {}  # ContactID -> DefaultCurrency, when one is set
        self.item_codes: set[str] = set(item_codes or [])
        self.item_tax: dict[str, Decimal] = {}  # item code -> sales tax percent its account applies
        self.invoices: list[dict[str, Any]] = []
        self.replies: dict[str, Response] = {}
        self.calls_per_minute = calls_per_minute
        self.calls: deque[float] = deque()
        self.delay_after_create = 0.0
        self.fail_after_create = 0
        self.created = threading.Event()
        self._next_errors: list[list[str]] = []
        self.route("POST", "/connect/token", self._token)
        self.route("GET", "/connections", self._connections)
        self.route("PUT", "/api.xro/2.0/Invoices", self._create)
        self.route("GET", "/api.xro/2.0/Invoices", self._list)
        self.route("GET", "/api.xro/2.0/Contacts/{contact}", self._contact)
        self.route("POST", "/_sandbox/xero", self._control)

    def seed(self, contacts: dict[str, str], item_codes: list[str]) -> None:
        self.contacts.update(contacts)
        self.item_codes.update(item_codes)

    def forget_keys(self) -> None:
        """Unverified: how long Xero keeps an Idempotency-Key; after this a repeat is processed as new."""
        with self.lock:
            self.replies.clear()

    def fail_next_invoice(self, *messages: str) -> None:
        self._next_errors.append(list(messages) or ["Invoice not of valid status for creation"])

    def totals(self) -> dict[str, int]:
        result: dict[str, int] = {}
        for invoice in self.invoices:
            contact = invoice["Contact"]["ContactID"]
            result[contact] = result.get(contact, 0) + int(Decimal(str(invoice["Total"])) * 100)
        return result

    def _reply(self, status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
        return Response(status, raw=json.dumps(body, cls=_Encoder).encode(), headers=headers or {})

    def unauthorized_body(self) -> Any:
        return {
            "Type": None,
            "Title": "Unauthorized",
            "Status": 401,
            "Detail": "TokenExpired: token expired at 03/28/2026 10:00:00",
        }

    def _token(self, request: Request) -> Response:
        expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        if request.header("authorization") != f"Basic {expected}":
            raise HttpError(400, {"error": "invalid_client"})
        form = request.form()
        if form.get("grant_type") != "refresh_token" or form.get("refresh_token") not in self.refresh_tokens:
            raise HttpError(400, {"error": "invalid_grant"})
        new_refresh = "xero-rt-" + secrets.token_urlsafe(12)
        with self.lock:
            self.refresh_tokens.add(new_refresh)
            self.latest_refresh_token = new_refresh
        return Response(
            200,
            {
                "access_token": self.issue_token(),
                "expires_in": 1800,
                "token_type": "Bearer",
                "refresh_token": new_refresh,
                "scope": "offline_access accounting.transactions",
            },
        )

    def _connections(self, request: Request) -> Response:
        self.require_bearer(request)
        return self._reply(
            200,
            [
                {
                    "id": str(uuid.uuid5(uuid.NAMESPACE_URL, self.tenant_id)),
                    "tenantId": self.tenant_id,
                    "tenantName": "Sandbox Company",
                    "tenantType": "ORGANISATION",
                    "createdDateUtc": "2026-01-01T00:00:00.0000000",
                    "updatedDateUtc": "2026-01-01T00:00:00.0000000",
                }
            ],
        )

    def _limits(self, request: Request) -> dict[str, str]:
        """Bearer, tenant and the per-minute limit; returns the limit headers every answer carries."""
        self.require_bearer(request)
        if request.header("xero-tenant-id") != self.tenant_id:
            # Unverified: the exact body Xero sends for a tenant the token is not connected to.
            raise HttpError(
                403,
                {"Type": None, "Title": "Forbidden", "Status": 403, "Detail": "AuthenticationUnsuccessful"},
            )
        now = time.monotonic()
        with self.lock:
            while self.calls and now - self.calls[0] >= 60:
                self.calls.popleft()
            if len(self.calls) >= self.calls_per_minute:
                wait = max(1, int(60 - (now - self.calls[0])) + 1)
                raise HttpError(
                    429,
                    {"Title": "Too Many Requests", "Status": 429},
                    {"Retry-After": str(wait), "X-Rate-Limit-Problem": "minute"},
                )
            self.calls.append(now)
            remaining = self.calls_per_minute - len(self.calls)
        return {
            "X-MinLimit-Remaining": str(remaining),
            "X-DayLimit-Remaining": "4990",
            "X-AppMinLimit-Remaining": "9990",
        }

    def _create(self, request: Request) -> Response:
        headers = self._limits(request)
        key = request.header("idempotency-key")
        if key is not None and len(key) > 128:
            raise HttpError(400, validation_error({}, ["Idempotency-Key must be 128 characters or fewer"]))
        with self.lock:  # a concurrent repeat of a key waits for, then replays, the first
            if key and key in self.replies:
                return self.replies[key]
            response = self._validate_and_create(request, headers)
            if key:
                self.replies[key] = response
            if response.status == 200 and self.fail_after_create > 0:
                self.fail_after_create -= 1
                self.replies.pop(key or "", None)
                response = self._reply(500, {"Title": "An error occurred", "Status": 500}, headers)
        if response.status == 200 and self.delay_after_create:
            time.sleep(self.delay_after_create)
        return response

    def _validate_and_create(self, request: Request, headers: dict[str, str]) -> Response:
        try:
            body = json.loads(request.body, parse_float=Decimal)
            invoice = dict(body["Invoices"][0])
        except (ValueError, KeyError, IndexError, TypeError):
            return self._reply(
                400,
                {
                    "ErrorNumber": 14,
                    "Type": "PostDataInvalidException",
                    "Message": "The string did not match the expected pattern.",
                },
                headers,
            )
        if self._next_errors:
            return self._reply(400, validation_error(invoice, self._next_errors.pop(0)), headers)
        errors = []
        contact = str((invoice.get("Contact") or {}).get("ContactID", ""))
        if contact not in self.contacts:
            errors.append("The Contact specified could not be found.")  # Unverified wording
        if invoice.get("Type") != "ACCREC":
            errors.append("Invoice Type must be specified.")
        for field in ("Date", "DueDate"):
            if field in invoice:
                day = parse_day(invoice[field])
                if day is None:
                    errors.append(f"{field} is not a valid date")  # Unverified wording
                else:
                    invoice[field] = day
        total = Decimal(0)
        tax = Decimal(0)
        lines = []
        amount_types = str(invoice.get("LineAmountTypes") or "Exclusive")  # the spec's default
        for line in invoice.get("LineItems") or []:
            code = line.get("ItemCode")
            if code and code not in self.item_codes:
                errors.append(f"Item code '{code}' is not valid")
            recorded, net, line_tax = self._line(line, amount_types)
            total += net
            tax += line_tax
            lines.append(recorded)
        if errors:
            return self._reply(400, validation_error(invoice, errors), headers)
        created = {
            **invoice,
            "CurrencyCode": invoice.get("CurrencyCode") or self.base_currency,
            "InvoiceID": str(uuid.uuid4()),
            "InvoiceNumber": f"INV-{len(self.invoices) + 1:04d}",
            "Contact": {"ContactID": contact, "ContactStatus": "ACTIVE", "Name": self.contacts[contact]},
            "DateString": f"{invoice.get('Date')} 00:00:00",
            "Date": ms_date(str(invoice.get("Date"))),
            "DueDateString": f"{invoice.get('DueDate')} 00:00:00",
            "DueDate": ms_date(str(invoice.get("DueDate"))),
            "LineItems": lines,
            "LineAmountTypes": amount_types,
            "SubTotal": total,
            "TotalTax": tax,
            "Total": total + tax,
            "AmountDue": total + tax,
            "AmountPaid": Decimal(0),
            "HasErrors": False,
            "StatusAttributeString": "OK",
            "UpdatedDateUTC": f"/Date({int(time.time() * 1000)}+0000)/",
        }
        self.invoices.append(created)
        self.created.set()
        return self._reply(
            200,
            {
                "Id": str(uuid.uuid4()),
                "Status": "OK",
                "ProviderName": "MCC",
                "DateTimeUTC": f"/Date({int(time.time() * 1000)})/",
                "Invoices": [created],
            },
            headers,
        )

    def _contact(self, request: Request) -> Response:
        headers = self._limits(request)
        contact = request.params["contact"]
        if contact not in self.contacts:
            # Unverified: the body Xero sends for an unknown ContactID.
            raise HttpError(404, {"Title": "Not Found", "Status": 404, "Detail": "Resource not found"})
        record: dict[str, Any] = {
            "ContactID": contact,
            "ContactStatus": "ACTIVE",
            "Name": self.contacts[contact],
            "IsCustomer": True,
        }
        if contact in self.currencies:
            record["DefaultCurrency"] = self.currencies[contact]
        return self._reply(200, {"Id": str(uuid.uuid4()), "Status": "OK", "Contacts": [record]}, headers)

    def _line(self, line: dict[str, Any], amount_types: str) -> tuple[dict[str, Any], Decimal, Decimal]:
        """One line as Xero records it, with its net amount and tax. As an open PSA found, a line whose
        LineAmount is not Quantity × UnitAmount is not refused: Xero keeps the amount, resets the quantity
        to 1 and marks it tax-exempt. An item whose account carries a sales tax (`item_tax`) gets it,
        added to (Exclusive) or taken out of (Inclusive) the line amount."""
        quantity = Decimal(str(line.get("Quantity", 1)))
        unit = Decimal(str(line.get("UnitAmount", 0)))
        amount = (quantity * unit).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        tax_type = line.get("TaxType")
        percent = (
            self.item_tax.get(str(line.get("ItemCode")), Decimal(0)) if tax_type != "NONE" else Decimal(0)
        )
        if "LineAmount" in line and Decimal(str(line["LineAmount"])) != amount:
            amount = Decimal(str(line["LineAmount"]))
            quantity, unit, percent, tax_type = Decimal(1), amount, Decimal(0), "NONE"
        if amount_types == "NoTax" or not percent:
            line_tax = Decimal(0)
        elif amount_types == "Inclusive":
            line_tax = (amount - amount * 100 / (100 + percent)).quantize(
                Decimal("0.01"), rounding=ROUND_HALF_UP
            )
        else:
            line_tax = (amount * percent / 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        net = amount - line_tax if amount_types == "Inclusive" else amount
        recorded = {
            **line,
            "Quantity": quantity,
            "UnitAmount": unit,
            "LineAmount": amount,
            "TaxAmount": line_tax,
            "TaxType": tax_type or ("OUTPUT" if percent else "NONE"),
            "LineItemID": str(uuid.uuid4()),
        }
        return recorded, net, line_tax

    def _list(self, request: Request) -> Response:
        headers = self._limits(request)
        rows = self.invoices
        where = request.arg("where")
        if where:
            match = _WHERE.match(where)
            if not match:
                raise HttpError(
                    400,
                    {"ErrorNumber": 16, "Type": "QueryParseException", "Message": f"Unable to parse {where}"},
                )
            rows = [row for row in rows if row.get("Reference") == match["value"]]
        page = int(request.arg("page") or 1)
        size = int(request.arg("pageSize") or 100)
        chunk = rows[(page - 1) * size : page * size]
        return self._reply(
            200,
            {
                "Id": str(uuid.uuid4()),
                "Status": "OK",
                "Invoices": chunk,
                "pagination": {
                    "page": page,
                    "pageSize": size,
                    "pageCount": max(1, -(-len(rows) // size)),
                    "itemCount": len(rows),
                },
            },
            headers,
        )

    def _control(self, request: Request) -> Response:
        payload = request.json() or {}
        if "delay_after_create" in payload:
            self.delay_after_create = float(payload["delay_after_create"])
        if "errors" in payload:
            self.fail_next_invoice(*payload["errors"])
        if "fail_after_create" in payload:
            self.fail_after_create = int(payload["fail_after_create"])
        if payload.get("forget_keys"):
            self.forget_keys()
        return Response(204)
