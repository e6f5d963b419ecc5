"""NinjaOne (public API v2): device counts per organization by node class, and the devices behind them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx

from collectors.base import Source, Stream
from collectors.http import Api, client_credentials
from collectors.paging import Keyset
from collectors.records import Entity, Org, Record
from collectors.registry import register
from mcc.errors import MalformedPayload

# Read-only: MCC asks for the `monitoring` scope only, never `management` or `control`.
# Unverified: that `monitoring` alone covers /v2/organizations and /v2/devices (the spec tags them so).
SCOPE = "monitoring"

# The spec's `Device.nodeClass` enum (docs/sources/ninjaone.md says what each is and how the demo maps it).
NODE_CLASSES = (
    "WINDOWS_SERVER", "WINDOWS_WORKSTATION", "LINUX_WORKSTATION", "MAC", "ANDROID", "APPLE_IOS",
    "APPLE_IPADOS", "VMWARE_VM_HOST", "VMWARE_VM_GUEST", "HYPERV_VMM_HOST", "HYPERV_VMM_GUEST",
    "LINUX_SERVER", "MAC_SERVER", "CLOUD_MONITOR_TARGET", "NMS_SWITCH", "NMS_ROUTER", "NMS_FIREWALL",
    "NMS_PRIVATE_NETWORK_GATEWAY", "NMS_PRINTER", "NMS_SCANNER", "NMS_DIAL_MANAGER", "NMS_WAP",
    "NMS_IPSLA", "NMS_COMPUTER", "NMS_VM_HOST", "NMS_APPLIANCE", "NMS_OTHER", "NMS_SERVER", "NMS_PHONE",
    "NMS_VIRTUAL_MACHINE", "NMS_NETWORK_MANAGEMENT_AGENT", "UNMANAGED_DEVICE", "MANAGED_DEVICE",
)  # fmt: skip


def to_org(raw: Any) -> Org:
    if not isinstance(raw, dict) or "id" not in raw:
        raise MalformedPayload(f"ninjaone: organization without an id: {str(raw)[:120]}")
    return Org(str(raw["id"]), str(raw.get("name") or raw["id"]))


def _when(epoch: Any) -> str:
    """NinjaOne timestamps are epoch seconds as a double (`1787898261.504`)."""
    if epoch is None:
        return ""
    try:
        return datetime.fromtimestamp(float(epoch), UTC).isoformat(timespec="seconds")
    except (TypeError, ValueError, OverflowError, OSError):
        # A display-only detail: an odd value is shown as sent rather than failing the whole run.
        return str(epoch)[:40]


def to_device(raw: Any) -> Entity | None:
    """A device row → one `devices` entity keyed by node class; pending (unapproved) devices are not managed yet."""
    if not isinstance(raw, dict) or "id" not in raw or "organizationId" not in raw or "nodeClass" not in raw:
        raise MalformedPayload(
            f"ninjaone: device row lacks id, organizationId or nodeClass: {str(raw)[:160]}"
        )
    if raw.get("approvalStatus") == "PENDING":
        return None
    name = raw.get("displayName") or raw.get("systemName") or raw.get("dnsName") or str(raw["id"])
    return Entity.of(
        raw["organizationId"],
        "devices",
        raw["id"],
        name,
        attrs={"node_class": raw["nodeClass"]},
        details={
            "offline": bool(raw.get("offline", False)),
            "last_contact": _when(raw.get("lastContact")),
            "created": _when(raw.get("created")),
        },
    )


@register
class NinjaOne(Source):
    kind = "ninjaone"
    category = "rmm"
    title = "NinjaOne"
    default_base_url = "https://app.ninjarmm.com"
    secret_keys = ("CLIENT_ID", "CLIENT_SECRET")
    streams = {"devices": Stream("every 30 minutes", metrics=("devices",))}
    coverage = {"devices": "node_class"}
    # Unverified: NinjaOne publishes no request limit; 429s exist, so stay modest.
    requests_per_minute = 300

    def auth(self) -> httpx.Auth:
        return client_credentials(
            f"{self.config.token_url_base}/ws/oauth/token",
            {
                "client_id": self.secret("CLIENT_ID"),
                "client_secret": self.secret("CLIENT_SECRET"),
                "scope": SCOPE,
            },
            label="NinjaOne token endpoint",
        )

    def orgs(self, api: Api) -> Iterator[Org]:
        for raw in api.pages("/v2/organizations", Keyset(500)):
            yield to_org(raw)

    def collect(self, api: Api, stream: str) -> Iterator[Record]:
        yield from self.orgs(api)
        for raw in api.pages("/v2/devices", Keyset(1000)):
            device = to_device(raw)
            if device is not None:
                yield device
