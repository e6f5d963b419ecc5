"""The demo world in each vendor's own wire format (field names as the vendor spells them)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta
from typing import Any

from sandbox.connectwise import addition, agreement
from sandbox.world import PAX8_PRODUCTS, World, WorldClient, contract_lines

SKU_IDS = {
    "SPB": "cbdc14ab-d96c-4c30-b9f4-6ada7cdc1d46",
    "EXCHANGESTANDARD": "4b9405b0-7788-4568-add1-99614e613b69",
}
NEW_BACKUP_SEATS = 3  # mailboxes added ten days ago for some clients: a mid-month change to prorate


def huntress_org(client: WorldClient) -> int:
    return 2000 + client.index


def s1_site(client: WorldClient) -> str:
    return str(900_000 + client.index)


def saas_customer(client: WorldClient) -> int:
    return 5000 + client.index


def pax8_company(client: WorldClient) -> str:
    return str(uuid.UUID(int=0x0F6C1A52_0000_4000_8000_000000000000 + client.index))


def ebillity_client(client: WorldClient) -> int:
    return 5500 + client.index


def grows_backup(client: WorldClient) -> bool:
    return client.index % 4 == 1


def _iso(world: World, days_ago: float) -> str:
    moment = datetime.combine(world.today, time(8, 0), UTC) - timedelta(days=days_ago)
    return moment.isoformat().replace("+00:00", "Z")


# --- Microsoft Graph ------------------------------------------------------------------------------


def graph_tenants(world: World) -> list[dict[str, Any]]:
    tenants = []
    for client in world.clients:
        users = []
        for person in client.people:
            user: dict[str, Any] = {
                "id": person.id,
                "displayName": person.name,
                "userPrincipalName": person.upn,
                "accountEnabled": person.enabled,
                "userType": "Member",
                "assignedLicenses": [{"skuId": SKU_IDS[sku], "disabledPlans": []} for sku in person.skus],
                "mailboxSettings": {"userPurpose": person.purpose},
            }
            users.append(user)
        consumed = {sku: sum(1 for p in client.people if sku in p.skus) for sku in SKU_IDS}
        skus = [
            {
                "skuId": SKU_IDS[sku],
                "skuPartNumber": sku,
                "consumedUnits": count,
                "capabilityStatus": "Enabled",
                "appliesTo": "User",
                "prepaidUnits": {
                    "enabled": count + (2 if client.index % 3 == 0 else 0),
                    "suspended": 0,
                    "warning": 0,
                    "lockedOut": 0,
                },
            }
            for sku, count in consumed.items()
            if count
        ]
        groups = []
        if client.uses_group:
            members = [p.id for p in client.people if p.in_group]
            groups.append(
                {
                    "id": str(uuid.UUID(int=client.index + 7)),
                    "displayName": "Managed Users",
                    "members": members,
                }
            )
        tenants.append(
            {
                "id": client.tenant_id,
                "displayName": client.name,
                "defaultDomainName": f"{client.slug}.onmicrosoft.com",
                "users": users,
                "subscribedSkus": skus,
                "groups": groups,
            }
        )
    return tenants


# --- Huntress and SentinelOne ---------------------------------------------------------------------


def huntress_data(world: World) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    organizations = [
        {"id": huntress_org(c), "name": c.name, "key": c.slug} for c in world.clients if not c.s1
    ]
    organizations.append({"id": 2999, "name": "Harbour Light Insurance Agency", "key": "harbourlight"})
    agents, incidents = [], []
    for client in world.clients:
        if client.s1:
            continue
        missing = 2 if client.index % 6 == 5 else 0  # agents never installed on two machines
        for device in client.devices[: len(client.devices) - missing]:
            agents.append(
                {
                    "id": device.id,
                    "account_id": 5,
                    "organization_id": huntress_org(client),
                    "platform": "darwin" if device.node_class == "MAC" else "windows",
                    "hostname": device.name,
                    "os": "macOS 15" if device.node_class == "MAC" else "Windows 11 Pro",
                    "version": "0.14.2",
                    "last_callback_at": _iso(world, device.offline_days),
                }
            )
        for n in range(client.index % 3):
            incidents.append(
                {
                    "id": 80_000 + client.index * 10 + n,
                    "organization_id": huntress_org(client),
                    "agent_id": client.devices[n].id,
                    "status": "sent",
                    "severity": ["low", "high", "critical"][n % 3],
                    "platform": "windows",
                    "subject": f"Suspicious PowerShell on {client.devices[n].name}",
                    "sent_at": _iso(world, n + 1),
                }
            )
    agents += [
        {
            "id": 9_900_000 + n,
            "account_id": 5,
            "organization_id": 2999,
            "platform": "windows",
            "hostname": f"HLI-PC{n}",
            "os": "Windows 11 Pro",
            "version": "0.14.2",
            "last_callback_at": _iso(world, 0),
        }
        for n in range(5)
    ]
    return organizations, agents, incidents


def sentinelone_data(world: World) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    sites = [
        {
            "id": s1_site(c),
            "name": c.name,
            "accountId": "77",
            "state": "active",
            "activeLicenses": len(c.devices),
        }
        for c in world.clients
        if c.s1
    ]
    agents = [
        {
            "id": str(1_384_215_781_000_000_000 + device.id),
            "siteId": s1_site(client),
            "siteName": client.name,
            "computerName": device.name,
            "osType": "macos" if device.node_class == "MAC" else "windows",
            "machineType": "server" if "SERVER" in device.node_class else "desktop",
            "isDecommissioned": False,
            "networkStatus": "disconnected" if device.offline_days else "connected",
            "lastActiveDate": _iso(world, device.offline_days),
            "agentVersion": "24.1.2.6",
        }
        for client in world.clients
        if client.s1
        for device in client.devices
    ]
    return sites, agents


# --- Datto SaaS Protection ------------------------------------------------------------------------


def datto_saas_data(world: World) -> tuple[list[dict[str, Any]], dict[int, list[dict[str, Any]]]]:
    domains, seats = [], {}
    for client in world.clients:
        rows = []
        mailboxes = [p for p in client.people if p.purpose in ("user", "shared")]
        extra = NEW_BACKUP_SEATS if grows_backup(client) else 0
        for n, person in enumerate(mailboxes):
            rows.append(
                {
                    "mainId": person.upn,
                    "name": person.name,
                    "seatType": "SharedMailbox" if person.purpose == "shared" else "User",
                    "seatState": "Active",
                    "billable": "1",
                    "dateAdded": _iso(world, 300 - n),
                    "remoteId": person.id,
                }
            )
        for n in range(extra):
            rows.append(
                {
                    "mainId": f"new.starter{n}@{client.domain}",
                    "name": f"New starter {n + 1}",
                    "seatType": "User",
                    "seatState": "Active",
                    "billable": "1",
                    "dateAdded": _iso(world, 10),
                    "remoteId": f"new-{client.index}-{n}",
                }
            )
        rows.append(
            {
                "mainId": f"https://{client.slug}.sharepoint.com",
                "name": "SharePoint",
                "seatType": "Site",
                "seatState": "Active",
                "billable": "",
                "dateAdded": _iso(world, 300),
                "remoteId": f"site-{client.index}",
            }
        )
        seats[saas_customer(client)] = rows
        domains.append(
            {
                "domain": client.domain,
                "saasCustomerId": saas_customer(client),
                "saasCustomerName": client.name,
                "organizationId": 145,
                "organizationName": "Morton IT",
                "seatsUsed": len(rows),
                "productType": "Office365",
                "externalSubscriptionId": f"Classic:{saas_customer(client)}",
                "retentionType": "ICR",
            }
        )
    return domains, seats


# --- Pax8 -----------------------------------------------------------------------------------------


def pax8_data(world: World) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    products = [
        {"id": str(uuid.UUID(int=0x3E55C1D0_0000_4000_8000_000000000000 + n)), "name": name}
        for n, name in enumerate(PAX8_PRODUCTS)
    ]
    by_name = {product["name"]: product["id"] for product in products}
    companies = [{"id": pax8_company(c), "name": c.name, "status": "Active"} for c in world.clients]
    subscriptions = []
    for client in world.clients:
        for n, (name, quantity) in enumerate(sorted(client.subscriptions.items())):
            price, cost = PAX8_PRODUCTS[name]
            subscriptions.append(
                {
                    "id": str(uuid.UUID(int=0x09AC6F1D_0000_4000_8000_000000000000 + client.index * 100 + n)),
                    "companyId": pax8_company(client),
                    "productId": by_name[name],
                    "productName": name,
                    "quantity": quantity,
                    "startDate": "2025-06-01T08:30:00Z",
                    "billingStart": "2025-06-01",
                    "status": "Active",
                    "price": price / 100,
                    "partnerCost": cost / 100,
                    "currencyCode": "USD",
                    "billingTerm": "Monthly",
                }
            )
    return companies, subscriptions, products


# --- eBillity -------------------------------------------------------------------------------------


def ebillity_data(world: World) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    from sandbox.world import TECHS

    employees = [
        {
            "EmployeeId": 313_598 + n,
            "FirstName": name.split()[0],
            "LastName": name.split()[1],
            "IsActive": True,
        }
        for n, name in enumerate(TECHS)
    ]
    employee_ids = {name: 313_598 + n for n, name in enumerate(TECHS)}
    clients = [{"ClientId": ebillity_client(c), "ClientName": c.name} for c in world.clients]
    entries = [
        {
            "TimeEntryId": int(hours.id[1:]),
            "ClientId": ebillity_client(client),
            "EmployeeId": employee_ids[hours.person],
            "EntryDate": hours.day.isoformat(),
            "Hours": str(hours.hours),
            "BillRate": f"{hours.rate_cents / 100:.2f}",
            "IsBillable": hours.billable,
            "IsBilled": False,
            "Description": hours.note,
            "ModifiedDate": _iso(world, (world.today - hours.day).days),
        }
        for client in world.clients
        for hours in client.hours
    ]
    return employees, clients, entries


# Clients whose contracts come from the PSA (not typed into the book), and one whose book line
# disagrees with the PSA: a conflict for a person to resolve.
PSA_CLIENTS = (20, 21, 22)
PSA_CONFLICT_CLIENT = 23
PSA_CONFLICT_EXTRA = 3  # the PSA says three more workstations than the book


def psa_company(client: WorldClient) -> int:
    return 250 + client.index


def connectwise_data(
    world: World,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[int, list[dict[str, Any]]]]:
    """Every client as a ConnectWise company; agreements for the PSA-driven clients and the conflict."""
    from sandbox.demo_book import PRODUCTS

    prices = {product.code: float(product.price) for product in PRODUCTS}
    companies = [
        {"id": psa_company(client), "identifier": client.slug, "name": client.name}
        for client in world.clients
    ]
    agreements: list[dict[str, Any]] = []
    additions: dict[int, list[dict[str, Any]]] = {}
    for client in world.clients:
        if client.index not in (*PSA_CLIENTS, PSA_CONFLICT_CLIENT):
            continue
        company = companies[client.index]
        agreement_id = 7000 + client.index
        start = min(line[1] for lines in contract_lines(client, world).values() for line in lines)
        agreements.append(
            agreement(agreement_id, company, f"{client.name} managed services", start=f"{start}T00:00:00Z")
        )
        rows = []
        for number, (code, lines) in enumerate(sorted(contract_lines(client, world).items())):
            if code not in prices:
                continue
            quantity, line_start, _ = lines[-1]
            if client.index == PSA_CONFLICT_CLIENT:
                if code != "WS":
                    continue
                quantity += PSA_CONFLICT_EXTRA
            rows.append(
                addition(
                    agreement_id * 100 + number,
                    code,
                    quantity,
                    prices[code],
                    effective=f"{line_start}T00:00:00Z",
                )
            )
        additions[agreement_id] = rows
    return companies, agreements, additions
