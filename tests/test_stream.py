"""A run stages its entities under its run id in bounded batches and applies them in one transaction at
the end: a run failing after several batches leaves the store exactly as it was, and a run read in
many batches leaves the same store as the one-transaction writer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, func, select

from collectors.http import HttpPolicy
from collectors.records import Batch
from collectors.sync import run_policy, sync_stream
from mcc.config import SourceConfig
from store.counts import write_batch
from store.db import make_engine, reading, transaction
from store.migrate import upgrade
from store.models import (
    CountKey,
    DailyCount,
    Entity,
    MonthlyCount,
    Observation,
    SourceOrg,
    StagedEntity,
    SyncRun,
)
from store.types import utcnow
from tests.test_worker_support import ninja_world, set_credentials, source_toml

STORE = (SourceOrg, CountKey, Observation, DailyCount, MonthlyCount, Entity)
WHEN = {"first_seen", "last_seen", "observed_at", "sync_run_id"}  # differ between two runs by design


def _store(engine: Engine, skip: frozenset[str] = frozenset()) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table a sync writes to, ordered by id."""
    with reading(engine) as session:
        return {
            model.__tablename__: [
                {c.key: getattr(row, c.key) for c in model.__mapper__.column_attrs if c.key not in skip}
                for row in session.scalars(select(model).order_by(*model.__table__.primary_key.columns))
            ]
            for model in STORE
        }


def _staged(engine: Engine) -> int:
    with reading(engine) as session:
        return session.scalar(select(func.count()).select_from(StagedEntity)) or 0


def _stagings(engine: Engine) -> list[int]:
    """A list that grows by one for every batch of entities staged on `engine`."""
    seen: list[int] = []

    @event.listens_for(engine, "before_cursor_execute")
    def count(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("INSERT INTO STAGED_ENTITIES"):
            seen.append(1)

    return seen


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_engine(request: pytest.FixtureRequest, engine: Engine) -> Iterator[Engine]:
    if request.param == "sqlite":
        yield engine
        return
    other = make_engine(request.getfixturevalue("postgres_url"))
    yield other
    other.dispose()


@pytest.fixture
def world(write_config, monkeypatch: pytest.MonkeyPatch):
    fake = ninja_world(orgs=[(1, "Acme Dental"), (2, "Birch Legal"), (3, "Cedar Clinic")], devices_per_org=4)
    url = fake.start()
    set_credentials(monkeypatch, "ninja")

    def source(extra: str = "") -> SourceConfig:
        return write_config(source_toml("ninja", url, extra=extra)).source("ninja")

    yield fake, source
    fake.stop()


def test_a_run_failing_after_several_batches_leaves_the_store_as_it_was(store_engine: Engine, world) -> None:
    fake, source = world
    first = sync_stream(store_engine, source(), "devices", stage_every=2)
    assert first.ok, first.error
    before = _store(store_engine)
    assert len(before["entities"]) == 12 and before["observations"]
    # the world changes (devices move, new ones arrive), then the next run stops past its item cap
    for device in fake.devices[:6]:
        device["organizationId"] = 3
    fake.devices += [dict(fake.devices[0], id=9000 + n, systemName=f"NEW-{n}") for n in range(6)]
    stagings = _stagings(store_engine)
    failed = sync_stream(store_engine, source("max_items_per_run = 14"), "devices", stage_every=2)
    assert not failed.ok and failed.error is not None
    assert len(stagings) >= 3, "several batches were staged before the run failed"
    assert _store(store_engine) == before
    assert _staged(store_engine) == 0
    with reading(store_engine) as session:
        assert session.get_one(SyncRun, failed.run_id).status == "failed"


def test_a_run_read_in_many_batches_gives_the_store_the_one_transaction_writer_gives(
    engine: Engine, world, tmp_path: Path
) -> None:
    fake, source = world
    url = f"sqlite:///{tmp_path}/whole.db"
    upgrade(url)
    whole = make_engine(url)
    try:
        for change in range(3):
            if change == 1:  # a device moves org, one changes class, one leaves, two arrive
                fake.devices[0]["organizationId"] = 2
                fake.devices[1]["nodeClass"] = "WINDOWS_SERVER"
                del fake.devices[5]
                fake.devices += [dict(fake.devices[2], id=9000 + n, systemName=f"NEW-{n}") for n in range(2)]
            stagings = _stagings(engine)
            result = sync_stream(engine, source(), "devices", stage_every=3)
            assert result.ok, result.error
            assert len(stagings) >= 4
            _write_whole(whole, source())
        assert _store(engine, skip=frozenset(WHEN)) == _store(whole, skip=frozenset(WHEN))
        assert _staged(engine) == 0
    finally:
        whole.dispose()


def _write_whole(engine: Engine, source_config: SourceConfig) -> None:
    """What a run wrote before staging: every record held in one Batch, written in one transaction."""
    collector = source_config.collector(
        source_config, source_config.secrets(), run_policy(HttpPolicy(), source_config)
    )
    api = collector.open_api()
    batch = Batch()
    try:
        for record in collector.collect(api, "devices"):
            batch.add(record)
    finally:
        api.close()
    with transaction(engine) as session:
        write_batch(
            session,
            source=source_config.name,
            metrics=collector.streams["devices"].metrics,
            batch=batch,
            at=utcnow(),
            run_id=None,
        )


def test_rows_staged_by_an_abandoned_run_are_cleared_by_the_next_run(engine: Engine, world) -> None:
    _fake, source = world
    with transaction(engine) as session:
        abandoned = SyncRun(source="ninja", stream="devices", trigger="cli", status="failed", worker="gone:1")
        session.add(abandoned)
        session.flush()
        session.add(
            StagedEntity(
                run_id=abandoned.id,
                metric="devices",
                external_id="ghost",
                org_external_id="1",
                key_attrs_json="{}",
                name="ghost",
                attrs={},
            )
        )
    result = sync_stream(engine, source(), "devices", stage_every=2)
    assert result.ok, result.error
    assert _staged(engine) == 0
    with reading(engine) as session:
        assert session.scalar(select(Entity).where(Entity.external_id == "ghost")) is None
