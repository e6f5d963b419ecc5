"""Per-vendor test harness: how to start each vendor's fake with a small world, the mcc.toml entry
and credentials that reach it, and which path is paged (where faults are injected).

Adding a vendor = one `Harness` entry in VENDORS; the conformance battery then runs against it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sandbox.autotask import AutotaskFake
from sandbox.connectwise import ConnectWiseFake, addition, agreement
from sandbox.datto_rmm import DattoRmmFake
from sandbox.datto_saas import DattoSaasFake
from sandbox.ebillity import EbillityFake
from sandbox.halopsa import HaloPsaFake
from sandbox.huntress import HuntressFake
from sandbox.m365 import GraphFake
from sandbox.ninjaone import NinjaOneFake
from sandbox.pax8 import Pax8Fake
from sandbox.rest_examples import acronis_world, auvik_world, itglue_world
from sandbox.sentinelone import SentinelOneFake
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
    golden: str = ""  # the golden file's name when several entries share a kind (declared REST sources)


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
    devices.append(
        {
            "id": 9000,
            "organizationId": 2,
            "nodeClass": "MAC",
            "approvalStatus": "PENDING",
            "systemName": "new",
        }
    )
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


def _datto_world() -> DattoRmmFake:
    sites = [
        {
            "id": n,
            "uid": f"site-{n}-uid",
            "name": name,
            "onDemand": False,
            "devicesStatus": {"numberOfDevices": 0},
        }
        for n, name in ((1, "Acme Dental"), (2, "Birch Legal"), (3, "Deleted Devices"))
    ]
    categories = ["Desktop", "Desktop", "Laptop", "Desktop", "Server"]
    devices = [
        {
            "id": 1000 + n,
            "uid": f"dev-{n}-uid",
            "siteId": 1 if n < 240 else 2,
            "siteUid": "site-1-uid" if n < 240 else "site-2-uid",
            "siteName": "Acme Dental" if n < 240 else "Birch Legal",
            "hostname": f"HOST-{n:03d}",
            "deviceClass": "printer" if n % 50 == 49 else "device",
            "deviceType": {"category": categories[n % 5], "type": "Main System Chassis"},
            "operatingSystem": "Microsoft Windows 11 Pro",
            "online": n % 7 != 0,
            "suspended": n == 5,
            "deleted": False,
            # ISO date-time as the spec has it (epoch milliseconds, also accepted, is unit-tested)
            "lastSeen": "2026-08-25T07:26:00Z" if n % 2 else "2026-08-25T09:26:40.000+00:00",
        }
        for n in range(330)
    ]
    devices += [
        {
            "id": 5000,
            "uid": "dev-gone-uid",
            "siteId": 3,
            "siteUid": "site-3-uid",
            "siteName": "Deleted Devices",
            "hostname": "OLD-PC",
            "deviceClass": "device",
            "deleted": True,
        }
    ]
    return DattoRmmFake(
        sites, devices, api_key="datto-key-5e21", api_secret="datto-SECRET-77aa", page_max=100
    )


def graph_tenant_id(number: int) -> str:
    return str(uuid.UUID(int=number * 1_000_000 + 999_999))


def graph_tenant(number: int, name: str, staff: int, *, group: bool = True) -> dict[str, Any]:
    """A realistic customer tenant: licensed staff (a few disabled leavers), service accounts without a
    mailbox, shared mailboxes (one licensed for archiving), a room, equipment, guests, and a nested
    "Managed Users" group."""

    def uid(n: int) -> str:
        return str(uuid.UUID(int=number * 1_000_000 + n))

    spb, exchange, flow = uid(900_001), uid(900_002), uid(900_003)
    users: list[dict[str, Any]] = []

    def add(
        n: int,
        display: str,
        local: str,
        purpose: str | None,
        enabled: bool,
        skus: list[str],
        guest: bool = False,
    ) -> None:
        user: dict[str, Any] = {
            "id": uid(n),
            "displayName": display,
            "accountEnabled": enabled,
            "userPrincipalName": f"{local}_ext#EXT#@t{number}.onmicrosoft.com"
            if guest
            else f"{local}@t{number}.example",
            "userType": "Guest" if guest else "Member",
            "assignedLicenses": [{"skuId": s, "disabledPlans": []} for s in skus],
        }
        if purpose is not None:
            user["mailboxSettings"] = {"userPurpose": purpose, "timeZone": "Eastern Standard Time"}
        users.append(user)

    for n in range(staff):
        add(n, f"Staff Member {n}", f"staff{n}", "user", n % 25 != 24, [spb] if n % 10 else [spb, flow])
    for n in range(3):
        add(10_000 + n, f"Service Account {n}", f"svc{n}", None, True, [])
    for n, box in enumerate(("info", "billing", "reception", "scans")):
        add(20_000 + n, box.capitalize(), box, "shared", False, [exchange] if box == "billing" else [])
    add(30_000, "Conference Room 1", "room1", "room", False, [])
    add(30_001, "Projector 1", "projector1", "equipment", False, [])
    add(40_000, "Auditor", "auditor", None, True, [], guest=True)
    add(40_001, "Consultant", "consultant", "user", True, [], guest=True)
    licensed_staff = staff
    skus = [
        {
            "skuId": spb,
            "skuPartNumber": "SPB",
            "consumedUnits": licensed_staff,
            "capabilityStatus": "Enabled",
            "appliesTo": "User",
            "prepaidUnits": {"enabled": licensed_staff + 5, "suspended": 0, "warning": 0, "lockedOut": 0},
        },
        {
            "skuId": exchange,
            "skuPartNumber": "EXCHANGESTANDARD",
            "consumedUnits": 1,
            "capabilityStatus": "Enabled",
            "appliesTo": "User",
            "prepaidUnits": {"enabled": 2, "suspended": 0, "warning": 0, "lockedOut": 0},
        },
        {
            "skuId": flow,
            "skuPartNumber": "FLOW_FREE",
            "consumedUnits": (staff + 9) // 10,
            "capabilityStatus": "Enabled",
            "appliesTo": "User",
            "prepaidUnits": {"enabled": 10000, "suspended": 0, "warning": 0, "lockedOut": 0},
        },
        {
            "skuId": uid(900_004),
            "skuPartNumber": "CRMSTANDARD",
            "consumedUnits": 0,
            "capabilityStatus": "Suspended",
            "appliesTo": "User",
            "prepaidUnits": {"enabled": 0, "suspended": 5, "warning": 0, "lockedOut": 0},
        },
    ]
    groups = []
    if group:
        office = [uid(n) for n in range(0, staff, 2)]
        remote = [uid(n) for n in range(1, staff, 4)]
        groups = [
            {
                "id": uid(50_000),
                "displayName": "Managed Users",
                "members": [*office, uid(50_001), uid(20_000)],
            },
            {"id": uid(50_001), "displayName": "Remote Staff", "members": [*remote, office[0]]},
        ]
    return {
        "id": graph_tenant_id(number),
        "displayName": name,
        "defaultDomainName": f"t{number}.onmicrosoft.com",
        "users": users,
        "subscribedSkus": skus,
        "groups": groups,
    }


def graph_group_size(staff: int) -> int:
    """Users in "Managed Users" of graph_tenant(staff=...): even staff, odd staff 1, 5, 9..., and the info box."""
    return len(range(0, staff, 2)) + len(range(1, staff, 4)) + 1


PARTNER_TENANT = "00000000-0000-0000-0000-00000000beef"


def _graph_world() -> GraphFake:
    tenants = [
        graph_tenant(1, "Acme Dental", 230),
        graph_tenant(2, "Birch Legal", 40),
        graph_tenant(3, "Cedar Vet", 12, group=False),
    ]
    tenants[2]["contract"] = False  # read because the config lists it, not through the partner contracts
    return GraphFake(
        tenants,
        client_id="graph-id-31c9",
        client_secret="graph-SECRET-c0de",
        partner_tenant=PARTNER_TENANT,
        page_max=100,
    )


def _graph_expected() -> dict[tuple[str, str], int]:
    expected: dict[tuple[str, str], int] = {}
    for number, staff, group in ((1, 230, True), (2, 40, True), (3, 12, False)):
        tenant = graph_tenant_id(number)
        expected[(tenant, "users")] = staff + 3 + 4 + 2
        expected[(tenant, "licenses_assigned")] = staff + 1 + (staff + 9) // 10
        expected[(tenant, "licenses_total")] = staff + 5 + 2 + 10000
        if group:
            expected[(tenant, "group_members")] = graph_group_size(staff)
    return expected


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


RETIRED_PRODUCT = "5b6c7d8e-0000-4000-8000-00000000dead"  # no longer in the catalogue: 404


def _pax8_world() -> Pax8Fake:
    companies = [
        {"id": f"0f6c1a52-3b7e-4c1e-9a51-00000000000{n}", "name": name, "status": "Active"}
        for n, name in ((1, "Acme Dental"), (2, "Birch Legal"), (3, "Cedar Clinic"))
    ]
    products = [
        {"id": "1810aea9-0c95-421d-a77a-7ebccdfa2f6c", "name": "Microsoft 365 Business Standard"},
        {"id": "2d3432cb-5a61-4f87-a197-7ea8e2227aeb", "name": "Google Workspace Business Starter"},
        {"id": "3e55c1d0-7d1a-4b7e-9c2f-0c3a5d6e7f80", "name": "Microsoft 365 Business Premium"},
        {"id": "4a1b2c3d-1111-4222-8333-444455556666", "name": "Acronis Cyber Protect Cloud"},
    ]
    costs = [10.20, 5.04, 18.7425, 3]
    subscriptions = []
    for n in range(450):
        product = products[n % 4]
        row = {
            "id": f"09ac6f1d-c30a-4d03-9882-{n:012d}",
            "companyId": companies[n % 3]["id"],
            "productId": RETIRED_PRODUCT if n == 5 else product["id"],
            "quantity": 1 + n % 7,
            "startDate": "2025-01-01T08:30:00Z",
            "billingStart": "2025-01-01",
            "status": "Cancelled" if n % 10 == 9 else "Active",
            "price": 22,
            "partnerCost": costs[n % 4],
            "currencyCode": "USD",
            "billingTerm": "Monthly",
        }
        if n % 5:  # Pax8 omits fields rather than sending null; these need the product lookup
            row["productName"] = product["name"]
        subscriptions.append(row)
    return Pax8Fake(
        companies, subscriptions, products, client_id="pax8-id-0c1d", client_secret="pax8-SECRET-e5f6"
    )


def _ebillity_world() -> EbillityFake:
    from datetime import UTC, datetime, timedelta

    employees = [
        {"EmployeeId": 313598 + n, "FirstName": first, "LastName": last, "IsActive": True}
        for n, (first, last) in enumerate([("James", "Mulvey"), ("Priya", "Shah"), ("Ola", "Berg")])
    ]
    clients = [
        {"ClientId": 5511, "ClientName": "Acme Dental"},
        {"ClientId": 5512, "ClientName": "Birch Legal"},
        {"ClientId": 5513, "ClientName": "Cedar Clinic"},
    ]
    now = datetime.now(UTC)
    entries = [
        {
            "TimeEntryId": 70000 + n,
            "ClientId": 5511 + n % 3,
            "EmployeeId": 313598 + n % 3,
            "EntryDate": f"2026-02-{1 + n % 28:02d}",
            "Hours": ["1.5", 0.25, 2, "0.75"][n % 4],
            "BillRate": [150, "125.50", None][n % 3],
            "IsBillable": n % 6 != 5,
            "IsBilled": n % 10 == 0,
            "Description": f"Ticket #{4000 + n}: workstation setup",
            # the last five were last touched long ago, outside the read window
            "ModifiedDate": (now - timedelta(days=500 if n >= 115 else n % 30)).isoformat(),
        }
        for n in range(120)
    ]
    return EbillityFake(employees, clients, entries, auth_token="ebillity-TOKEN-8a7b6c")


def _connectwise_world() -> ConnectWiseFake:
    """1,500 companies (three pages of 1,000 would be too slow; pages of 1,000 still span two), one in the
    recycle bin, and agreements whose additions span several pages."""
    companies = [
        {"id": 250 + n, "identifier": f"Client{n}", "name": f"Client {n}", "deletedFlag": n == 3}
        for n in range(1500)
    ]
    agreements = [
        agreement(11, companies[0], "Acme managed services"),
        agreement(12, companies[1], "Birch managed services"),
        agreement(13, companies[2], "Cedar internal", cycle="None"),
        agreement(14, companies[3], "Deleted company's agreement"),
        agreement(15, companies[1], "Birch old agreement", status="Cancelled"),
    ]
    additions = {
        11: [addition(100 + n, "WS" if n % 2 else "SRV", 1, 45.0) for n in range(1300)],
        12: [
            addition(5000, "M365-BP", 47, 22.0, unit_cost=12.5),
            addition(5001, "BACKUP", 10, 3.0, bill="DoNotBill"),
        ],
        13: [addition(6000, "WS", 5, 45.0)],
        14: [addition(7000, "WS", 9, 45.0)],
        15: [addition(8000, "WS", 99, 45.0)],
    }
    return ConnectWiseFake(
        companies,
        agreements,
        additions,
        company="msp",
        public_key="cw-pub-1a2b",
        private_key="cw-PRIVATE-3c4d",
        client_id="cw-clientid-5e6f",
    )


def autotask_world() -> AutotaskFake:
    """1,200 companies (three pages of 500), two active recurring contracts and one inactive, with a
    service unit row per month for each contract service (so units span pages too)."""
    companies = [{"id": 29680000 + n, "companyName": f"Client {n}", "isActive": n != 5} for n in range(1200)]
    services = [{"id": 11, "name": "WS", "isActive": True}, {"id": 12, "name": "M365-BP", "isActive": True}]
    contracts = [
        {
            "id": 300,
            "companyID": 29680000,
            "contractName": "Acme recurring",
            "status": 1,
            "contractType": 7,
            "startDate": "2026-01-01T00:00:00",
            "endDate": "2027-12-31T00:00:00",
        },
        {
            "id": 301,
            "companyID": 29680001,
            "contractName": "Birch recurring",
            "status": 1,
            "contractType": 7,
            "startDate": "2026-01-01T00:00:00",
            "endDate": "2027-12-31T00:00:00",
        },
        {
            "id": 302,
            "companyID": 29680002,
            "contractName": "Cedar old",
            "status": 0,
            "contractType": 7,
            "startDate": "2025-01-01T00:00:00",
            "endDate": "2025-12-31T00:00:00",
        },
    ]
    units = []
    next_id = 1
    for contract, service, base in ((300, 11, 40), (300, 12, 25), (301, 11, 12), (302, 11, 99)):
        for month in range(1, 13):
            for copy in range(30):  # Autotask keeps one row per period; many periods make long listings
                units.append(
                    {
                        "id": next_id,
                        "contractID": contract,
                        "contractServiceID": contract * 10 + service,
                        "serviceID": service,
                        "units": base + (month >= 11),
                        "price": 45.0 if service == 11 else 22.0,
                        "cost": None,
                        "startDate": f"{2026 - (contract == 302)}-{month:02d}-01T00:00:00",
                        "endDate": f"{2026 - (contract == 302)}-{month:02d}-28T00:00:00",
                    }
                )
                next_id += 1
                if copy:
                    units[-1]["contractServiceID"] = contract * 10000 + service * 100 + copy
    return AutotaskFake(
        {"Companies": companies, "Services": services, "Contracts": contracts, "ContractServiceUnits": units},
        username="api@msp.example",
        secret="at-SECRET-7f8e",
        integration_code="at-INTEGRATION-9a0b",
    )


def halopsa_world() -> HaloPsaFake:
    """250 clients (three pages of 100, one inactive) and recurring invoices whose lines span pages."""
    clients = [{"id": 40 + n, "name": f"Client {n}", "inactive": n == 7} for n in range(250)]
    invoices = [
        {
            "id": 900 + n,
            "client_id": 40 + n % 3,
            "client_name": f"Client {n % 3}",
            "invoicenumber": f"RI-{900 + n}",
            "startdate": "2026-01-01T00:00:00",
            "enddate": "1900-01-01T00:00:00",
            "inactive": n == 200,
            "lines": [
                {
                    "id": 1,
                    "item_code": "WS",
                    "qty_order": 10 + n % 5,
                    "unit_price": 45.0,
                    "unit_cost": 4.1,
                    "item_shortdescription": "Managed workstation",
                },
                {"id": 2, "item_code": "M365-BP", "qty_order": 3, "unit_price": 22.0},
            ],
        }
        for n in range(210)
    ]
    return HaloPsaFake(clients, invoices, client_id="halo-id-2c3d", client_secret="halo-SECRET-4e5f")


def _rest_declaration(name: str) -> str:
    """The worked example's `[sources.rest]` table from docs/sources/rest.md, as users copy it."""
    import re
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "sources" / "rest.md").read_text(encoding="utf-8")
    block = next(b for b in re.findall(r"```toml\n(.*?)```", doc, flags=re.S) if f'name = "{name}"' in b)
    return block[block.index("[sources.rest]") :]


