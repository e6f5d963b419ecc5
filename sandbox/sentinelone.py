"""SentinelOne v2.1 fake: `Authorization: ApiToken <token>`, `limit` + opaque `cursor` paging with
`pagination.nextCursor` (null at the end), sites in the `data.sites` envelope, `{"errors": [...]}` bodies."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from sandbox.server import Fake, HttpError, Request

API = "/web/api/v2.1"
MAX_LIMIT = 1000


def _errors(code: int, title: str, detail: str) -> dict[str, Any]:
    # Unverified: the error envelope is the one community clients parse.
    return {"errors": [{"code": code, "title": title, "detail": detail}]}


class SentinelOneFake(Fake):
    name = "sentinelone"

    def __init__(
        self, sites: list[dict[str, Any]], agents: list[dict[str, Any]], api_token: str = "s1-token"
    ) -> None:
        super().__init__()
        self.sites = sorted(sites, key=lambda s: int(s["id"]))
        self.agents = sorted(agents, key=lambda a: int(a["id"]))
        self.api_token = api_token
        self.route("GET", f"{API}/sites", self.list_sites)
        self.route("GET", f"{API}/agents", self.list_agents)
        self.route("GET", f"{API}/agents/count", self.count_agents)

    def _admit(self, request: Request) -> None:
        if request.header("authorization") != f"ApiToken {self.api_token}":
            raise HttpError(401, _errors(4010010, "Authentication Failed", "Invalid API token"))

    def _filtered(self, request: Request, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        site_ids = request.arg("siteIds")
        if site_ids:
            wanted = set(site_ids.split(","))
            rows = [row for row in rows if str(row.get("siteId", row.get("id"))) in wanted]
        decommissioned = request.arg("isDecommissioned")
        if decommissioned is not None:
            rows = [row for row in rows if bool(row.get("isDecommissioned")) == (decommissioned == "true")]
        return rows

    def _page(
        self, request: Request, rows: list[dict[str, Any]]
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        self._admit(request)
        try:
            limit = int(request.arg("limit") or 10)
            cursor = request.arg("cursor")
            after = int(base64.b64decode(cursor.encode()).decode().removeprefix("id:")) if cursor else 0
        except (ValueError, binascii.Error, UnicodeDecodeError):
            raise HttpError(400, _errors(4000010, "Validation Error", "invalid limit or cursor")) from None
        if not 1 <= limit <= MAX_LIMIT:
            raise HttpError(400, _errors(4000010, "Validation Error", "limit must be between 1 and 1000"))
        rows = self._filtered(request, rows)
        remaining = [row for row in rows if int(row["id"]) > after]
        page = remaining[:limit]
        more = len(remaining) > limit
        next_cursor = base64.b64encode(f"id:{page[-1]['id']}".encode()).decode() if more and page else None
        return page, {"nextCursor": next_cursor, "totalItems": len(rows)}

    def list_sites(self, request: Request) -> dict[str, Any]:
        page, pagination = self._page(request, self.sites)
        active = sum(int(site.get("activeLicenses") or 0) for site in self.sites)
        total = sum(int(site.get("totalLicenses") or 0) for site in self.sites)
        return {
            "data": {"allSites": {"activeLicenses": active, "totalLicenses": total}, "sites": page},
            "pagination": pagination,
        }

    def list_agents(self, request: Request) -> dict[str, Any]:
        page, pagination = self._page(request, self.agents)
        return {"data": page, "pagination": pagination}

    def count_agents(self, request: Request) -> dict[str, Any]:
        self._admit(request)
        return {"data": {"total": len(self._filtered(request, self.agents))}}
