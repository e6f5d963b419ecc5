"""ConnectWise PSA (Manage) REST 3.0 fake: Basic `company+publicKey:privateKey` with a required
`clientId` header, a versioned `Accept` header, `page` (1-based) + `pageSize` (≤ 1000) over bare JSON
arrays, forward-only paging through the `Link` header when asked (`pagination-type: forward-only`),
`conditions` on `deletedFlag`/`agreementStatus`, and ConnectWise's `{"code", "message"}` error bodies."""

from __future__ import annotations

import base64
from typing import Any

from sandbox.server import Fake, HttpError, Request, Response

PREFIX = "/v4_6_release/apis/3.0"
MAX_PAGE_SIZE = 1000


class ConnectWiseFake(Fake):
    name = "connectwise"

    def __init__(
        self,
        companies: list[dict[str, Any]],
        agreements: list[dict[str, Any]],
        additions: dict[int, list[dict[str, Any]]],
        *,
        company: str = "sandboxmsp",
        public_key: str = "cw-public",
        private_key: str = "cw-private",
        client_id: str = "00000000-0000-4000-8000-0000000000cw",
    ) -> None:
        super().__init__()
        self.companies = sorted(companies, key=lambda row: row["id"])
        self.agreements = sorted(agreements, key=lambda row: row["id"])
        self.additions = additions
        self.login = (company, public_key, private_key)
        self.client_id = client_id
        for prefix in ("", PREFIX):  # the real base URL carries the prefix; tests may point at the root
            self.route("GET", f"{prefix}/system/info", self.info)
            self.route("GET", f"{prefix}/company/companies", self.list_companies)
            self.route("GET", f"{prefix}/finance/agreements", self.list_agreements)
            self.route("GET", f"{prefix}/finance/agreements/{{agreement_id}}/additions", self.list_additions)

    def unauthorized_body(self) -> Any:
        return {"code": "Unauthorized", "message": "Authentication failed"}

    def _admit(self, request: Request) -> None:
        company, public_key, private_key = self.login
        expected = base64.b64encode(f"{company}+{public_key}:{private_key}".encode()).decode()
        if request.header("authorization") != f"Basic {expected}":
            raise HttpError(401, self.unauthorized_body())
        if request.header("clientid") != self.client_id:
            # Since 2019 every request needs the integration's clientId.
            raise HttpError(403, {"code": "Forbidden", "message": "A valid clientId is required"})
        accept = request.header("accept") or ""
        if "application/vnd.connectwise.com+json" not in accept and accept not in (
            "",
            "*/*",
            "application/json",
        ):
            raise HttpError(406, {"code": "NotAcceptable", "message": f"unsupported Accept {accept!r}"})

    def _conditions(self, request: Request, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The subset of `conditions` the collector uses: `field=value` joined by ` and `."""
        text = request.arg("conditions") or ""
        for clause in filter(None, (part.strip() for part in text.split(" and "))):
            field, _, value = clause.partition("=")
            wanted = value.strip().strip('"')
            rows = [row for row in rows if str(row.get(field.strip())).lower() == wanted.lower()]
        return rows

    def _page(self, request: Request, rows: list[dict[str, Any]]) -> Response:
        self._admit(request)
        rows = self._conditions(request, rows)
        try:
            size = int(request.arg("pageSize") or 25)
            page = int(request.arg("page") or 1)
            after = request.arg("pageId")
        except ValueError:
            raise HttpError(
                400, {"code": "InvalidObject", "message": "page and pageSize are numbers"}
            ) from None
        if not 1 <= size <= MAX_PAGE_SIZE or page < 1:
            raise HttpError(400, {"code": "InvalidObject", "message": "pageSize must be 1-1000, page ≥ 1"})
        if (request.header("pagination-type") or "").lower() == "forward-only":
            start = (
                0
                if after is None
                else next((n + 1 for n, row in enumerate(rows) if str(row["id"]) == after), len(rows))
            )
            chunk = rows[start : start + size]
            headers = {}
            if start + size < len(rows):
                link = f'<{self.url}{request.path}?pageSize={size}&pageId={chunk[-1]["id"]}>; rel="next"'
                headers["Link"] = link
            return Response(200, chunk, headers)
        chunk = rows[(page - 1) * size : page * size]
        headers = {}
        if page * size < len(rows):
            headers["Link"] = f'<{self.url}{request.path}?page={page + 1}&pageSize={size}>; rel="next"'
        return Response(200, chunk, headers)

    def info(self, request: Request) -> dict[str, Any]:
        self._admit(request)
        return {"version": "v2024.1.12345", "isCloud": True, "serverTimeZone": "Eastern Standard Time"}

    def list_companies(self, request: Request) -> Response:
        response = self._page(request, self.companies)
        fields = request.arg("fields")
        if fields and isinstance(response.body, list):
            keep = {name.strip() for name in fields.split(",")}
            response.body = [{k: v for k, v in row.items() if k in keep} for row in response.body]
        return response

    def list_agreements(self, request: Request) -> Response:
        return self._page(request, self.agreements)

    def list_additions(self, request: Request) -> Response:
        agreement_id = int(request.params["agreement_id"])
        if not any(row["id"] == agreement_id for row in self.agreements):
            self._admit(request)
            raise HttpError(404, {"code": "NotFound", "message": f"Agreement {agreement_id} not found"})
        rows = [{**row, "agreementId": agreement_id} for row in self.additions.get(agreement_id, [])]
        return self._page(request, rows)


def agreement(
    agreement_id: int,
    company: dict[str, Any],
    name: str,
    *,
    status: str = "Active",
    cycle: str = "Monthly",
    start: str = "2026-01-01T00:00:00Z",
    end: str | None = None,
) -> dict[str, Any]:
    """An agreement as ConnectWise lists it (trimmed to what a billing read needs)."""
    row: dict[str, Any] = {
        "id": agreement_id,
        "name": name,
        "type": {"id": 3, "name": "Managed Services"},
        "company": {"id": company["id"], "identifier": company["identifier"], "name": company["name"]},
        "agreementStatus": status,
        "cancelledFlag": status == "Cancelled",
        "startDate": start,
        "noEndingDateFlag": end is None,
        "billingCycle": {"id": 2 if cycle != "None" else 0, "name": cycle},
        "billAmount": 0.0,
        "_info": {"lastUpdated": "2026-11-01T10:00:00Z"},
    }
    if end is not None:
        row["endDate"] = end
    return row


def addition(
    addition_id: int,
    product: str,
    quantity: float,
    unit_price: float,
    *,
    unit_cost: float | None = None,
    less_included: float = 0,
    bill: str = "Billable",
    effective: str | None = None,
    cancelled: str | None = None,
    description: str = "",
) -> dict[str, Any]:
    """An agreement addition as ConnectWise lists it."""
    row: dict[str, Any] = {
        "id": addition_id,
        "product": {"id": 9000 + addition_id, "identifier": product},
        "quantity": quantity,
        "lessIncluded": less_included,
        "unitPrice": unit_price,
        "billCustomer": bill,
        "taxableFlag": False,
        "description": description or product,
        "uom": "Each",
        "extPrice": round(unit_price * (quantity - less_included), 2),
        "_info": {"lastUpdated": "2026-11-01T10:00:00Z"},
    }
    if unit_cost is not None:
        row["unitCost"] = unit_cost
    if effective is not None:
        row["effectiveDate"] = effective
    if cancelled is not None:
        row["cancelledDate"] = cancelled
    return row
