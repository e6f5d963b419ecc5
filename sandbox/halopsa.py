"""HaloPSA fake: client-credentials tokens at `/auth/token` (form body, optional `?tenant=`), bearer
reads of `/api/Client` and `/api/RecurringInvoice` (with `includelines=true`), paged by
`pageinate=true&page_no=&page_size=` with `record_count` in each answer."""

from __future__ import annotations

from typing import Any

from sandbox.server import Fake, HttpError, Request


class HaloPsaFake(Fake):
    name = "halopsa"

    def __init__(
        self,
        clients: list[dict[str, Any]],
        invoices: list[dict[str, Any]],
        *,
        client_id: str = "halo-client",
        client_secret: str = "halo-secret",
        tenant: str | None = None,
    ) -> None:
        super().__init__()
        self.clients = sorted(clients, key=lambda row: row["id"])
        self.invoices = sorted(invoices, key=lambda row: row["id"])
        self.client_id, self.client_secret, self.tenant = client_id, client_secret, tenant
        self.route("POST", "/auth/token", self.token)
        self.route("GET", "/api/Client", self.list_clients)
        self.route("GET", "/api/RecurringInvoice", self.list_invoices)

    def unauthorized_body(self) -> Any:
        return {"error": "invalid_token", "error_description": "The access token is invalid or has expired"}

    def token(self, request: Request) -> dict[str, Any]:
        form = request.form()
        if self.tenant is not None and request.arg("tenant") != self.tenant:
            raise HttpError(400, {"error": "invalid_request", "error_description": "unknown tenant"})
        if form.get("grant_type") != "client_credentials" or (
            form.get("client_id"),
            form.get("client_secret"),
        ) != (self.client_id, self.client_secret):
            raise HttpError(400, {"error": "invalid_client"})
        return {
            "access_token": self.issue_token(),
            "token_type": "Bearer",
            "expires_in": 3600,
            "scope": "all",
        }

    def _page(self, request: Request, key: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
        self.require_bearer(request)
        if request.arg("pageinate") != "true":
            return {"record_count": len(rows), key: rows}
        try:
            size, number = int(request.arg("page_size") or 50), int(request.arg("page_no") or 1)
        except ValueError:
            raise HttpError(400, {"error": "page_no and page_size must be numbers"}) from None
        if size < 1 or number < 1:
            raise HttpError(400, {"error": "page_no and page_size start at 1"})
        return {"record_count": len(rows), key: rows[(number - 1) * size : number * size]}

    def list_clients(self, request: Request) -> dict[str, Any]:
        return self._page(request, "clients", self.clients)

    def list_invoices(self, request: Request) -> dict[str, Any]:
        rows = self.invoices
        if request.arg("includelines") != "true":
            rows = [{k: v for k, v in row.items() if k != "lines"} for row in rows]
        return self._page(request, "invoices", rows)
