"""Autotask PSA REST v1.0 fake: zone discovery (`GET /V1.0/zoneInformation?user=`), the
`ApiIntegrationCode` / `UserName` / `Secret` headers, POSTed searches (`/V1.0/{Entity}/query` with a
JSON `filter` and `MaxRecords` ≤ 500) answered as `{"items", "pageDetails"}`, the next page as a URL to
POST the same search to, and `{"errors": [...]}` bodies."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from sandbox.server import Fake, HttpError, Request

ZONE_PATH = "/ATServicesRest/V1.0"
MAX_RECORDS = 500


def _matches(row: dict[str, Any], condition: dict[str, Any]) -> bool:
    op, field, value = condition.get("op"), str(condition.get("field") or ""), condition.get("value")
    actual = next((v for k, v in row.items() if k.lower() == field.lower()), None)
    if op == "exist":
        return actual is not None
    if op == "eq":
        return str(actual).lower() == str(value).lower()
    if op == "in":
        return isinstance(value, list) and actual in value
    if op in ("gte", "lte", "gt", "lt"):
        if actual is None:
            return False
        left: Any = str(actual) if isinstance(actual, str) else float(actual)
        right: Any = str(value) if isinstance(actual, str) else float(str(value))
        return bool({"gte": left >= right, "lte": left <= right, "gt": left > right, "lt": left < right}[op])
    raise HttpError(500, {"errors": [f"Unsupported operator {op!r}"]})


class AutotaskFake(Fake):
    name = "autotask"

    def __init__(
        self,
        entities: dict[str, list[dict[str, Any]]],
        *,
        username: str = "api@sandbox.example",
        secret: str = "autotask-secret",
        integration_code: str = "AUTOTASK-INTEGRATION",
    ) -> None:
        super().__init__()
        self.entities = {name: sorted(rows, key=lambda row: row["id"]) for name, rows in entities.items()}
        self.username, self.secret, self.integration_code = username, secret, integration_code
        self.route("GET", "/V1.0/zoneInformation", self.zone_information)
        self.route("GET", "/atservicesrest/V1.0/zoneInformation", self.zone_information)
        self.route("POST", f"{ZONE_PATH}/{{entity}}/query", self.query)

    def unauthorized_body(self) -> Any:
        return {"errors": ["User is not authorized for this request"]}

    def zone_information(self, request: Request) -> dict[str, Any]:
        if (request.arg("user") or "").lower() != self.username.lower():
            raise HttpError(404, {"errors": ["Invalid user: zone not found"]})
        return {"zoneName": "Sandbox", "url": f"{self.url}/ATServicesRest/", "webUrl": self.url, "ci": 0}

    def _admit(self, request: Request) -> None:
        if (
            request.header("username") != self.username
            or request.header("secret") != self.secret
            or request.header("apiintegrationcode") != self.integration_code
        ):
            raise HttpError(401, self.unauthorized_body())

    def query(self, request: Request) -> dict[str, Any]:
        self._admit(request)
        entity = request.params["entity"]
        if entity not in self.entities:
            raise HttpError(404, {"errors": [f"Entity {entity} not found"]})
        try:
            search = request.json() or {}
            size = int(search.get("MaxRecords") or MAX_RECORDS)
            after = int(json.loads(request.arg("paging") or "{}").get("after", 0))
        except (ValueError, AttributeError, TypeError):
            raise HttpError(400, {"errors": ["The search or paging is not valid JSON"]}) from None
        if not 1 <= size <= MAX_RECORDS:
            raise HttpError(400, {"errors": ["MaxRecords must be between 1 and 500"]})
        filters = search.get("filter")
        if not isinstance(filters, list) or not filters:
            raise HttpError(400, {"errors": ["A search needs at least one filter"]})
        rows = [
            row
            for row in self.entities[entity]
            if row["id"] > after and all(_matches(row, condition) for condition in filters)
        ]
        page = rows[:size]
        next_url = None
        if len(rows) > size:
            paging = quote(json.dumps({"pageSize": size, "after": page[-1]["id"]}))
            next_url = f"{self.url}{request.path}?paging={paging}"
        return {
            "items": page,
            "pageDetails": {
                "count": len(page),
                "requestCount": size,
                "prevPageUrl": None,
                "nextPageUrl": next_url,
            },
        }
