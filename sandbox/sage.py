"""Sage Business Cloud Accounting fake: token endpoint (client credentials in the form body, rotating
refresh tokens), `POST /v3.1/sales_invoices` (an `Idempotency-Key` of 32 hyphenless hex characters
replays the first answer until `fake.forget_keys()`; without one a repeat makes a second invoice),
`GET /v3.1/sales_invoices?search=` to find one by reference, contacts with their currency, and tax rates
(`GET /v3.1/tax_rates/{id}`; a line with a rate above zero must carry its `tax_amount`, as v3.1 requires). Errors use Sage's
`[{"$severity", "$dataCode", "$message", "$source"}]` list.

Failures on demand besides `fake.faults`: `fake.fail_next_invoice(message, source)`,
`fake.delay_after_create = 5`, `fake.fail_after_create = 1` (create, then answer 500); over HTTP via
`POST /_sandbox/sage`.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
import uuid
from decimal import Decimal
from typing import Any

from sandbox.server import Fake, HttpError, Request, Response

DEFAULT_CLIENT_ID = "sandbox-sage-client"
DEFAULT_CLIENT_SECRET = "sandbox-sage-secret"
DEFAULT_REFRESH_TOKEN = "sandbox-sage-refresh"
DEFAULT_LEDGER_ACCOUNT = "9a994b92267a11e797950a57719b2edb"


class _Encoder(json.JSONEncoder):
    def default(self, o: Any) -> Any:
        if isinstance(o, Decimal):
            # The spec types amounts and quantities `number` (double); 2-dp and 4-dp values round-trip.
            return float(o)
        return super().default(o)


def error(message: str, source: str, code: str = "RecordInvalid") -> list[dict[str, str]]:
    return [{"$severity": "error", "$dataCode": code, "$message": message, "$source": source}]


class SageFake(Fake):
    name = "sage"

    def __init__(
        self,
        *,
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: str = DEFAULT_CLIENT_SECRET,
        refresh_token: str = DEFAULT_REFRESH_TOKEN,
        contacts: dict[str, str] | None = None,
        ledger_accounts: list[str] | None = None,
        business_id: str | None = None,
    ) -> None:
        super().__init__()
        self.client_id = client_id
        self.client_secret = client_secret
        self.refresh_tokens = {refresh_token}
        self.latest_refresh_token = refresh_token
        self.contacts: dict[str, str] = dict(contacts or {})
        self.base_currency = "USD"  # the business currency (Sage: per business, set at sign-up)
        self.currencies: dict[str, str] = {}  # contact id -> its currency, when not the business's
        self.ledger_accounts = set(ledger_accounts or [DEFAULT_LEDGER_ACCOUNT])
        self.business_id = business_id
        self.invoices: list[dict[str, Any]] = []
        self.delay_after_create = 0.0
        self.fail_after_create = 0
        self.replies: dict[str, Response] = {}  # Idempotency-Key -> the first answer
        # Unverified: the ids and percentages of a UK business's standard rates.
        self.tax_rates: dict[str, Decimal] = {
            "GB_STANDARD": Decimal(20),
            "GB_REDUCED": Decimal(5),
            "GB_ZERO": Decimal(0),
            "GB_EXEMPT": Decimal(0),
            "GB_NO_TAX": Decimal(0),
        }
        self.created = threading.Event()
        self._next_errors: list[list[dict[str, str]]] = []
        self.route("POST", "/token", self._token)
        self.route("POST", "/v3.1/sales_invoices", self._create)
        self.route("GET", "/v3.1/sales_invoices", self._list)
        self.route("GET", "/v3.1/contacts/{contact}", self._contact)
        self.route("GET", "/v3.1/tax_rates/{rate}", self._tax_rate)
        self.route("POST", "/_sandbox/sage", self._control)

    def seed(self, contacts: dict[str, str]) -> None:
        self.contacts.update(contacts)

    def fail_next_invoice(self, message: str = "can't be blank", source: str = "contact") -> None:
        self._next_errors.append(error(message, source))

    def totals(self) -> dict[str, int]:
        result: dict[str, int] = {}
        for invoice in self.invoices:
            contact = invoice["contact"]["id"]
            result[contact] = result.get(contact, 0) + int(Decimal(invoice["total_amount"]) * 100)
        return result

    def _reply(self, status: int, body: Any) -> Response:
        return Response(status, raw=json.dumps(body, cls=_Encoder).encode())

    def unauthorized_body(self) -> Any:
        return error("Access token is invalid or has expired", "", "InvalidToken")

    def _token(self, request: Request) -> Response:
        form = request.form()
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            raise HttpError(400, {"error": "invalid_client"})
        if form.get("grant_type") != "refresh_token" or form.get("refresh_token") not in self.refresh_tokens:
            raise HttpError(400, {"error": "invalid_grant"})
        new_refresh = "sage-rt-" + secrets.token_urlsafe(12)
        with self.lock:
            self.refresh_tokens.add(new_refresh)
            self.latest_refresh_token = new_refresh
        return Response(
            200,
            {
                "access_token": self.issue_token(),
                "expires_in": 300,
                "token_type": "bearer",
                "refresh_token": new_refresh,
                "refresh_token_expires_in": 2678400,
                "scope": "full_access",
            },
        )

    def _check(self, request: Request) -> None:
        self.require_bearer(request)
        if self.business_id and request.header("x-business") not in (None, self.business_id):
            raise HttpError(
                403, error("You do not have access to this business", "X-Business", "AccessDenied")
            )

    def forget_keys(self) -> None:
        """Unverified: how long Sage keeps an Idempotency-Key; after this a repeat is processed as new."""
        with self.lock:
            self.replies.clear()

    def _tax_rate(self, request: Request) -> Response:
        self._check(request)
        rate = request.params["rate"]
        if rate not in self.tax_rates:
            raise HttpError(404, error("Resource not found", "tax_rate", "RecordNotFound"))
        return self._reply(
            200,
            {
                "id": rate,
                "displayed_as": f"{rate} {self.tax_rates[rate]}%",
                "$path": f"/tax_rates/{rate}",
                "name": rate,
                "percentage": self.tax_rates[rate],
                "is_visible": True,
            },
        )

    def _create(self, request: Request) -> Response:
        self._check(request)
        key = request.header("idempotency-key")
        if key is not None and (len(key) != 32 or any(c not in "0123456789abcdefABCDEF" for c in key)):
            return self._reply(
                422,
                error("must be 32 hexadecimal characters without hyphens", "Idempotency-Key", "InvalidData"),
            )
        with self.lock:
            if key and key in self.replies:
                return self.replies[key]
            response = self._validate_and_create(request)
            if key and response.status < 500:
                self.replies[key] = response
            if response.status == 201 and self.fail_after_create > 0:
                self.fail_after_create -= 1
                self.replies.pop(key or "", None)
                response = self._reply(500, error("Internal server error", "", "InternalError"))
        if response.status == 201 and self.delay_after_create:
            time.sleep(self.delay_after_create)
        return response

    def _validate_and_create(self, request: Request) -> Response:
        try:
            invoice = dict(json.loads(request.body, parse_float=Decimal)["sales_invoice"])
        except (ValueError, KeyError, TypeError):
            return self._reply(
                400, error("Invalid JSON or missing sales_invoice", "sales_invoice", "InvalidData")
            )
        if self._next_errors:
            return self._reply(422, self._next_errors.pop(0))
        contact = str(invoice.get("contact_id", ""))
        if contact not in self.contacts:
            return self._reply(422, error("is invalid", "contact_id"))
        currency = str(invoice.get("currency_id") or self.base_currency)
        if currency != self.currency_of(contact):
            # Unverified: Sage's words for an invoice currency other than the contact's.
            return self._reply(422, error("must match the contact's currency", "currency_id"))
        total = Decimal(0)
        tax = Decimal(0)
        lines = []
        for number, line in enumerate(invoice.get("invoice_lines") or [], start=1):
            if str(line.get("ledger_account_id")) not in self.ledger_accounts:
                return self._reply(422, error("is invalid", f"invoice_lines[{number}].ledger_account_id"))
            amount = (
                Decimal(str(line.get("quantity", 1))) * Decimal(str(line.get("unit_price", 0)))
            ).quantize(Decimal("0.01"))
            rate = line.get("tax_rate_id")
            if rate is not None and rate not in self.tax_rates:
                return self._reply(422, error("is invalid", f"invoice_lines[{number}].tax_rate_id"))
            if rate is not None and self.tax_rates[rate] > 0 and line.get("tax_amount") is None:
                return self._reply(
                    422, error("is required for this tax rate", f"invoice_lines[{number}].tax_amount")
                )
            line_tax = Decimal(str(line.get("tax_amount") or 0))
            total += amount
            tax += line_tax
            lines.append(
                {
                    "id": uuid.uuid4().hex,
                    "description": line.get("description"),
                    "quantity": Decimal(str(line.get("quantity", 1))),
                    "unit_price": Decimal(str(line.get("unit_price", 0))),
                    "net_amount": amount,
                    "tax_rate": {"id": rate} if rate is not None else None,
                    "tax_amount": line_tax,
                    "total_amount": amount + line_tax,
                    "ledger_account": {"id": line.get("ledger_account_id")},
                }
            )
        invoice_id = uuid.uuid4().hex
        invoice_number = f"SI-{len(self.invoices) + 1}"
        created = {
            "id": invoice_id,
            "displayed_as": invoice_number,
            "$path": f"/sales_invoices/{invoice_id}",
            "invoice_number": invoice_number,
            "reference": invoice.get("reference"),
            "contact": {"id": contact, "displayed_as": self.contacts[contact]},
            "currency": {"id": currency, "displayed_as": currency},
            "date": invoice.get("date"),
            "due_date": invoice.get("due_date"),
            "invoice_lines": lines,
            "net_amount": total,
            "tax_amount": tax,
            "total_amount": total + tax,
            "outstanding_amount": total + tax,
            "status": {"id": "UNPAID", "displayed_as": "Unpaid"},
        }
        self.invoices.append(created)
        self.created.set()
        return self._reply(201, created)

    def currency_of(self, contact: str) -> str:
        return self.currencies.get(contact, self.base_currency)

    def _contact(self, request: Request) -> Response:
        self._check(request)
        contact = request.params["contact"]
        if contact not in self.contacts:
            raise HttpError(404, error("Resource not found", "contact", "RecordNotFound"))
        currency = self.currency_of(contact)
        return self._reply(
            200,
            {
                "id": contact,
                "displayed_as": self.contacts[contact],
                "$path": f"/contacts/{contact}",
                "name": self.contacts[contact],
                "currency": {"id": currency, "displayed_as": currency, "$path": f"/currencies/{currency}"},
            },
        )

    def _list(self, request: Request) -> Response:
        self._check(request)
        rows = self.invoices
        search = request.arg("search")
        if search:
            rows = [
                row for row in rows if search.lower() in f"{row['reference']} {row['invoice_number']}".lower()
            ]
        page = int(request.arg("page") or 1)
        size = int(request.arg("items_per_page") or 20)
        chunk = rows[(page - 1) * size : page * size]
        wanted = (request.arg("attributes") or "").split(",")
        items = [
            {
                "id": row["id"],
                "displayed_as": row["displayed_as"],
                "$path": row["$path"],
                **{key: row[key] for key in wanted if key in row},
            }
            for row in chunk
        ]
        return self._reply(
            200,
            {
                "$total": len(rows),
                "$page": page,
                "$next": None,
                "$back": None,
                "$items_per_page": size,  # Unverified: the envelope is not in the swagger
                "$items": items,
            },
        )

    def _control(self, request: Request) -> Response:
        payload = request.json() or {}
        if "delay_after_create" in payload:
            self.delay_after_create = float(payload["delay_after_create"])
        if "error" in payload:
            self.fail_next_invoice(**payload["error"])
        if "fail_after_create" in payload:
            self.fail_after_create = int(payload["fail_after_create"])
        return Response(204)
