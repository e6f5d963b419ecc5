"""Pax8 fake: client-credentials token from a JSON body with `audience` at /v1/token, 0-based `page` +
`size` (≤ 200) paging in the `content` + `page{}` envelope, omitted (never null) fields, and the
`{type, message, instance, status, details}` error body."""

from __future__ import annotations

import math
import uuid
from typing import Any

from sandbox.server import Fake, HttpError, Request, Response

AUDIENCES = ("https://api.pax8.com", "api://p8p.client", "api://provisioning", "api://usage")
MAX_SIZE = 200
# What the spec's `Company` schema marks required; a company the test world leaves them off gets these.
COMPANY_DEFAULTS: dict[str, Any] = {
    "address": {"street": "1 Main St", "city": "Denver", "stateOrProvince": "CO", "postalCode": "80202", "country": "US"},
    "phone": "555-555-5555",
    "website": "https://example.com/",
    "billOnBehalfOfEnabled": False,
    "selfServiceAllowed": False,
    "orderApprovalRequired": False,
}  # fmt: skip


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _error(status: int, kind: str, message: str, instance: str) -> HttpError:
    return HttpError(
        status, {"type": kind, "message": message, "instance": instance, "status": status, "details": []}
    )


class Pax8Fake(Fake):
    name = "pax8"

    def __init__(
        self,
        companies: list[dict[str, Any]],
        subscriptions: list[dict[str, Any]],
        products: list[dict[str, Any]],
        client_id: str = "pax8-client",
        client_secret: str = "pax8-secret",
    ) -> None:
        super().__init__()
        self.companies = sorted(({**COMPANY_DEFAULTS, **c} for c in companies), key=lambda c: c["name"])
        self.subscriptions = list(subscriptions)
        self.products = {product["id"]: product for product in products}
        self.client_id, self.client_secret = client_id, client_secret
        self.route("POST", "/v1/token", self.token)
        self.route("GET", "/v1/companies", self.list_companies)
        self.route("GET", "/v1/subscriptions", self.list_subscriptions)
        self.route("GET", "/v1/products", self.list_products)
        self.route("GET", "/v1/products/{product_id}", self.get_product)

    def unauthorized_body(self) -> Any:
        return {"type": "UNAUTHORIZED", "message": "Unauthorized", "status": 401, "details": []}

    def token(self, request: Request) -> Response:
        try:
            body = request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or body.get("grant_type") != "client_credentials":
            return Response(400, {"error": "invalid_request", "error_description": "JSON body required"})
        if body.get("audience") not in AUDIENCES:
            return Response(
                403, {"error": "access_denied", "error_description": "Service not enabled within domain"}
            )
        if (body.get("client_id"), body.get("client_secret")) != (self.client_id, self.client_secret):
            return Response(401, {"error": "access_denied", "error_description": "Unauthorized"})
        return Response(
            200, {"access_token": self.issue_token(), "expires_in": 86400, "token_type": "Bearer"}
        )

    def _page(self, request: Request, rows: list[dict[str, Any]]) -> dict[str, Any]:
        self.require_bearer(request)
        try:
            page = int(request.arg("page") or 0)
            size = int(request.arg("size") or 10)
        except ValueError:
            raise _error(400, "BAD_REQUEST", "page and size must be integers", request.path) from None
        if page < 0 or not 1 <= size <= MAX_SIZE:
            raise _error(400, "BAD_REQUEST", "size must be between 1 and 200", request.path)
        content = rows[page * size : (page + 1) * size]
        return {
            "content": content,
            "page": {
                "size": size,
                "totalElements": len(rows),
                "totalPages": math.ceil(len(rows) / size),
                "number": page,
            },
        }

    def list_companies(self, request: Request) -> dict[str, Any]:
        rows = self.companies
        if request.arg("status"):
            rows = [row for row in rows if row.get("status") == request.arg("status")]
        return self._page(request, rows)

    def list_subscriptions(self, request: Request) -> dict[str, Any]:
        rows = self.subscriptions
        for name in ("status", "companyId", "productId", "billingTerm"):
            value = request.arg(name)
            if value:
                rows = [row for row in rows if row.get(name) == value]
        return self._page(request, rows)

    def list_products(self, request: Request) -> dict[str, Any]:
        return self._page(request, sorted(self.products.values(), key=lambda p: p["name"]))

    def get_product(self, request: Request) -> dict[str, Any]:
        self.require_bearer(request)
        if not _is_uuid(request.params["product_id"]):  # ids are UUIDs (spec: `format: uuid`)
            raise _error(400, "BAD_REQUEST", "productId must be a UUID", request.path)
        product = self.products.get(request.params["product_id"])
        if product is None:
            raise _error(404, "NOT_FOUND", "Product not found", request.path)
        return product
