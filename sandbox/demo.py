"""`mcc demo`: a realistic demo book on a local vendor sandbox, 12 months of history, users, and the
worker and app running against it."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, delete, insert, select
from sqlalchemy.orm import Session

from collectors.sync import SyncResult, sync_source
from mcc.config import Config, env_var, load_config
from mcc.permissions import Actor
from sandbox.connectwise import ConnectWiseFake
from sandbox.datto_saas import DattoSaasFake
from sandbox.demo_book import PRODUCTS, book_toml
from sandbox.ebillity import EbillityFake
from sandbox.huntress import HuntressFake
from sandbox.m365 import GraphFake
from sandbox.ninjaone import NinjaOneFake
from sandbox.pax8 import Pax8Fake
from sandbox.quickbooks import QuickBooksFake
from sandbox.quickbooks_desktop import DesktopCompany
from sandbox.sentinelone import SentinelOneFake
from sandbox.server import Fake
from sandbox.world import (
    World,
    WorldClient,
    generate,
    growth_present,
    month_start,
    ninja_devices,
    ninja_organizations,
)
from sandbox.world_vendors import (
    NEW_BACKUP_SEATS,
    PSA_CLIENTS,
    connectwise_data,
    datto_saas_data,
    ebillity_client,
    ebillity_data,
    graph_tenants,
    grows_backup,
    huntress_data,
    huntress_org,
    pax8_company,
    pax8_data,
    psa_company,
    s1_site,
    saas_customer,
    sentinelone_data,
)
from store.counts import history_rows
from store.db import make_engine, transaction
from store.migrate import upgrade
from store.models import Client, CountKey, DailyCount, Entity, MonthlyCount, SyncRun

DEMO_USERS = {  # username -> (name, roles); passwords are printed when the demo starts
    "admin": ("Morgan Admin", ("admin",)),
    "billing": ("Bailey Billing", ("approver", "invoicer")),
    "approver": ("Avery Approver", ("approver",)),
    "viewer": ("Vic Viewer", ("viewer",)),
}
DEMO_PASSWORD = "morton-demo-2026"
DEMO_ADMIN = "admin"


@dataclass
class VendorSandbox:
    """One vendor fake in the sandbox, and how MCC is configured to read it."""

    name: str
    kind: str
    fake: Fake
    env: dict[str, str]
    org_id: Callable[[WorldClient], str]
    extra: dict[str, str] = field(default_factory=dict)  # more mcc.toml keys; "{url}" is the fake's URL

    def toml(self) -> str:
        lines = [
            "[[sources]]",
            f'name = "{self.name}"',
            f'kind = "{self.kind}"',
            f'base_url = "{self.fake.url}"',
        ]
        lines += [f"{key} = {value.replace('{url}', self.fake.url)}" for key, value in self.extra.items()]
        return "\n".join(lines)


def build_vendors(world: World) -> list[VendorSandbox]:
    """Every vendor the demo reads, serving the world in its own wire format."""
    organizations, agents, incidents = huntress_data(world)
    sites, s1_agents = sentinelone_data(world)
    domains, seats = datto_saas_data(world)
    companies, subscriptions, products = pax8_data(world)
    employees, time_clients, entries = ebillity_data(world)
    psa_companies, psa_agreements, psa_additions = connectwise_data(world)
    return [
        VendorSandbox(
            "ninja",
            "ninjaone",
            NinjaOneFake(
                ninja_organizations(world), ninja_devices(world), "demo-ninja-id", "demo-ninja-secret"
            ),
            {"CLIENT_ID": "demo-ninja-id", "CLIENT_SECRET": "demo-ninja-secret"},
            lambda client: str(client.ninja_org),
            {"auth_url": '"{url}"'},
        ),
        VendorSandbox(
            "m365",
            "m365",
            GraphFake(graph_tenants(world), "demo-graph-id", "demo-graph-secret"),
            {"CLIENT_ID": "demo-graph-id", "CLIENT_SECRET": "demo-graph-secret"},
            lambda client: client.tenant_id,
            {
                "auth_url": '"{url}"',
                "tenants": "[" + ", ".join(f'"{c.tenant_id}"' for c in world.clients) + "]",
                "group": '"Managed Users"',
            },
        ),
        VendorSandbox(
            "huntress",
            "huntress",
            HuntressFake(
                organizations,
                agents,
                incidents,
                "demo-huntress-key",
                "demo-huntress-secret",
                requests_per_minute=600,
            ),
            {"API_KEY": "demo-huntress-key", "API_SECRET": "demo-huntress-secret"},
            lambda client: str(huntress_org(client)),
            {"rate_limit_per_minute": "600"},
        ),
        VendorSandbox(
            "s1",
            "sentinelone",
            SentinelOneFake(sites, s1_agents, "demo-s1-token"),
            {"API_KEY": "demo-s1-token"},
            s1_site,
        ),
        VendorSandbox(
            "saas",
            "datto_saas",
            DattoSaasFake(domains, seats, "demo-datto-public", "demo-datto-secret"),
            {"API_KEY": "demo-datto-public", "API_SECRET": "demo-datto-secret"},
            lambda client: str(saas_customer(client)),
        ),
        VendorSandbox(
            "pax8",
            "pax8",
            Pax8Fake(companies, subscriptions, products, "demo-pax8-id", "demo-pax8-secret"),
            {"CLIENT_ID": "demo-pax8-id", "CLIENT_SECRET": "demo-pax8-secret"},
            pax8_company,
            {"auth_url": '"{url}"'},
        ),
        VendorSandbox(
            "time",
            "ebillity",
            EbillityFake(employees, time_clients, entries, "demo-ebillity-token"),
            {"API_KEY": "demo-ebillity-token"},
            lambda client: str(ebillity_client(client)),
        ),
        VendorSandbox(
            "psa",
            "connectwise",
            ConnectWiseFake(
                psa_companies,
                psa_agreements,
                psa_additions,
                company="demomsp",
                public_key="demo-cw-public",
                private_key="demo-cw-private",
                client_id="demo-cw-client-id",
            ),
            {
                "COMPANY": "demomsp",
                "PUBLIC_KEY": "demo-cw-public",
                "PRIVATE_KEY": "demo-cw-private",
                "CLIENT_ID": "demo-cw-client-id",
            },
            lambda client: str(psa_company(client)),
        ),
    ]


def start_vendors(vendors: list[VendorSandbox], port_base: int) -> None:
    for offset, vendor in enumerate(vendors):
        vendor.fake.start(port=port_base + offset if port_base else 0)


def demo_env(vendors: list[VendorSandbox]) -> dict[str, str]:
    return {env_var(vendor.name, key): value for vendor in vendors for key, value in vendor.env.items()}


def write_demo_config(
    path: Path, database_url: str, vendors: list[VendorSandbox], accounting: str = ""
) -> Path:
    header = [
        "# The demo: every source reads the local vendor sandbox started by `mcc demo`.",
        'currency = "USD"',
        f'database_url = "{database_url}"',
        "back_bill_months = 12",
        "",
    ]
    body = "\n\n".join(vendor.toml() for vendor in vendors)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "\n".join(header) + body + "\n" + (("\n" + accounting + "\n") if accounting else ""), encoding="utf-8"
    )
    return path


# --- seeding --------------------------------------------------------------------------------------


def _client_by_org(world: World, vendors: list[VendorSandbox]) -> dict[tuple[str, str], WorldClient]:
    return {(vendor.name, vendor.org_id(client)): client for vendor in vendors for client in world.clients}


GROWTH_KEYS = {  # (source, attributes) of the series where unbilled workstation growth shows
    ("ninja", (("node_class", "WINDOWS_WORKSTATION"),)),
    ("huntress", (("platform", "windows"),)),
    ("s1", (("machine_type", "desktop"), ("os_type", "windows"))),
}
BACKUP_KEY = ("saas", (("billable", "true"), ("seat_type", "User")))


def planted_delta(key: CountKey, client: WorldClient, today: date, day: date) -> int:
    """How many units of today's count did not exist yet on `day` (planted drift)."""
    attrs = tuple(sorted(json.loads(key.attrs_json).items()))
    if (key.source, attrs) in GROWTH_KEYS:
        months_back = (today.year * 12 + today.month) - (day.year * 12 + day.month)
        return growth_present(client, 0) - growth_present(client, months_back)
    if (key.source, attrs) == BACKUP_KEY and grows_backup(client) and day < today - timedelta(days=10):
        return NEW_BACKUP_SEATS
    return 0


