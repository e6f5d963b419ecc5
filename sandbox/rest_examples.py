"""Fakes of three vendors MCC reads through `kind = "rest"` (docs/sources/rest.md), each in its own
wire format: Acronis Cyber Protect Cloud (OAuth2 client credentials, cursor paging), Auvik (Basic auth,
JSON:API with `links.next`) and IT Glue (`x-api-key`, JSON:API page numbers with `meta.total-pages`)."""

from __future__ import annotations

import base64
from typing import Any

from sandbox.server import Fake, HttpError, Request


class AcronisFake(Fake):
    """Backup workloads: `POST /api/2/idp/token`, `GET /api/2/resources?limit=&after=` →
    `{"items": [...], "paging": {"cursors": {"after": "…"}}}` (no cursor on the last page)."""

    name = "acronis"

    def __init__(self, resources: list[dict[str, Any]], client_id: str, client_secret: str) -> None:
        super().__init__()
        self.resources, self.client_id, self.client_secret = resources, client_id, client_secret
        self.route("POST", "/api/2/idp/token", self.token)
        self.route("GET", "/api/2/resources", self.list_resources)

    def token(self, request: Request) -> dict[str, Any]:
        form = request.form()
        if form.get("grant_type") != "client_credentials" or (
            form.get("client_id"),
            form.get("client_secret"),
        ) != (
            self.client_id,
            self.client_secret,
        ):
            raise HttpError(401, {"error": {"code": "unauthorized_client", "message": "Invalid client"}})
        return {"access_token": self.issue_token(), "token_type": "bearer", "expires_in": 7200}

    def list_resources(self, request: Request) -> dict[str, Any]:
        self.require_bearer(request)
        limit = int(request.arg("limit") or 50)
        start = int(request.arg("after") or 0)
        page = self.resources[start : start + limit]
        cursors = {"after": str(start + limit)} if start + limit < len(self.resources) else {}
        return {"items": page, "paging": {"cursors": cursors}}


class AuvikFake(Fake):
    """Network devices: Basic `user:apikey`, `GET /v1/inventory/device/info?page[first]=` →
    `{"data": [...], "links": {"next": "…?page[after]=…"}}` (JSON:API)."""

    name = "auvik"

    def __init__(self, devices: list[dict[str, Any]], username: str, api_key: str) -> None:
        super().__init__()
        self.devices, self.login = devices, base64.b64encode(f"{username}:{api_key}".encode()).decode()
        self.route("GET", "/v1/inventory/device/info", self.list_devices)

    def list_devices(self, request: Request) -> dict[str, Any]:
        if request.header("authorization") != f"Basic {self.login}":
            raise HttpError(401, {"errors": [{"status": "401", "title": "Unauthorized"}]})
        size = int(request.arg("page[first]") or 100)
        start = int(request.arg("page[after]") or 0)
        page = self.devices[start : start + size]
        links: dict[str, Any] = {"first": f"{self.url}{request.path}?page[first]={size}"}
        if start + size < len(self.devices):
            links["next"] = f"{self.url}{request.path}?page[first]={size}&page[after]={start + size}"
        return {"data": page, "links": links, "meta": {"totalCount": len(self.devices)}}


class ITGlueFake(Fake):
    """Configurations: `x-api-key`, `GET /configurations?page[size]=&page[number]=` →
    `{"data": [...], "meta": {"current-page": n, "total-pages": m}}` (JSON:API, 1-based pages)."""

    name = "itglue"

    def __init__(self, configurations: list[dict[str, Any]], api_key: str) -> None:
        super().__init__()
        self.configurations, self.api_key = configurations, api_key
        self.route("GET", "/configurations", self.list_configurations)

    def list_configurations(self, request: Request) -> dict[str, Any]:
        if request.header("x-api-key") != self.api_key:
            raise HttpError(401, {"errors": [{"status": "401", "title": "Not Authorized"}]})
        size = int(request.arg("page[size]") or 50)
        number = int(request.arg("page[number]") or 1)
        if not 1 <= size <= 1000 or number < 1:
            raise HttpError(400, {"errors": [{"status": "400", "title": "page[size] must be 1-1000"}]})
        pages = max(1, -(-len(self.configurations) // size))
        page = self.configurations[(number - 1) * size : number * size]
        return {
            "data": page,
            "meta": {"current-page": number, "total-pages": pages, "total-count": len(self.configurations)},
        }


def acronis_world() -> AcronisFake:
    resources = [
        {
            "id": f"res-{n}",
            "name": f"WS-{n}",
            "tenant_id": f"tenant-{n % 3}",
            "tenant_name": f"Client {n % 3}",
            "type": "resource.machine" if n % 7 else "resource.m365.mailbox",
            "protected": n % 10 != 9,
        }
        for n in range(230)
    ]
    return AcronisFake(resources, "acronis-id-1a", "acronis-SECRET-2b")


def auvik_world() -> AuvikFake:
    devices = [
        {
            "id": f"dev-{n}",
            "type": "deviceInfo",
            "attributes": {
                "deviceName": f"sw-{n}",
                "deviceType": ["switch", "firewall", "accessPoint"][n % 3],
                "onlineStatus": "online" if n % 11 else "offline",
            },
            "relationships": {"tenant": {"data": {"id": str(5000 + n % 2), "type": "tenant"}}},
        }
        for n in range(150)
    ]
    return AuvikFake(devices, "api@msp.example", "auvik-KEY-3c4d")


def itglue_world() -> ITGlueFake:
    configurations = [
        {
            "id": str(700 + n),
            "type": "configurations",
            "attributes": {
                "organization-id": 90 + n % 4,
                "organization-name": f"Client {n % 4}",
                "configuration-type-name": "Managed Workstation" if n % 5 else "Managed Server",
                "archived": n % 13 == 0,
                "name": f"cfg-{n}",
            },
        }
        for n in range(120)
    ]
    return ITGlueFake(configurations, "itglue-KEY-5e6f")
