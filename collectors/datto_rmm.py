"""Datto RMM (API v2): device counts per site by device class, and the devices behind them."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx

from collectors.base import Source, Stream
from collectors.http import Api, TokenAuth
from collectors.paging import NextLink
from collectors.records import Entity, Org, Record
from collectors.registry import register
from mcc.errors import AuthFailed, ConfigError, MalformedPayload, SourceError

# The token endpoint's fixed public client, the same for every Datto RMM account.
PUBLIC_CLIENT = ("public-client", "public")
FALLBACK_PAGE_SIZE = 250  # when the platform does not say (GET /api/v2/system/pagination)
DEVICE_CLASSES = ("device", "printer", "esxihost", "unknown")  # the spec's `Device.deviceClass` enum


def to_site(raw: Any) -> Org:
    if not isinstance(raw, dict) or not raw.get("uid"):
        raise MalformedPayload(f"datto_rmm: site without a uid: {str(raw)[:120]}")
    return Org(str(raw["uid"]), str(raw.get("name") or raw["uid"]))


def _when(value: Any) -> str:
    """`lastSeen` is a date-time string in the spec; some accounts send epoch milliseconds."""
    # Unverified: which of the two a live account sends; both are accepted.
    if value is None or value == "":
        return ""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(float(value) / 1000, UTC).isoformat(timespec="seconds")
    text = str(value)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def device_class(raw: dict[str, Any]) -> str:
    """`desktop`, `laptop`, `server`… (deviceType.category, lower-cased) for managed computers
    (deviceClass `device`); otherwise the deviceClass itself: `printer`, `esxihost` or `unknown`
    (a value outside the spec's enum is kept as sent, so the sync's uncovered report shows it)."""
    kind = str(raw.get("deviceClass") or "unknown").lower()
    if kind != "device":
        return kind
    device_type = raw.get("deviceType")
    category = device_type.get("category") if isinstance(device_type, dict) else None
    # Unverified: the exact category spellings (Desktop, Laptop, Server, ...) on a live account.
    return str(category).strip().lower() if category else "device"


def to_device(raw: Any) -> Entity | None:
    """A device row → one `devices` entity of its site; deleted and suspended devices are not managed."""
    if not isinstance(raw, dict) or not raw.get("uid") or not raw.get("siteUid"):
        raise MalformedPayload(f"datto_rmm: device row lacks uid or siteUid: {str(raw)[:160]}")
    # Unverified: that suspended devices are not billed by MSPs (the research suggests excluding them).
    if raw.get("deleted") or raw.get("suspended"):
        return None
    return Entity.of(
        raw["siteUid"],
        "devices",
        raw["uid"],
        str(raw.get("hostname") or raw["uid"]),
        attrs={"device_class": device_class(raw)},
        details={
            "offline": not bool(raw.get("online", False)),
            "last_contact": _when(raw.get("lastSeen")),
            "operating_system": raw.get("operatingSystem") or "",
            "site": raw.get("siteName") or "",
        },
    )


@register
class DattoRmm(Source):
    kind = "datto_rmm"
    category = "rmm"
    title = "Datto RMM"
    secret_keys = ("API_KEY", "API_SECRET")
    streams = {"devices": Stream("every 60 minutes", metrics=("devices",))}
    coverage = {"devices": "device_class"}
    # Datto allows 600 reads per rolling 60 s per account, then 429 and a temporary IP block (403).
    # Stay well under so other integrations on the same account (PSA sync) keep some room.
    requests_per_minute = 480

    def _host(self) -> str:
        if not self.config.url:
            raise ConfigError(
                f"source {self.config.name!r}: set base_url to your Datto RMM platform's API host, "
                "e.g. https://merlot-api.centrastage.net"
            )
        return self.config.url

    def auth(self) -> httpx.Auth:
        self._host()
        token_url = f"{self.config.token_url_base}/auth/oauth/token"
        public = base64.b64encode(f"{PUBLIC_CLIENT[0]}:{PUBLIC_CLIENT[1]}".encode()).decode()

        def token_request() -> httpx.Request:
            return httpx.Request(
                "POST",
                token_url,
                headers={"Authorization": f"Basic {public}"},
                data={
                    "grant_type": "password",
                    "username": self.secret("API_KEY"),
                    "password": self.secret("API_SECRET"),
                },
            )

        return TokenAuth(token_request, label="Datto RMM token endpoint")

    def page_size(self, api: Api) -> int:
        """The platform's page maximum (`GET /api/v2/system/pagination` → `{"max": 250}`), read once
        per run; platforms may differ, so it is never assumed."""
        try:
            body = api.get("/api/v2/system/pagination")
        except SourceError as error:
            if "HTTP 404" not in str(error) or isinstance(error, AuthFailed):
                raise
            return FALLBACK_PAGE_SIZE  # an older platform without the endpoint
        size = body.get("max") if isinstance(body, dict) else None
        if not isinstance(size, int) or isinstance(size, bool) or size < 1:
            raise MalformedPayload(
                f"datto_rmm: /api/v2/system/pagination has no positive max: {str(body)[:120]}"
            )
        return size

    def orgs(self, api: Api, size: int | None = None) -> Iterator[Org]:
        size = size or self.page_size(api)
        for raw in api.pages(
            "/api/v2/account/sites",
            NextLink("sites", "pageDetails.nextPageUrl", size=size, size_param="max"),
        ):
            yield to_site(raw)

    def collect(self, api: Api, stream: str) -> Iterator[Record]:
        size = self.page_size(api)
        yield from self.orgs(api, size)
        # One account-wide listing instead of one per site: a few calls for thousands of devices,
        # where per-site reads would spend one call per site against the 600-per-minute limit.
        paging = NextLink("devices", "pageDetails.nextPageUrl", size=size, size_param="max")
        for raw in api.pages("/api/v2/account/devices", paging):
            device = to_device(raw)
            if device is not None:
                yield device

    def permission_hint(self, error: Exception | str) -> str | None:
        text = str(error)
        if "HTTP 403" in text and "/api/" in text:
            return (
                "Datto RMM answers 403 when the API user lacks access or when the IP address is blocked for "
                "about 5 minutes after repeated rate-limit violations; check the API user in Setup → Users "
                "and wait before retrying"
            )
        if "token endpoint" in text:
            return (
                "check the API key and secret (Setup → Users → the API user → Generate API keys) and that "
                "the API is enabled for the account (Setup → Global Settings → Access Control)"
            )
        return None
