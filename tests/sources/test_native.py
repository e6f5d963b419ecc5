"""The native time source: valid in mcc.toml, syncs without any network, and never touches timer entries."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import select

from collectors.sync import sync_source
from mcc.permissions import Actor
from mcc.timer import add_time_entry
from store.db import reading, transaction
from store.models import Client, TimeEntry
from tests.sources.harness import VENDORS


def test_native_is_not_in_the_vendor_battery() -> None:
    assert "native" not in VENDORS


def test_native_source_syncs_nothing_and_keeps_timer_entries(write_config, engine) -> None:
    config = write_config('[[sources]]\nname = "native"\nkind = "native"\n')
    assert config.source("native").schedule_for("time").text == "every 15 minutes"
    with transaction(engine) as session:
        client = Client(name="Acme Dental")
        session.add(client)
        session.flush()
        client_id = client.id
    actor = Actor("bea", frozenset({"approver"}))
    add_time_entry(engine, actor, client_id, date(2026, 3, 2), "Bea", Decimal("2"), None, True, "setup")
    [result] = sync_source(engine, config, "native")
    assert result.ok and result.records == 0 and result.pages == 0
    with reading(engine) as session:
        rows = session.scalars(select(TimeEntry)).all()
        assert [(row.source, row.client_id, row.hours) for row in rows] == [
            ("native", client_id, Decimal("2.00"))
        ]
