"""Datto RMM v2 fake: password-grant token with the public client, `pageDetails.nextPageUrl` paging, and
the account read limit (600 per rolling 60 s → 429, persistent violation → 403 and a temporary block)."""

from __future__ import annotations

import base64
import time
from collections import deque
from typing import Any
from urllib.parse import urlencode

from sandbox.server import Fake, HttpError, Request, Response


class DattoRmmFake(Fake):
    name = "datto_rmm"

    def __init__(
        self,
        sites: list[dict[str, Any]],
        devices: list[dict[str, Any]],
        api_key: str = "datto-key",
        api_secret: str = "datto-secret",
        *,
        page_max: int = 250,
        reads_per_window: int = 600,
        window_seconds: float = 60.0,
        violations_before_block: int = 5,
        block_seconds: float = 300.0,
    ) -> None:
        super().__init__()
        self.sites = list(sites)
        self.devices = list(devices)
        self.api_key, self.api_secret = api_key, api_secret
        self.page_max = page_max
        self.reads_per_window, self.window_seconds = reads_per_window, window_seconds
        self.violations_before_block, self.block_seconds = violations_before_block, block_seconds
        self._reads: deque[float] = deque()
        self.violations = 0
        self.throttled = 0  # 429s answered
        self.blocked_until = 0.0
        self.route("POST", "/auth/oauth/token", self.token)
        self.route("GET", "/api/v2/account/sites", self.list_sites)
        self.route("GET", "/api/v2/account/devices", self.list_account_devices)
        self.route("GET", "/api/v2/site/{site_uid}", self.get_site)
        self.route("GET", "/api/v2/site/{site_uid}/devices", self.list_site_devices)
        self.route("GET", "/api/v2/system/pagination", lambda request: {"max": self.page_max})

    def unauthorized_body(self) -> Any:
        return {"error": "invalid_token", "error_description": "Access token expired"}

    def dispatch(self, request: Request) -> Response:
        if request.path.startswith("/api/"):
            limited = self._rate_limit()
            if limited is not None:
                self.requests.append(request)
                return limited
        return super().dispatch(request)

    def _rate_limit(self) -> Response | None:
        """Rolling-window read limit per account, as Datto documents it."""
        now = time.monotonic()
        with self.lock:
            if now < self.blocked_until:
                return Response(403, {"error": "Forbidden", "message": "IP address temporarily blocked"})
            while self._reads and self._reads[0] <= now - self.window_seconds:
                self._reads.popleft()
            if len(self._reads) >= self.reads_per_window:
                self.violations += 1
                self.throttled += 1
                if self.violations > self.violations_before_block:
                    self.blocked_until = now + self.block_seconds
                    return Response(403, {"error": "Forbidden", "message": "IP address temporarily blocked"})
                return Response(429, {"error": "Too Many Requests", "message": "Request rate limit exceeded"})
            self.violations = 0
            self._reads.append(now)
        return None

    def token(self, request: Request) -> Response:
        expected = base64.b64encode(b"public-client:public").decode()
        if request.header("authorization") != f"Basic {expected}":
            return Response(
                401, {"error": "unauthorized", "error_description": "Full authentication is required"}
            )
        form = request.form()
        if form.get("grant_type") != "password":
            return Response(400, {"error": "unsupported_grant_type"})
        if (form.get("username"), form.get("password")) != (self.api_key, self.api_secret):
            return Response(400, {"error": "invalid_grant", "error_description": "Bad credentials"})
        return Response(
            200,
            {
                "access_token": self.issue_token(),
                "token_type": "bearer",
                "expires_in": 359999,
                "scope": "default",
            },
        )

    def _page(self, request: Request, key: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
        self.require_bearer(request)
        try:
            page = int(request.arg("page") or 0)
            size = min(int(request.arg("max") or self.page_max), self.page_max)
        except ValueError:
            raise HttpError(
                400, {"error": "Bad Request", "message": "page and max must be numbers"}
            ) from None
        if page < 0 or size < 1:
            raise HttpError(400, {"error": "Bad Request", "message": "page and max must be positive"})
        chunk = rows[page * size : (page + 1) * size]
        host = request.header("host") or "127.0.0.1"

        def link(number: int) -> str:
            query = {**{k: v[0] for k, v in request.query.items()}, "page": str(number), "max": str(size)}
            return f"http://{host}{request.path}?{urlencode(query)}"

        more = (page + 1) * size < len(rows)
        return {
            "pageDetails": {
                "count": len(chunk),
                "totalCount": len(rows),
                "prevPageUrl": link(page - 1) if page > 0 else None,
                "nextPageUrl": link(page + 1) if more else None,
            },
            key: chunk,
        }

    def _site(self, uid: str) -> dict[str, Any]:
        for site in self.sites:
            if site["uid"] == uid:
                return site
        raise HttpError(404, {"error": "Not Found", "message": f"Site {uid} not found"})

    def list_sites(self, request: Request) -> dict[str, Any]:
        return self._page(request, "sites", self.sites)

    def get_site(self, request: Request) -> dict[str, Any]:
        self.require_bearer(request)
        return self._site(request.params["site_uid"])

    def list_account_devices(self, request: Request) -> dict[str, Any]:
        return self._page(request, "devices", self.devices)

    def list_site_devices(self, request: Request) -> dict[str, Any]:
        self.require_bearer(request)
        uid = self._site(request.params["site_uid"])["uid"]
        return self._page(request, "devices", [d for d in self.devices if d.get("siteUid") == uid])
