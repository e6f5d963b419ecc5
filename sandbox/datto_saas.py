"""Datto SaaS Protection fake: HTTP Basic public:secret, bare unpaged JSON arrays, integer
`saasCustomerId`, the string `billable` flag ("1" / ""), optional `seatType` filter, and an optional
latency to reproduce Datto's slow seat listing."""

from __future__ import annotations

import base64
import time
from typing import Any

from sandbox.server import Fake, HttpError, Request

SEAT_TYPES = ("User", "Site", "TeamSite", "SharedMailbox", "Team", "SharedDrive")


class DattoSaasFake(Fake):
    name = "datto_saas"

    def __init__(
        self,
        domains: list[dict[str, Any]],
        seats: dict[int, list[dict[str, Any]]],
        public_key: str = "datto-public",
        secret_key: str = "datto-secret",
        latency: float = 0.0,
    ) -> None:
        """`seats` maps a saasCustomerId to its seat rows, in Datto's own field names."""
        super().__init__()
        self.domains = list(domains)
        self.seats = seats
        self.public_key, self.secret_key = public_key, secret_key
        self.latency = latency
        self.route("GET", "/v1/saas/domains", self.list_domains)
        self.route("GET", "/v1/saas/{customer_id}/seats", self.list_seats)

    def _admit(self, request: Request) -> None:
        expected = base64.b64encode(f"{self.public_key}:{self.secret_key}".encode()).decode()
        if request.header("authorization") != f"Basic {expected}":
            # Unverified: Datto's error body for a bad key pair is not documented.
            raise HttpError(401, {"code": 401, "message": "Full authentication is required"})
        if self.latency:
            time.sleep(self.latency)

    def list_domains(self, request: Request) -> list[dict[str, Any]]:
        self._admit(request)
        return self.domains

    def list_seats(self, request: Request) -> list[dict[str, Any]]:
        self._admit(request)
        try:
            customer_id = int(request.params["customer_id"])
        except ValueError:
            raise HttpError(404, {"code": 404, "message": "Not Found"}) from None
        if customer_id not in self.seats:
            raise HttpError(404, {"code": 404, "message": "Not Found"})
        rows = self.seats[customer_id]
        wanted = request.arg("seatType")
        if wanted:
            types = wanted.split(",")
            if any(seat_type not in SEAT_TYPES for seat_type in types):
                raise HttpError(400, {"code": 400, "message": f"Invalid seatType: {wanted}"})
            rows = [row for row in rows if row.get("seatType") in types]
        return rows
