"""Per-vendor test harness: how to start each vendor's fake with a small world, the mcc.toml entry
and credentials that reach it, and which path is paged (where faults are injected).

Adding a vendor = one `Harness` entry in VENDORS; the conformance battery then runs against it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sandbox.huntress import HuntressFake
from sandbox.ninjaone import NinjaOneFake
from sandbox.sentinelone import SentinelOneFake
from sandbox.datto_saas import DattoSaasFake
from sandbox.server import Fake


@dataclass(frozen=True)
class Harness:
    kind: str
    make_fake: Callable[[], Fake]
    env: dict[str, str]  # credentials, keyed by the KEY part of MCC_<NAME>_<KEY>
    paged_path: str  # a path that takes several pages with the small world
    expected: dict[tuple[str, str], int]  # (org external id, metric) -> quantity summed over attributes
    extra_toml: str = ""  # kind-specific settings, e.g. auth_url = "{url}"
    secret_values: tuple[str, ...] = field(default=())  # strings that must never reach a log line
    auth_path: str = ""  # the token endpoint, for "bad credentials" checks; empty for static keys


def _ninja_world() -> NinjaOneFake:
    organizations = [{"id": 1, "name": "Acme Dental"}, {"id": 2, "name": "Birch Legal"}]
    devices = [
        {
            "id": 100 + n,
            "organizationId": 1 if n < 1200 else 2,
            "nodeClass": "WINDOWS_SERVER" if n % 10 == 0 else "WINDOWS_WORKSTATION",
            "approvalStatus": "APPROVED",
            "systemName": f"PC-{n}",
            "lastContact": 1787898261.5,
        }
        for n in range(1500)
    ]
    devices.append({"id": 9000, "organizationId": 2, "nodeClass": "MAC", "approvalStatus": "PENDING", "systemName": "new"})
    return NinjaOneFake(organizations, devices, client_id="ninja-id-7f3a", client_secret="ninja-SECRET-9d2c")


def _huntress_world() -> HuntressFake:
    organizations = [
        {"id": 101, "name": "Acme Dental", "key": "acme"},
        {"id": 102, "name": "Birch Legal", "key": "birch"},
        {"id": 103, "name": "Cedar Clinic", "key": "cedar"},
    ]
    agents = [
        {
            "id": 5000 + n,
            "account_id": 5,
            "organization_id": 101 if n < 700 else 102 if n < 1100 else 103,
            "platform": "darwin" if n % 9 == 0 else "linux" if n % 25 == 0 else "windows",
            "hostname": f"host-{n}",
            "os": "Windows 11 Pro",
            "version": "0.13.40",
            "last_callback_at": "2026-03-01T20:05:10Z",
        }
        for n in range(1200)
    ]
    statuses = {
        101: ["sent"] * 4 + ["auto_remediating"] + ["closed"] * 3,
        102: ["sent", "sent"] + ["closed"] * 4,
        103: ["dismissed"],
    }
    incidents = [
        {
            "id": 900 + 10 * org + n,
            "organization_id": org,
            "agent_id": 5000 + n,
            "status": status,
            "severity": ["low", "high", "critical"][n % 3],
            "platform": "windows",
            "subject": f"Incident {n} on host-{n}",
            "sent_at": "2026-03-01T21:00:00Z",
        }
        for org, values in statuses.items()
        for n, status in enumerate(values)
    ]
    return HuntressFake(organizations, agents, incidents, api_key="hk-4f1e7a", api_secret="hunt-SECRET-6b0d")


def _sentinelone_world() -> SentinelOneFake:
    sites = [
        {"id": "900001", "name": "Acme Dental", "accountId": "77", "state": "active", "activeLicenses": 1485},
        {"id": "900002", "name": "Birch Legal", "accountId": "77", "state": "active", "activeLicenses": 693},
        {"id": "900003", "name": "Cedar Clinic", "accountId": "77", "state": "active", "activeLicenses": 99},
    ]
    agents = [
        {
            "id": str(1384215781000000000 + n),
            "siteId": "900001" if n < 1500 else "900002" if n < 2200 else "900003",
            "siteName": "Acme Dental" if n < 1500 else "Birch Legal" if n < 2200 else "Cedar Clinic",
            "computerName": f"S1-{n}",
            "osType": "macos" if n % 11 == 0 else "linux" if n % 50 == 3 else "windows",
            "machineType": "server" if n % 20 == 0 else "laptop" if n % 3 == 0 else "desktop",
            "isDecommissioned": n % 100 == 7,
            "networkStatus": "connected",
            "lastActiveDate": "2026-03-01T20:05:10.000000Z",
            "agentVersion": "24.1.2.6",
        }
        for n in range(2300)
    ]
    return SentinelOneFake(sites, agents, api_token="s1-API-TOKEN-c0ffee42")


def _datto_saas_world() -> DattoSaasFake:
    customers = {
        5001: ("Acme Dental", ["acme.example"], 60),
        5002: ("Birch Legal", ["birch.example"], 25),
        5003: ("Cedar Clinic", ["cedar.example", "cedar-old.example"], 10),
    }
    domains = [
        {
            "domain": domain,
            "saasCustomerId": customer_id,
            "saasCustomerName": name,
            "organizationId": 145,
            "organizationName": "Sandbox MSP",
            "seatsUsed": seats,
            "productType": "Office365",
            "externalSubscriptionId": f"Classic:{customer_id}",
            "retentionType": "ICR",
        }
        for customer_id, (name, names, seats) in customers.items()
        for domain in names
    ]
    seat_types = ["User"] * 6 + ["SharedMailbox", "Site", "TeamSite", "Team"]
    seats = {
        customer_id: [
            {
                "mainId": f"user{n}@{names[0]}",
                "name": f"User {n}",
                "seatType": seat_types[n % len(seat_types)],
                "seatState": "Active" if n % 13 else "Paused",
                "billable": "1" if seat_types[n % len(seat_types)] in ("User", "SharedMailbox") else "",
                "dateAdded": "2025-11-04T10:00:00Z",
                "remoteId": f"{customer_id:04d}0000-0000-4000-8000-{n:012d}",
            }
            for n in range(count)
        ]
        for customer_id, (_, names, count) in customers.items()
    }
    return DattoSaasFake(domains, seats, public_key="datto-pub-3e9a", secret_key="datto-SECRET-77b1")


VENDORS: dict[str, Harness] = {
    "ninjaone": Harness(
        kind="ninjaone",
        make_fake=_ninja_world,
        env={"CLIENT_ID": "ninja-id-7f3a", "CLIENT_SECRET": "ninja-SECRET-9d2c"},
        paged_path="/v2/devices",
        expected={("1", "devices"): 1200, ("2", "devices"): 300},
        extra_toml='auth_url = "{url}"',
        secret_values=("ninja-SECRET-9d2c",),
        auth_path="/ws/oauth/token",
    ),
    "huntress": Harness(
        kind="huntress",
        make_fake=_huntress_world,
        env={"API_KEY": "hk-4f1e7a", "API_SECRET": "hunt-SECRET-6b0d"},
        paged_path="/v1/agents",
        expected={
            ("101", "agents"): 700,
            ("102", "agents"): 400,
            ("103", "agents"): 100,
            ("101", "incidents"): 5,
            ("102", "incidents"): 2,
        },
        # the fake keeps Huntress's 60/min; the client's limit is raised so the battery need not wait
        extra_toml="rate_limit_per_minute = 6000",
        secret_values=("hunt-SECRET-6b0d",),
    ),
    "sentinelone": Harness(
        kind="sentinelone",
        make_fake=_sentinelone_world,
        env={"API_KEY": "s1-API-TOKEN-c0ffee42"},
        paged_path="/web/api/v2.1/agents",
        expected={("900001", "agents"): 1485, ("900002", "agents"): 693, ("900003", "agents"): 99},
    ),
    "datto_saas": Harness(
        kind="datto_saas",
        make_fake=_datto_saas_world,
        env={"API_KEY": "datto-pub-3e9a", "API_SECRET": "datto-SECRET-77b1"},
        paged_path="/v1/saas/",  # unpaged: the domain list and one seat list per customer
        expected={("5001", "seats"): 60, ("5002", "seats"): 25, ("5003", "seats"): 10},
        secret_values=("datto-SECRET-77b1",),
    ),
}
