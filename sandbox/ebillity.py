"""eBillity Open API fake: `Authorization: Bearer <firm token>` (403 when missing, 401 when wrong),
`{"ServerTime": <ms>, "<Plural>": [...]}` answers without paging, and `lastsyncdate` (epoch seconds)
filtering time entries by modification time. Clients and time entries use assumed field names
(see docs/sources/ebillity.md)."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from sandbox.server import Fake, HttpError, Request

BASE = "/restservice/thirdparty"


class EbillityFake(Fake):
    name = "ebillity"

    def __init__(
        self,
        employees: list[dict[str, Any]],
        clients: list[dict[str, Any]],
        time_entries: list[dict[str, Any]],
        auth_token: str = "ebillity-token",
    ) -> None:
        """Time entries may carry `ModifiedDate` (ISO 8601); rows without one always match `lastsyncdate`."""
        super().__init__()
        self.employees, self.clients, self.time_entries = employees, clients, time_entries
        self.auth_token = auth_token
        self.route("GET", f"{BASE}/employees", self.list_employees)
        self.route("GET", f"{BASE}/clients", self.list_clients)
        self.route("GET", f"{BASE}/timeentries", self.list_time_entries)

    def _admit(self, request: Request) -> float:
        value = request.header("authorization") or ""
        if not value.startswith("Bearer ") or not value[7:]:
            raise HttpError(403, {"error": "Authorization Code is missing."})
        if value[7:] != self.auth_token:
            raise HttpError(401, {"error": "Invalid Authorization Code."})
        try:
            return float(request.arg("lastsyncdate") or 0)
        except ValueError:
            raise HttpError(500, {"error": "Something went wrong. Please try again later."}) from None

    @staticmethod
    def _envelope(key: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
        return {"ServerTime": int(time.time() * 1000), key: rows}

    def list_employees(self, request: Request) -> dict[str, Any]:
        self._admit(request)
        return self._envelope("Employees", self.employees)

    def list_clients(self, request: Request) -> dict[str, Any]:
        self._admit(request)
        return self._envelope("Clients", self.clients)

    def list_time_entries(self, request: Request) -> dict[str, Any]:
        since = self._admit(request)
        rows = [
            row
            for row in self.time_entries
            if "ModifiedDate" not in row or datetime.fromisoformat(row["ModifiedDate"]).timestamp() >= since
        ]
        return self._envelope("TimeEntries", rows)
