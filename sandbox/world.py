"""The demo world: ~40 MSP clients with devices, users, mailboxes, agents, backup seats, subscriptions and
hours, with planted drift (growth nobody billed, an over-billed client, shared mailboxes, unmapped orgs).

The world is generated once from a seed; the vendor fakes serve it in each vendor's wire format and the
demo book bills it, so the reconciliation finds exactly what was planted.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from reconcile.periods import add_months

NAMES = [
    "Acme Dental",
    "Birch Legal",
    "Cedar Valley Veterinary",
    "Dunmore Logistics",
    "Elm Street Pediatrics",
    "Fairview Accounting",
    "Granite Peak Construction",
    "Harbor Light Insurance",
    "Ironwood Manufacturing",
    "Juniper Family Law",
    "Keystone Realty",
    "Lakeside Orthodontics",
    "Maple & Co Architects",
    "Northgate Clinic",
    "Oakridge Credit Union",
    "Pinecrest Senior Living",
    "Quarry Hill Engineering",
    "Riverside Chiropractic",
    "Summit Wealth Advisors",
    "Tidewater Marine Supply",
    "Union Square Bakery",
    "Valley Forge Dental Lab",
    "Westbrook Middle School PTA",
    "Yellowstone Outfitters",
    "Zephyr Travel",
    "Alder Creek Winery",
    "Blue Heron Physical Therapy",
    "Copperline Electric",
    "Driftwood Property Management",
    "Evergreen Hospice",
    "Foxglove Floral Design",
    "Goldfinch Media",
    "Hawthorne Optometry",
    "Indigo Yoga Studios",
    "Jasper County Title",
    "Kestrel Aviation Services",
    "Larkspur Nonprofit Alliance",
    "Meridian Staffing",
    "Nightingale Home Care",
    "Orchard Park Library Friends",
]
UNMAPPED = ["Acme Dental Group - Lab", "Harbour Light Insurance Agency", "Test Org (do not bill)"]
FIRST = [
    "Ana",
    "Ben",
    "Carla",
    "Dev",
    "Ella",
    "Finn",
    "Gia",
    "Hugo",
    "Iris",
    "Jon",
    "Kira",
    "Liam",
    "Maya",
    "Noah",
    "Omar",
    "Pia",
    "Quinn",
    "Rosa",
    "Sam",
    "Tara",
    "Uma",
    "Vic",
    "Will",
    "Xena",
    "Yuri",
    "Zoe",
]
LAST = [
    "Adams",
    "Brooks",
    "Chen",
    "Diaz",
    "Evans",
    "Fischer",
    "Garcia",
    "Hughes",
    "Ito",
    "Jones",
    "Khan",
    "Lopez",
    "Miller",
    "Nguyen",
    "Olsen",
    "Patel",
    "Quinn",
    "Reyes",
    "Smith",
    "Turner",
    "Ueda",
    "Vance",
    "Wong",
    "Young",
]
SHARED = [
    "info",
    "billing",
    "reception",
    "accounts",
    "frontdesk",
    "scans",
    "support",
    "hr",
    "orders",
    "careers",
]
TECHS = ["Alex Rivera", "Jordan Kim", "Priya Shah", "Marcus Bell"]


@dataclass
class Person:
    id: str
    name: str
    upn: str
    purpose: str  # user | shared | room | equipment
    enabled: bool
    skus: list[str]
    in_group: bool


@dataclass
class Device:
    id: int
    name: str
    node_class: str
    offline_days: int
    created_days_ago: int


@dataclass
class Hours:
    id: str
    day: date
    person: str
    hours: Decimal
    rate_cents: int
    billable: bool
    note: str


@dataclass
class WorldClient:
    index: int
    name: str
    accounting_id: str
    tenant_id: str
    devices: list[Device] = field(default_factory=list)
    people: list[Person] = field(default_factory=list)
    backup_seats: int = 0
    subscriptions: dict[str, int] = field(default_factory=dict)  # Pax8 product name -> quantity
    hours: list[Hours] = field(default_factory=list)
    growth_months: int = 0  # how many months back unbilled growth started (0 = none)
    over_billed: bool = False
    uses_group: bool = False
    s1: bool = False  # SentinelOne instead of Huntress

    @property
    def ninja_org(self) -> int:
        return 100 + self.index

    @property
    def slug(self) -> str:
        return "".join(ch for ch in self.name.lower() if ch.isalnum())[:16]

    @property
    def domain(self) -> str:
        return f"{self.slug}.com"


@dataclass
class World:
    today: date
    clients: list[WorldClient]
    unmapped: list[WorldClient]


PAX8_PRODUCTS = {  # name -> (our price, vendor cost) in cents
    "Microsoft 365 Business Premium": (2600, 2200),
    "Exchange Online (Plan 1)": (500, 400),
    "Microsoft Defender for Business": (400, 300),
    "Acronis Cyber Protect Cloud": (800, 950),  # priced below cost: a negative-margin line to catch
}


def _person(rng: random.Random, client: WorldClient, n: int, purpose: str) -> Person:
    if purpose == "user":
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        local = name.lower().replace(" ", ".") + (str(n) if n > 30 else "")
    elif purpose == "shared":
        local = SHARED[n % len(SHARED)] + ("" if n < len(SHARED) else str(n))
        name = local.capitalize()
    else:
        local = f"{purpose}{n + 1}"
        name = f"{'Conference Room' if purpose == 'room' else 'Projector'} {n + 1}"
    enabled = purpose == "user"
    skus = ["SPB"] if purpose == "user" else []
    return Person(
        str(uuid.UUID(int=rng.getrandbits(128))),
        name,
        f"{local}@{client.domain}",
        purpose,
        enabled,
        skus,
        purpose == "user",
    )


def generate(today: date, seed: int = 7, clients: int = 40) -> World:
    rng = random.Random(seed)
    world_clients: list[WorldClient] = []
    for index, name in enumerate((NAMES * (clients // len(NAMES) + 1))[:clients]):
        label = name if index < len(NAMES) else f"{name} {index // len(NAMES) + 1}"
        client = WorldClient(index, label, str(1000 + index), str(uuid.UUID(int=rng.getrandbits(128))))
        staff = rng.randint(6, 60)
        if index == 0:
            staff = 690  # Acme Dental: the big client, 712 devices against 680 contracted
        workstations = staff + rng.randint(0, 4)
        macs = rng.randint(0, max(1, staff // 10))
        servers = rng.randint(1, 4) if staff > 10 else rng.randint(0, 1)
        if index == 0:
            workstations, macs, servers = 700, 12, 6
        classes = ["WINDOWS_WORKSTATION"] * workstations + ["MAC"] * macs + ["WINDOWS_SERVER"] * servers
        for n, node_class in enumerate(classes):
            offline = rng.choice([0] * 30 + [3, 45, 90]) if node_class != "WINDOWS_SERVER" else 0
            client.devices.append(
                Device(
                    client.ninja_org * 10_000 + n,
                    f"{client.slug[:6].upper()}-{'SRV' if 'SERVER' in node_class else 'PC'}{n:03d}",
                    node_class,
                    offline,
                    rng.randint(30, 900),
                )
            )
        users = 40 if index == 1 else min(staff, 80)
        shared = 7 if index == 1 else rng.randint(1, 6)
        client.people = [_person(rng, client, n, "user") for n in range(users)]
        client.people += [_person(rng, client, n, "shared") for n in range(shared)]
        client.people += [_person(rng, client, n, "room") for n in range(rng.randint(0, 2))]
        for person in client.people[:users]:
            if index != 1 and rng.random() < 0.05:
                person.enabled = False  # left the company, licence still assigned
        if index == 1:  # Birch Legal: 47 licensed accounts against 40 contracted, 7 of them shared mailboxes
            for person in client.people:
                if person.purpose == "shared":
                    person.skus = ["EXCHANGESTANDARD"]  # licensed for archiving: counted unless excluded
        client.backup_seats = users + shared
        client.subscriptions = {
            "Microsoft 365 Business Premium": users,
            "Exchange Online (Plan 1)": shared,
        }
        if index % 3 == 0:
            client.subscriptions["Microsoft Defender for Business"] = users
        if index % 7 == 2:
            client.subscriptions["Acronis Cyber Protect Cloud"] = max(1, servers)
        client.growth_months = (
            0 if index % 5 == 3 or index == 1 else (5 if index in (0, 2) else rng.randint(1, 8))
        )
        client.over_billed = index in (4, 11)
        client.uses_group = index in (6, 13)
        client.s1 = index % 4 == 3
        for n in range(rng.randint(2, 9)):
            day = today - timedelta(days=rng.randint(0, 50))
            client.hours.append(
                Hours(
                    f"T{index:03d}{n:03d}",
                    day,
                    rng.choice(TECHS),
                    Decimal(rng.choice(["0.25", "0.5", "1", "1.5", "2", "3.75"])),
                    rng.choice([12500, 15000]),
                    rng.random() > 0.15,
                    rng.choice(
                        [
                            "Printer driver fix",
                            "New starter laptop setup",
                            "Firewall rule change",
                            "Onsite: network cabling",
                            "Restore deleted files",
                            "Quarterly business review prep",
                            "Email migration",
                        ]
                    ),
                )
            )
        world_clients.append(client)
    unmapped = [
        WorldClient(900 + n, name, "", str(uuid.UUID(int=rng.getrandbits(128))))
        for n, name in enumerate(UNMAPPED)
    ]
    for client in unmapped:
        client.devices = [
            Device(client.ninja_org * 10_000 + n, f"UNM-PC{n:02d}", "WINDOWS_WORKSTATION", 0, 20)
            for n in range(rng.randint(3, 9))
        ]
    return World(today, world_clients, unmapped)


# --- NinjaOne wire format -------------------------------------------------------------------------


def ninja_organizations(world: World) -> list[dict[str, object]]:
    return [
        {"id": c.ninja_org, "name": c.name, "nodeApprovalMode": "AUTOMATIC"}
        for c in (*world.clients, *world.unmapped)
    ]


def ninja_devices(world: World) -> list[dict[str, object]]:
    from datetime import UTC, datetime

    now = datetime.combine(world.today, datetime.min.time(), UTC).timestamp()
    rows: list[dict[str, object]] = []
    for client in (*world.clients, *world.unmapped):
        for device in client.devices:
            rows.append(
                {
                    "id": device.id,
                    "uid": str(uuid.UUID(int=device.id)),
                    "organizationId": client.ninja_org,
                    "locationId": client.ninja_org * 10,
                    "nodeClass": device.node_class,
                    "approvalStatus": "APPROVED",
                    "offline": device.offline_days > 0,
                    "systemName": device.name,
                    "dnsName": device.name.lower(),
                    "created": now - device.created_days_ago * 86400,
                    "lastContact": now - device.offline_days * 86400 - 300,
                }
            )
    return rows


# --- planted drift ---------------------------------------------------------------------------------


def month_start(day: date, months_back: int) -> date:
    return add_months(day.replace(day=1), -months_back)


def workstation_growth(client: WorldClient) -> int:
    """Workstations added since growth started, never billed."""
    if client.index == 0:
        return 62  # Acme Dental: 650 → 712
    if not client.growth_months:
        return 0
    workstations = sum(1 for d in client.devices if d.node_class == "WINDOWS_WORKSTATION")
    return max(1, round(workstations * (0.03 + 0.01 * (client.index % 7))))


def growth_present(client: WorldClient, months_back: int) -> int:
    """How many of the grown workstations existed `months_back` months before the current month."""
    total = workstation_growth(client)
    if client.index == 0:
        return {0: 62, 1: 50, 2: 37, 3: 25, 4: 12}.get(months_back, 0)
    if months_back >= client.growth_months:
        return 0
    return round(total * (client.growth_months - months_back) / client.growth_months)


def contract_lines(client: WorldClient, world: World) -> dict[str, list[tuple[int, date, date | None]]]:
    """What each client is billed for: product code -> [(quantity, start, end)]."""
    start = month_start(world.today, 12)
    workstations = sum(1 for d in client.devices if d.node_class in ("WINDOWS_WORKSTATION", "MAC"))
    servers = sum(1 for d in client.devices if d.node_class == "WINDOWS_SERVER")
    licensed = sum(1 for p in client.people if p.skus)
    lines: dict[str, list[tuple[int, date, date | None]]] = {}
    baseline = workstations - workstation_growth(client)
    if client.index == 0:
        change = month_start(world.today, 3)
        lines["WS"] = [(650, start, change - timedelta(days=1)), (680, change, None)]
    elif client.over_billed:
        lines["WS"] = [(workstations + 3, start, None)]
    else:
        lines["WS"] = [(baseline, start, None)]
    if servers:
        lines["SRV"] = [(servers, start, None)]
    lines["USER"] = [(licensed if client.index != 1 else 40, start, None)]
    agents = len(client.devices) - (2 if client.index % 6 == 5 and not client.s1 else 0)  # see world_vendors
    growth = 0 if client.over_billed else workstation_growth(client)  # EDR missed the same new machines
    lines["EDR" if not client.s1 else "S1"] = [(agents - growth, start, None)]
    lines["BKP"] = [(client.backup_seats, start, None)]
    for product, quantity in client.subscriptions.items():
        code = PAX8_CODES[product]
        lines[code] = [(quantity + (1 if client.over_billed else 0), start, None)]
    if client.uses_group:
        lines["SAT"] = [(sum(1 for p in client.people if p.in_group) - 2, start, None)]
    return lines


PAX8_CODES = {
    "Microsoft 365 Business Premium": "M365BP",
    "Exchange Online (Plan 1)": "EXO1",
    "Microsoft Defender for Business": "MDB",
    "Acronis Cyber Protect Cloud": "ACR",
}
