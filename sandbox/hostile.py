"""A hostile vendor for the conformance battery: pages that never end (every page names a fresh next
one), besides the faults every fake takes (`trickle`, `empty`, `delay`, `malformed`; sandbox/server.py).

    GET /v1/endless?page_token=N   →  {"items": [{"id": N}, ...], "next_page_token": "N+1"}  for ever
    GET /v1/endless-links?n=N      →  {"value": [...], "@odata.nextLink": ".../v1/endless-links?n=N+1"}
"""

from __future__ import annotations

from typing import Any

from sandbox.server import Fake, Request


class HostileFake(Fake):
    name = "hostile"

    def __init__(self, page_size: int = 3) -> None:
        super().__init__()
        self.page_size = page_size
        self.route("GET", "/v1/endless", self._endless)
        self.route("GET", "/v1/endless-links", self._endless_links)

    def _rows(self, page: int) -> list[dict[str, Any]]:
        return [{"id": page * self.page_size + n, "organization_id": 1} for n in range(self.page_size)]

    def _endless(self, request: Request) -> dict[str, Any]:
        page = int(request.arg("page_token") or 0)
        return {"items": self._rows(page), "next_page_token": str(page + 1)}

    def _endless_links(self, request: Request) -> dict[str, Any]:
        page = int(request.arg("n") or 0)
        return {"value": self._rows(page), "@odata.nextLink": f"{self.url}/v1/endless-links?n={page + 1}"}
