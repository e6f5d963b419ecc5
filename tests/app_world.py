"""A book with history for app tests and the UI benchmark: N clients on NinjaOne + Huntress, 13 months
of monthly counts with planted drift, entities for the current month, sync runs and unbilled time."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import Engine, insert, select

from mcc.config import Config
from mcc.permissions import Actor
from reconcile.periods import add_months, month_end
from store.book import import_file
from store.counts import attrs_json
from store.db import transaction
from store.models import Client, CountKey, Entity, MonthlyCount, SourceOrg, SyncRun, TimeEntry

SOURCES_TOML = """
[[sources]]
name = "ninja"
kind = "ninjaone"
base_url = "http://127.0.0.1:9"

[[sources]]
name = "huntress"
kind = "huntress"
base_url = "http://127.0.0.1:9"
"""

SETUP = Actor("setup", frozenset({"admin"}))
WS_WHERE = {"node_class": "WINDOWS_WORKSTATION"}


def client_name(index: int) -> str:
    return f"Client {index:04d} Dental" if index % 3 == 0 else f"Client {index:04d} Law"


def book_text(clients: int, start: date) -> str:
    lines = [
        'currency = "USD"',
        "[[products]]",
        'code = "WS"',
        'name = "Managed workstation"',
        'unit_price = "45.00"',
        'unit_cost = "4.10"',
        "[[products]]",
        'code = "EDR"',
        'name = "Managed EDR agent"',
        'unit_price = "6.50"',
        "[[mappings]]",
        'product = "WS"',
        'source = "ninja"',
        'metric = "devices"',
        'where = { node_class = ["WINDOWS_WORKSTATION"] }',
        "[[mappings]]",
        'product = "EDR"',
        'source = "huntress"',
        'metric = "agents"',
    ]
    for index in range(1, clients + 1):
        name = client_name(index)
        lines += [
            "[[clients]]",
            f'name = "{name}"',
            f'accounting_id = "{100 + index}"',
            f'orgs = {{ ninja = "n{index}", huntress = "h{index}" }}',
            "[[contracts]]",
            f'client = "{name}"',
            'product = "WS"',
            f"quantity = {10 + index % 40}",
            f'start = "{start.isoformat()}"',
            "[[contracts]]",
            f'client = "{name}"',
            'product = "EDR"',
            f"quantity = {10 + index % 40}",
            f'start = "{start.isoformat()}"',
        ]
    return "\n".join(lines) + "\n"


def seed_world(engine: Engine, config: Config, clients: int = 6, today: date | None = None) -> date:
    """Seed the book and 13 months of counts ending in today's month; returns the current period's first day."""
    today = today or datetime.now(UTC).date()
    current = today.replace(day=1)
    first = add_months(current, -12)
    import_file(engine, config, book_text(clients, first).encode(), SETUP, name="book.toml")
    now = datetime.now(UTC)
    with transaction(engine) as session:
        ids = {name: id_ for name, id_ in session.execute(select(Client.name, Client.id))}
        keys, months, entities, orgs, times = [], [], [], [], []
        key_id = 0
        for index in range(1, clients + 1):
            contracted = 10 + index % 40
            for source, org, metric, attrs in (
                ("ninja", f"n{index}", "devices", WS_WHERE),
                ("huntress", f"h{index}", "agents", {}),
            ):
                key_id += 1
                keys.append(
                    {
                        "id": key_id,
                        "source": source,
                        "org_external_id": org,
                        "metric": metric,
                        "attrs_json": attrs_json(attrs.items()),
                    }
                )
                orgs.append(
                    {
                        "source": source,
                        "external_id": org,
                        "name": client_name(index),
                        "first_seen": now - timedelta(days=400),
                        "last_seen": now,
                    }
                )
                # every other client grows by one unit a month from month 6 on: the planted leak
                for step in range(13):
                    month = add_months(first, step)
                    drift = max(0, step - 5) if index % 2 == 1 else 0
                    quantity = contracted + drift
                    last = month_end(month) if month < current else today
                    months.append(
                        {
                            "key_id": key_id,
                            "month": month,
                            "qty_end": quantity,
                            "qty_peak": quantity,
                            "qty_day_sum": quantity * last.day,
                            "days": last.day,
                            "first_day": month,
                            "last_day": last,
                            "cost_cents": None,
                        }
                    )
                if index <= 20:
                    final = contracted + (7 if index % 2 == 1 else 0)
                    for number in range(final):
                        entities.append(
                            {
                                "source": source,
                                "metric": metric,
                                "external_id": f"{org}-{number}",
                                "org_external_id": org,
                                "key_id": key_id,
                                "name": f"{'WS' if metric == 'devices' else 'AGENT'}-{index:04d}-{number:03d}",
                                "attrs": {**attrs, "user_purpose": "shared"} if number == 0 else dict(attrs),
                                "first_seen": now - timedelta(days=30 * (13 - min(number, 12))),
                                "last_seen": now,
                            }
                        )
            if index % 2 == 0:
                for number in range(3):
                    times.append(
                        {
                            "source": "native",
                            "external_id": f"t{index}-{number}",
                            "client_id": ids[client_name(index)],
                            "day": today - timedelta(days=number + 1),
                            "person": "Sam Tech",
                            "hours": Decimal("1.50"),
                            "rate_cents": 15000,
                            "billable": True,
                            "note": f"On-site visit {number + 1}",
                            "created_at": now,
                        }
                    )
        session.execute(insert(CountKey), keys)
        session.execute(insert(MonthlyCount), months)
        session.execute(insert(SourceOrg), orgs)
        session.execute(
            insert(SourceOrg),
            [
                {
                    "source": "ninja",
                    "external_id": "n-new",
                    "name": "Client 0001 Dental Annex",
                    "first_seen": now,
                    "last_seen": now,
                }
            ],
        )
        if entities:
            session.execute(insert(Entity), entities)
        if times:
            session.execute(insert(TimeEntry), times)
        for source, stream, status, error in (
            ("ninja", "devices", "ok", None),
            ("huntress", "agents", "ok", None),
            ("huntress", "incidents", "failed", "HTTP 401 from huntress: check MCC_HUNTRESS_API_KEY"),
        ):
            session.add(
                SyncRun(
                    source=source,
                    stream=stream,
                    trigger="schedule",
                    status=status,
                    started_at=now - timedelta(minutes=3),
                    finished_at=now - timedelta(minutes=2),
                    pages=2,
                    records=clients * 20,
                    orgs=clients,
                    error=error,
                )
            )
    return current
