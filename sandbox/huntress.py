"""Huntress v1 fake: HTTP Basic key:secret, `limit` (1–500) + opaque `page_token` paging with
`pagination.next_page_token` absent on the last page, and 429 beyond 60 requests on a sliding minute."""

from __future__ import annotations

import base64
import binascii
import collections
import time
from typing import Any

from sandbox.server import Fake, HttpError, Request

MAX_LIMIT = 500


class HuntressFake(Fake):
    name = "huntress"

    def __init__(
        self,
        organizations: list[dict[str, Any]],
        agents: list[dict[str, Any]],
        incident_reports: list[dict[str, Any]] | None = None,
        api_key: str = "huntress-key",
        api_secret: str = "huntress-secret",
        requests_per_minute: int = 60,
        window_seconds: float = 60.0,
    ) -> None:
        super().__init__()
        # Huntress lists newest first by default (sort_direction=desc).
        self.organizations = sorted(organizations, key=lambda o: o["id"], reverse=True)
        self.agents = sorted(agents, key=lambda a: a["id"], reverse=True)
        self.incident_reports = sorted(incident_reports or [], key=lambda i: i["id"], reverse=True)
        self.api_key, self.api_secret = api_key, api_secret
        self.requests_per_minute = requests_per_minute
        self.window_seconds = window_seconds
        self.rate_limited = 0
        self._window: collections.deque[float] = collections.deque()
        self.route("GET", "/v1/account", self.account)
        self.route("GET", "/v1/organizations", self.list_organizations)
        self.route("GET", "/v1/agents", self.list_agents)
        self.route("GET", "/v1/incident_reports", self.list_incident_reports)

    def _admit(self, request: Request) -> None:
        """Basic auth, then the account's sliding window (one minute, shorter in tests)."""
        expected = base64.b64encode(f"{self.api_key}:{self.api_secret}".encode()).decode()
        if request.header("authorization") != f"Basic {expected}":
            # Unverified: Huntress does not document its error bodies.
            raise HttpError(401, {"error": "Unauthorized", "message": "Invalid API key or secret"})
        now = time.monotonic()
        with self.lock:
            while self._window and now - self._window[0] >= self.window_seconds:
                self._window.popleft()
            if len(self._window) >= self.requests_per_minute:
                self.rate_limited += 1
                raise HttpError(429, {"error": "Too Many Requests", "message": "Rate limit exceeded"})
            self._window.append(now)

    def _page(self, request: Request, key: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
        self._admit(request)
        try:
            limit = int(request.arg("limit") or 10)
            token = request.arg("page_token")
            offset = int(base64.urlsafe_b64decode(token.encode()).decode()) if token else 0
        except (ValueError, binascii.Error, UnicodeDecodeError):
            raise HttpError(400, {"error": "Bad Request", "message": "invalid limit or page_token"}) from None
        if not 1 <= limit <= MAX_LIMIT:
            raise HttpError(400, {"error": "Bad Request", "message": "limit must be between 1 and 500"})
        for name in ("organization_id", "platform", "status", "severity"):
            value = request.arg(name)
            if value is not None:
                rows = [row for row in rows if str(row.get(name)) == value]
        page = rows[offset : offset + limit]
        pagination: dict[str, Any] = {}
        if offset + limit < len(rows):
            next_token = base64.urlsafe_b64encode(str(offset + limit).encode()).decode()
            pagination = {
                "next_page_token": next_token,
                "next_page_url": f"{self.url}{request.path}?page_token={next_token}&limit={limit}",
            }
        return {key: page, "pagination": pagination}

    def account(self, request: Request) -> dict[str, Any]:
        self._admit(request)
        return {"account": {"id": 5, "name": "Sandbox MSP", "subdomain": "sandbox"}}

    def list_organizations(self, request: Request) -> dict[str, Any]:
        return self._page(request, "organizations", self.organizations)

    def list_agents(self, request: Request) -> dict[str, Any]:
        return self._page(request, "agents", self.agents)

    def list_incident_reports(self, request: Request) -> dict[str, Any]:
        return self._page(request, "incident_reports", self.incident_reports)
