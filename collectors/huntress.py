"""Huntress (API v1): agents per organization by platform (hourly) and open incident reports (every 2 min)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx

from collectors.base import Source, Stream
from collectors.http import Api, basic_auth
from collectors.paging import NextToken
from collectors.probes import Probe
from collectors.records import Entity, Org, Record
from collectors.registry import register
from mcc.errors import MalformedPayload

PAGE_SIZE = 500  # the documented maximum of `limit`
# Unverified: Huntress documents the statuses but not which of them are "open"; a report is open while it
# waits for the partner (`sent`) or is being remediated (`auto_remediating`); closed/dismissed/deleting are not.
OPEN_STATUSES = ("sent", "auto_remediating")


def _paging(items_key: str) -> NextToken:
    return NextToken(
        items_key, "pagination.next_page_token", "page_token", size=PAGE_SIZE, size_param="limit"
    )


def to_org(raw: Any) -> Org:
    if not isinstance(raw, dict) or "id" not in raw:
        raise MalformedPayload(f"huntress: organization without an id: {str(raw)[:120]}")
    return Org(str(raw["id"]), str(raw.get("name") or raw["id"]))


def to_agent(raw: Any) -> Entity:
    """An agent row → one `agents` entity of its organization, keyed by platform (windows, darwin, linux)."""
    if not isinstance(raw, dict) or any(
        raw.get(key) in (None, "") for key in ("id", "organization_id", "platform")
    ):
        raise MalformedPayload(f"huntress: agent row lacks id, organization_id or platform: {str(raw)[:160]}")
    return Entity.of(
        raw["organization_id"],
        "agents",
        raw["id"],
        str(raw.get("hostname") or raw["id"]),
        attrs={"platform": raw["platform"]},
        details={
            "os": raw.get("os") or "",
            "version": raw.get("version") or "",
            "last_callback_at": raw.get("last_callback_at") or "",
        },
    )


def to_incident(raw: Any) -> Entity | None:
    """An incident report → one `incidents` entity keyed by severity while it is open, else None."""
    if not isinstance(raw, dict) or any(
        raw.get(key) in (None, "") for key in ("id", "organization_id", "status")
    ):
        raise MalformedPayload(
            f"huntress: incident report lacks id, organization_id or status: {str(raw)[:160]}"
        )
    if raw["status"] not in OPEN_STATUSES:
        return None
    return Entity.of(
        raw["organization_id"],
        "incidents",
        raw["id"],
        str(raw.get("subject") or f"Incident {raw['id']}"),
        attrs={"severity": raw.get("severity") or "unknown"},
        details={
            "status": raw["status"],
            "platform": raw.get("platform") or "",
            "agent_id": raw.get("agent_id") or "",
            "sent_at": raw.get("sent_at") or "",
        },
    )


@register
class Huntress(Source):
    kind = "huntress"
    probes = (
        Probe("organizations", "/v1/organizations", "organizations", ("id", "name"), {"limit": 10}),
        Probe("agents", "/v1/agents", "agents", ("id", "organization_id", "platform", "hostname", "os",
              "version", "last_callback_at"), {"limit": 10}, values=("platform",)),
        Probe("incident reports", "/v1/incident_reports", "incident_reports", ("id", "organization_id",
              "status", "severity", "subject", "platform", "agent_id", "sent_at"), {"limit": 25},
              values=("status", "severity")),
    )  # fmt: skip
    category = "security"
    title = "Huntress"
    default_base_url = "https://api.huntress.io"
    secret_keys = ("API_KEY", "API_SECRET")
    streams = {
        "agents": Stream("hourly", metrics=("agents",)),
        "incidents": Stream("every 2 minutes", metrics=("incidents",)),
    }
    requests_per_minute = 60  # documented: 60 per minute on a sliding window, then 429

    def auth(self) -> httpx.Auth:
        return basic_auth(self.secret("API_KEY"), self.secret("API_SECRET"))

    def orgs(self, api: Api) -> Iterator[Org]:
        for raw in api.pages("/v1/organizations", _paging("organizations")):
            yield to_org(raw)

    def collect(self, api: Api, stream: str) -> Iterator[Record]:
        if stream == "agents":
            yield from self.orgs(api)
            for raw in api.pages("/v1/agents", _paging("agents")):
                yield to_agent(raw)
            return
        # Incidents run every 2 minutes, so they skip the organization listing (the agents stream keeps
        # names fresh); one filtered read per open status keeps closed reports off the wire.
        for status in OPEN_STATUSES:
            for raw in api.pages("/v1/incident_reports", _paging("incident_reports"), {"status": status}):
                incident = to_incident(raw)
                if incident is not None:
                    yield incident
