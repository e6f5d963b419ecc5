"""NinjaOne v2 fake: client-credentials token at /ws/oauth/token, keyset-paged bare JSON arrays."""

from __future__ import annotations

from typing import Any

from sandbox.server import Fake, HttpError, Request, Response


class NinjaOneFake(Fake):
    name = "ninjaone"

    def __init__(
        self,
        organizations: list[dict[str, Any]],
        devices: list[dict[str, Any]],
        client_id: str = "ninja-client",
        client_secret: str = "ninja-secret",
    ) -> None:
        super().__init__()
        self.organizations = sorted(organizations, key=lambda o: o["id"])
        self.devices = sorted(devices, key=lambda d: d["id"])
        self.client_id, self.client_secret = client_id, client_secret
        self.route("POST", "/ws/oauth/token", self.token)
        self.route("GET", "/v2/organizations", self.list_organizations)
        self.route("GET", "/v2/devices", self.list_devices)
        self.route("GET", "/v2/organization/{org_id}/devices", self.list_org_devices)

    def unauthorized_body(self) -> Any:
        return {"resultCode": "401", "errorMessage": "Unauthorized"}

    def token(self, request: Request) -> Response:
        form = request.form()
        if form.get("grant_type") != "client_credentials":
            return Response(400, {"error": "unsupported_grant_type"})
        if (form.get("client_id"), form.get("client_secret")) != (self.client_id, self.client_secret):
            return Response(401, {"error": "invalid_client", "error_description": "Bad client credentials"})
        return Response(
            200,
            {
                "access_token": self.issue_token(),
                "token_type": "bearer",
                "expires_in": 3600,
                "scope": form.get("scope", "monitoring"),
            },
        )

    def _page(self, request: Request, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        self.require_bearer(request)
        try:
            size = int(request.arg("pageSize") or 1000)
            after = int(request.arg("after") or 0)
        except ValueError:
            raise HttpError(400, {"resultCode": "400", "errorMessage": "Invalid query parameter"}) from None
        return [row for row in rows if row["id"] > after][:size]

    def list_organizations(self, request: Request) -> list[dict[str, Any]]:
        return self._page(request, self.organizations)

    def list_devices(self, request: Request) -> list[dict[str, Any]]:
        return self._page(request, self.devices)

    def list_org_devices(self, request: Request) -> list[dict[str, Any]]:
        org_id = int(request.params["org_id"])
        return self._page(request, [d for d in self.devices if d["organizationId"] == org_id])