def backfill_history(engine: Engine, world: World, vendors: list[VendorSandbox]) -> int:
    """Replace each key's rollups with a year of history ending at today's synced count; growth nobody
    billed is taken out of the past for the clients where it was planted."""
    clients = _client_by_org(world, vendors)
    today = world.today
    first = month_start(today, 12)
    days = [first + timedelta(days=n) for n in range((today - first).days + 1)]
    rows = 0
    with transaction(engine) as session:
        keys = list(session.scalars(select(CountKey)))
        today_rows = {
            row.key_id: row for row in session.scalars(select(DailyCount).where(DailyCount.day == today))
        }
        session.execute(delete(MonthlyCount))
        session.execute(delete(DailyCount))
        daily: list[dict[str, Any]] = []
        monthly: list[dict[str, Any]] = []
        for key in keys:
            now_row = today_rows.get(key.id)
            if now_row is None:
                continue
            client = clients.get((key.source, key.org_external_id))
            unit_cost = (
                (now_row.cost_cents // now_row.qty_end) if now_row.cost_cents and now_row.qty_end else None
            )
            series = []
            for day in days:
                quantity = now_row.qty_end
                if client is not None:
                    quantity -= planted_delta(key, client, today, day)
                quantity = max(0, quantity)
                series.append((day, quantity, None if unit_cost is None else unit_cost * quantity))
            key_daily, key_monthly = history_rows(key.id, series)
            daily += key_daily
            monthly += key_monthly
        for start in range(0, len(daily), 20_000):
            session.execute(insert(DailyCount), daily[start : start + 20_000])
        session.execute(insert(MonthlyCount), monthly)
        rows = len(daily)
        _backdate_entities(session, world, clients)
    return rows


def _backdate_entities(session: Session, world: World, clients: dict[tuple[str, str], WorldClient]) -> None:
    """Entities get the first-seen date they would have had: grown workstations (and their security
    agents) in the month they appeared, new backup seats ten days ago, the rest when created."""
    today = world.today
    created: dict[str, int] = {}
    grown: dict[str, date] = {}
    for client in world.clients:
        workstations = sorted(
            (d for d in client.devices if d.node_class == "WINDOWS_WORKSTATION"), key=lambda d: d.id
        )
        total = growth_present(client, 0)
        newest = {
            d.id: rank for rank, d in enumerate(workstations[len(workstations) - total :] if total else [])
        }
        for device in client.devices:
            ids = (str(device.id), str(1_384_215_781_000_000_000 + device.id))  # RMM device, EDR agent
            for external_id in ids:
                created[external_id] = device.created_days_ago
                if device.id in newest:
                    rank = newest[device.id]
                    months_back = max(m for m in range(0, 13) if growth_present(client, m) > rank)
                    grown[external_id] = month_start(today, months_back) + timedelta(days=rank % 20)
        if grows_backup(client):
            for n in range(NEW_BACKUP_SEATS):
                grown[f"{saas_customer(client)}/new-{client.index}-{n}"] = today - timedelta(days=10)
    for entity in session.scalars(select(Entity)):
        seen = grown.get(entity.external_id) or today - timedelta(
            days=min(created.get(entity.external_id, 400), 400)
        )
        entity.first_seen = datetime.combine(min(seen, today), time(9, 0), UTC)


def seed(
    config: Config, world: World, vendors: list[VendorSandbox], report: Callable[[str], None] = print
) -> list[SyncResult]:
    from mcc import users
    from store.book import import_book

    upgrade(config.database_url)
    engine = make_engine(config.database_url)
    # The demo admin is the first user; everything the demo sets up is recorded as done by them.
    admin = users.add_first_admin(
        engine,
        DEMO_ADMIN,
        name=DEMO_USERS[DEMO_ADMIN][0],
        password=DEMO_PASSWORD,
        roles=DEMO_USERS[DEMO_ADMIN][1],
        email=f"{DEMO_ADMIN}@example.com",
    )
    actor = admin.actor()
    for username, (name, roles) in DEMO_USERS.items():
        if username != DEMO_ADMIN:
            users.add_user(
                engine,
                actor,
                username,
                name=name,
                password=DEMO_PASSWORD,
                roles=roles,
                email=f"{username}@example.com",
            )
    org_ids = {vendor.name: vendor.org_id for vendor in vendors}
    psa_clients = PSA_CLIENTS if any(vendor.kind == "connectwise" for vendor in vendors) else ()
    summary = import_book(
        engine,
        config,
        book_toml(world, org_ids.keys(), org_ids, psa_clients=psa_clients).encode(),
        actor,
        name="demo-book.toml",
    )
    counts = ", ".join(
        f"{value} {key.replace('_', ' ')}"
        for key, value in summary.as_dict().items()
        if isinstance(value, int) and value
    )
    report(f"imported the demo book: {counts}")
    results: list[SyncResult] = []
    for vendor in vendors:
        synced = sync_source(engine, config, vendor.name, trigger="demo")
        results += synced
        report(
            f"synced {vendor.name}: "
            + ", ".join(f"{r.stream} {'ok' if r.ok else r.error} ({r.records} records)" for r in synced)
        )
    for vendor in vendors:
        if vendor.kind == "connectwise":
            from mcc import psa_contracts

            applied = psa_contracts.apply(engine, config, vendor.name, actor, today=world.today)
            report(
                f"applied contracts from {vendor.name}: {len(applied.of_kind('added'))} lines; "
                f"{len(applied.of_kind('conflict'))} conflict with the book left on Billing config"
            )
    rows = backfill_history(engine, world, vendors)
    report(f"wrote {rows:,} daily counts of history")
    _native_time(engine, world, actor)
    stale = make_stale(engine, vendors, STALE_SOURCE)
    if stale:
        report(f"{STALE_SOURCE} is down and its data is {STALE_DAYS} days old (a stale source to spot)")
    engine.dispose()
    return results


STALE_SOURCE, STALE_DAYS = "s1", 3


def make_stale(engine: Engine, vendors: list[VendorSandbox], name: str) -> bool:
    """One vendor is down: its last good run is days old and its fake now answers 503 to everything."""
    vendor = next((v for v in vendors if v.name == name), None)
    if vendor is None:
        return False
    shift = timedelta(days=STALE_DAYS)
    with transaction(engine) as session:
        for run in session.scalars(select(SyncRun).where(SyncRun.source == name)):
            run.started_at -= shift
            if run.finished_at is not None:
                run.finished_at -= shift
        for entity in session.scalars(select(Entity).where(Entity.source == name)):
            entity.last_seen -= shift
    vendor.fake.faults.add(
        path="/", status=503, times=-1, body={"errors": [{"code": 5030000, "title": "Service Unavailable"}]}
    )
    return True


def _native_time(engine: Engine, world: World, actor: Actor) -> None:
    """A few entries typed into MCC's own timer (onsite visits not tracked in eBillity)."""
    from mcc.timer import add_time_entry

    with transaction(engine) as session:
        ids = {name: client_id for name, client_id in session.execute(select(Client.name, Client.id))}
    for n, client in enumerate(world.clients[:3]):
        add_time_entry(
            engine,
            actor,
            ids[client.name],
            world.today - timedelta(days=n + 1),
            "Jordan Kim",
            Decimal("2.5") if n else Decimal("1.25"),
            15000,
            True,
            "Onsite: replace failed switch" if n else "After-hours server patching",
        )


def start_quickbooks(world: World, port: int) -> tuple[QuickBooksFake, str, dict[str, str]]:
    """The sandbox QuickBooks Online company the demo pushes invoices to: the demo clients as customers,
    one item per product code."""
    fake = QuickBooksFake()
    fake.seed(
        {client.accounting_id: client.name for client in world.clients}, [p.code for p in PRODUCTS] + ["TIME"]
    )
    url = fake.start(port=port)
    toml = "\n".join(
        [
            "[accounting]",
            'kind = "quickbooks"',
            f'base_url = "{url}"',
            f'auth_url = "{url}"',
            f'realm_id = "{fake.realm_id}"',
        ]
    )
    env = {
        "MCC_QUICKBOOKS_CLIENT_ID": fake.client_id,
        "MCC_QUICKBOOKS_CLIENT_SECRET": fake.client_secret,
        "MCC_QUICKBOOKS_REFRESH_TOKEN": fake.latest_refresh_token,
    }
    return fake, toml, env


DESKTOP_USERNAME = "mcc-demo"


def desktop_company(world: World) -> DesktopCompany:
    """The fake QuickBooks Desktop company for `mcc demo --accounting qbd`: each demo client is a customer
    whose full name is its accounting id, one item per product code."""
    customers = {
        f"{0x80000001 + index:X}-1767225600": c.accounting_id for index, c in enumerate(world.clients)
    }
    return DesktopCompany(customers=customers, items=[p.code for p in PRODUCTS] + ["TIME"])


def desktop_accounting() -> tuple[str, dict[str, str]]:
    """mcc.toml and environment for invoices written through the Web Connector (`mcc qbwc serve`)."""
    toml = '[accounting]\nkind = "qbd"\n'
    env = {"MCC_QBD_USERNAME": DESKTOP_USERNAME, "MCC_QBD_PASSWORD": secrets.token_urlsafe(24)}
    return toml, env


@dataclass
class Demo:
    config: Config
    world: World
    vendors: list[VendorSandbox]
    quickbooks: QuickBooksFake
    env: dict[str, str]

    def stop(self) -> None:
        for vendor in self.vendors:
            vendor.fake.stop()
        self.quickbooks.stop()


def prepare(
    directory: Path, port_base: int = 8701, today: date | None = None, accounting_kind: str = "quickbooks"
) -> Demo:
    """Start the sandbox and write a fresh demo database and mcc.toml under `directory`; the credentials
    the sandbox expects are put in this process's environment (and returned for child processes)."""
    world = generate(today or date.today())
    vendors = build_vendors(world)
    start_vendors(vendors, port_base)
    quickbooks, accounting, accounting_env = start_quickbooks(
        world, port_base + len(vendors) if port_base else 0
    )
    if accounting_kind == "qbd":
        accounting, accounting_env = desktop_accounting()
    database = directory / "mcc.db"
    for suffix in ("", "-wal", "-shm", ".audit-head", ".audit-head.lock"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    path = write_demo_config(directory / "mcc.toml", f"sqlite:///{database.resolve()}", vendors, accounting)
    env = {
        **demo_env(vendors),
        **accounting_env,
        "MCC_SECRET_KEY": secrets.token_urlsafe(48),
        # keys the audit chain (store/audit.py); its signed head is written next to the database
        "MCC_AUDIT_KEY": secrets.token_urlsafe(48),
        "MCC_DEMO": "1",
    }
    os.environ.update(env)
    return Demo(load_config(path), world, vendors, quickbooks, env)