VENDORS: dict[str, Harness] = {
    "rest-acronis": Harness(
        kind="rest",
        make_fake=acronis_world,
        env={"CLIENT_ID": "acronis-id-1a", "CLIENT_SECRET": "acronis-SECRET-2b"},
        paged_path="/api/2/resources",
        expected={
            ("tenant-0", "workloads"): 69,
            ("tenant-1", "workloads"): 69,
            ("tenant-2", "workloads"): 69,
        },
        extra_toml='auth_url = "{url}"\n'
        + _rest_declaration("acronis").replace("{", "{{").replace("}", "}}"),
        secret_values=("acronis-SECRET-2b",),
        auth_path="/api/2/idp/token",
        golden="rest-acronis",
    ),
    "rest-auvik": Harness(
        kind="rest",
        make_fake=auvik_world,
        env={"PASSWORD": "auvik-KEY-3c4d", "USERNAME": "api@msp.example"},
        paged_path="/v1/inventory/device/info",
        expected={("5000", "network_devices"): 75, ("5001", "network_devices"): 75},
        extra_toml=_rest_declaration("auvik").replace("{", "{{").replace("}", "}}"),
        secret_values=("auvik-KEY-3c4d",),
        golden="rest-auvik",
    ),
    "rest-itglue": Harness(
        kind="rest",
        make_fake=itglue_world,
        env={"API_KEY": "itglue-KEY-5e6f"},
        paged_path="/configurations",
        expected={
            ("90", "configurations"): 27,
            ("91", "configurations"): 27,
            ("92", "configurations"): 28,
            ("93", "configurations"): 28,
        },
        extra_toml=_rest_declaration("itglue").replace("{", "{{").replace("}", "}}"),
        golden="rest-itglue",
    ),
    "halopsa": Harness(
        kind="halopsa",
        make_fake=halopsa_world,
        env={"CLIENT_ID": "halo-id-2c3d", "CLIENT_SECRET": "halo-SECRET-4e5f"},
        paged_path="/api/RecurringInvoice",
        expected={
            ("40", "contract_lines"): 140,
            ("41", "contract_lines"): 140,
            ("42", "contract_lines"): 138,
        },
        extra_toml='auth_url = "{url}"',
        secret_values=("halo-SECRET-4e5f",),
        auth_path="/auth/token",
    ),
    "autotask": Harness(
        kind="autotask",
        make_fake=autotask_world,
        env={
            "SECRET": "at-SECRET-7f8e",
            "USERNAME": "api@msp.example",
            "INTEGRATION_CODE": "at-INTEGRATION-9a0b",
        },
        paged_path="/ATServicesRest/V1.0/ContractServiceUnits/query",
        expected={("29680000", "contract_lines"): 60, ("29680001", "contract_lines"): 30},
        secret_values=("at-SECRET-7f8e", "at-INTEGRATION-9a0b"),
    ),
    "connectwise": Harness(
        kind="connectwise",
        make_fake=_connectwise_world,
        env={
            "PRIVATE_KEY": "cw-PRIVATE-3c4d",
            "COMPANY": "msp",
            "PUBLIC_KEY": "cw-pub-1a2b",
            "CLIENT_ID": "cw-clientid-5e6f",
        },
        paged_path="/finance/agreements/11/additions",
        # agreement lines, not counts: (company id, "contract_lines") -> lines stored from the last good read
        expected={("250", "contract_lines"): 1300, ("251", "contract_lines"): 2},
        secret_values=("cw-PRIVATE-3c4d",),
    ),
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
    "datto_rmm": Harness(
        kind="datto_rmm",
        make_fake=_datto_world,
        env={"API_KEY": "datto-key-5e21", "API_SECRET": "datto-SECRET-77aa"},
        paged_path="/api/v2/account/devices",
        expected={("site-1-uid", "devices"): 239, ("site-2-uid", "devices"): 90},
        secret_values=("datto-SECRET-77aa",),
        auth_path="/auth/oauth/token",
    ),
    "m365": Harness(
        kind="m365",
        make_fake=_graph_world,
        env={"CLIENT_ID": "graph-id-31c9", "CLIENT_SECRET": "graph-SECRET-c0de"},
        paged_path="/users",
        expected=_graph_expected(),
        extra_toml=(
            'auth_url = "{url}"\npartner_tenant = "' + PARTNER_TENANT + '"\n'
            'tenants = ["' + graph_tenant_id(3) + '"]\ngroup = "Managed Users"'
        ),
        secret_values=("graph-SECRET-c0de",),
        auth_path="/oauth2/v2.0/token",
    ),
    "datto_saas": Harness(
        kind="datto_saas",
        make_fake=_datto_saas_world,
        env={"API_KEY": "datto-pub-3e9a", "API_SECRET": "datto-SECRET-77b1"},
        paged_path="/v1/saas/",  # unpaged: the domain list and one seat list per customer
        expected={("5001", "seats"): 60, ("5002", "seats"): 25, ("5003", "seats"): 10},
        secret_values=("datto-SECRET-77b1",),
    ),
    "pax8": Harness(
        kind="pax8",
        make_fake=_pax8_world,
        env={"CLIENT_ID": "pax8-id-0c1d", "CLIENT_SECRET": "pax8-SECRET-e5f6"},
        paged_path="/v1/subscriptions",
        expected={
            ("0f6c1a52-3b7e-4c1e-9a51-000000000001", "subscriptions"): 541,
            ("0f6c1a52-3b7e-4c1e-9a51-000000000002", "subscriptions"): 534,
            ("0f6c1a52-3b7e-4c1e-9a51-000000000003", "subscriptions"): 541,
        },
        secret_values=("pax8-SECRET-e5f6",),
        auth_path="/v1/token",
    ),
    "ebillity": Harness(
        kind="ebillity",
        make_fake=_ebillity_world,
        env={"API_KEY": "ebillity-TOKEN-8a7b6c"},
        paged_path="/restservice/thirdparty/",  # unpaged: clients, employees and time entries
        expected={},  # time entries are not counts; test_ebillity checks what was stored
    ),
}
