"""SentinelOne (Management API v2.1): agents per site, by OS type and machine type. The org is the site."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx

from collectors.base import Source, Stream
from collectors.http import Api, HeaderAuth
from collectors.paging import NextToken
from collectors.probes import Probe
from collectors.records import Entity, Org, Record
from collectors.registry import register
from mcc.errors import ConfigError, MalformedPayload

API = "/web/api/v2.1"
AGENTS_PAGE = 1000  # the documented maximum of `limit` on /agents
# Unverified: the maximum `limit` on /sites is not documented; 100 is accepted by every client seen.
SITES_PAGE = 100


def _paging(items_key: str, size: int) -> NextToken:
    return NextToken(items_key, "pagination.nextCursor", "cursor", size=size, size_param="limit")


def to_site(raw: Any) -> Org:
    if not isinstance(raw, dict) or raw.get("id") in (None, ""):
        raise MalformedPayload(f"sentinelone: site without an id: {str(raw)[:120]}")
    return Org(str(raw["id"]), str(raw.get("name") or raw["id"]))


def to_agent(raw: Any) -> Entity | None:
    """An agent row → one `agents` entity of its site keyed by OS type and machine type; decommissioned
    agents no longer protect anything and are not counted."""
    if not isinstance(raw, dict) or any(raw.get(key) in (None, "") for key in ("id", "siteId")):
        raise MalformedPayload(f"sentinelone: agent row lacks id or siteId: {str(raw)[:160]}")
    if raw.get("isDecommissioned") is True:
        return None
    # Unverified: `osType` (windows, macos, linux) and `machineType` (desktop, laptop, server, …) are the
    # field names every community client reads; they are absent from the stored excerpts of the docs.
    return Entity.of(
        raw["siteId"],
        "agents",
        raw["id"],
        str(raw.get("computerName") or raw["id"]),
        attrs={
            "os_type": raw.get("osType") or "unknown",
            "machine_type": raw.get("machineType") or "unknown",
        },
        details={
            "site_name": raw.get("siteName") or "",
            "network_status": raw.get("networkStatus") or "",
            "last_active": raw.get("lastActiveDate") or "",
            "agent_version": raw.get("agentVersion") or "",
        },
    )


@register
class SentinelOne(Source):
    kind = "sentinelone"
    probes = (
        Probe("sites", f"{API}/sites", "data.sites", ("id", "name"), {"limit": 10}),
        Probe("agents", f"{API}/agents", "data", ("id", "siteId", "computerName", "osType", "machineType",
              "isDecommissioned", "siteName", "networkStatus", "lastActiveDate", "agentVersion"),
              {"limit": 25}, values=("osType", "machineType")),
    )  # fmt: skip
    category = "security"
    title = "SentinelOne"
    default_base_url = None  # every customer has its own console host
    secret_keys = ("API_KEY",)
    streams = {"agents": Stream("hourly", metrics=("agents",))}
    # Unverified: SentinelOne limits per endpoint without publishing the numbers; stay modest.
    requests_per_minute = 300

    def auth(self) -> httpx.Auth:
        return HeaderAuth("Authorization", f"ApiToken {self.secret('API_KEY')}")

    def open_api(self, base_url: str | None = None, auth: httpx.Auth | None = None) -> Api:
        if not (base_url or self.config.base_url):
            raise ConfigError(
                f"source {self.config.name!r} (sentinelone): set base_url to your SentinelOne console, "
                'e.g. base_url = "https://usea1-yourcompany.sentinelone.net"; there is no common host'
            )
        # Accept the console URL with or without the API prefix the vendor's docs show.
        url = (base_url or self.config.url).rstrip("/").removesuffix(API)
        return super().open_api(url, auth)

    def orgs(self, api: Api) -> Iterator[Org]:
        for raw in api.pages(f"{API}/sites", _paging("data.sites", SITES_PAGE)):
            yield to_site(raw)

    def collect(self, api: Api, stream: str) -> Iterator[Record]:
        yield from self.orgs(api)
        for raw in api.pages(f"{API}/agents", _paging("data", AGENTS_PAGE)):
            agent = to_agent(raw)
            if agent is not None:
                yield agent
