"""The background worker against NinjaOne fakes over real sockets: schedules, back-off for a failing
vendor while the others keep running, --once, and entity first/last-seen."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select

from collectors import jobs
from collectors.http import HttpPolicy
from collectors.sync import sync_stream
from collectors.worker import Worker, WorkerOptions
from mcc.schedules import parse_schedule
from store.db import reading
from store.models import Entity, SourceJob, SourceOrg, SyncRun
from tests import test_worker_support as support
from tests.test_worker_support import Running, ninja_world, set_credentials, source_toml, wait_for

fake = support.fake

FAST = HttpPolicy(
    timeout=2.0, connect_timeout=1.0, retries=1, backoff_factor=0.01, max_wait=0.2, total_wait=1.0
)


def _job(engine: Engine, source: str, stream: str = "devices") -> SourceJob:
    with reading(engine) as session:
        job = session.scalars(
            select(SourceJob).where(SourceJob.source == source, SourceJob.stream == stream)
        ).one()
        session.expunge(job)
        return job


def _attr(engine: Engine, source: str, name: str) -> object:
    """A job's column, or None before the worker has created the job."""
    with reading(engine) as session:
        job = session.scalars(select(SourceJob).where(SourceJob.source == source)).first()
        return None if job is None else getattr(job, name)


def _runs(engine: Engine, source: str) -> list[SyncRun]:
    with reading(engine) as session:
        runs = list(session.scalars(select(SyncRun).where(SyncRun.source == source).order_by(SyncRun.id)))
        session.expunge_all()
        return runs


def _devices(engine: Engine, source: str) -> int:
    with reading(engine) as session:
        return session.scalar(select(func.count()).select_from(Entity).where(Entity.source == source)) or 0


def test_backoff_doubles_and_is_capped_by_the_period_and_six_hours() -> None:
    every_two_minutes = parse_schedule("every 2 minutes")
    base = timedelta(seconds=10)
    assert [jobs.backoff(n, every_two_minutes, base).total_seconds() for n in range(1, 6)] == [
        20,
        40,
        80,
        120,
        120,
    ]
    nightly = parse_schedule("nightly")
    assert jobs.backoff(20, nightly, base) == timedelta(hours=6)
    assert jobs.backoff(3, nightly, base) == timedelta(seconds=80)


def test_next_due_keeps_the_grid_and_never_builds_a_backlog() -> None:
    half_hourly = parse_schedule("every 30 minutes")
    due = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
    assert jobs.next_due(half_hourly, due, due + timedelta(minutes=3)) == due + timedelta(minutes=30)
    # the worker was down for five hours: one catch-up run now, then every 30 minutes from now
    late = due + timedelta(hours=5)
    assert jobs.next_due(half_hourly, due, late) == late + timedelta(minutes=30)
    nightly = parse_schedule("daily at 02:00")
    assert jobs.next_due(
        nightly, datetime(2026, 3, 1, 2, 0, tzinfo=UTC), datetime(2026, 3, 1, 2, 4, tzinfo=UTC)
    ) == (datetime(2026, 3, 2, 2, 0, tzinfo=UTC))


def test_a_failing_vendor_backs_off_while_the_others_keep_running(
    write_config, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("mcc.schedules.MIN_INTERVAL", timedelta(seconds=1))  # a fast worker test
    good, bad = ninja_world(), ninja_world([(7, "Cedar Dental")], devices_per_org=4)
    good_url, bad_url = good.start(), bad.start()
    try:
        config = write_config(
            source_toml("good", good_url, "every 1 second") + source_toml("bad", bad_url, "every 1 second")
        )
        set_credentials(monkeypatch, "good", "bad")
        base = timedelta(milliseconds=200)
        options = WorkerOptions(threads=2, tick=0.05, backoff_base=base, policy=FAST)
        with Running(Worker(engine, config, options=options)):
            wait_for(lambda: _attr(engine, "bad", "last_status") == "ok", what="a first good run of 'bad'")
            assert _devices(engine, "bad") == 4
            bad.faults.add(path="/v2/devices", status=503, times=-1)
            wait_for(lambda: _job(engine, "bad").failures >= 3, what="three failed runs of 'bad'")
            good_runs = _job(engine, "good").runs
            wait_for(lambda: _job(engine, "good").runs >= good_runs + 2, what="'good' to keep running")
        failing = _job(engine, "bad")
        assert failing.last_status == "failed" and "503" in (failing.last_error or "")
        assert failing.lease_owner is None and failing.lease_until is None
        assert failing.last_finished_at is not None
        schedule = config.source("bad").schedule_for("devices")
        assert failing.next_due_at == failing.last_finished_at + jobs.backoff(
            failing.failures, schedule, base
        )
        # the failed runs wrote only their sync-run rows: the last good devices are still there
        assert _devices(engine, "bad") == 4
        statuses = [run.status for run in _runs(engine, "bad")]
        assert statuses[0] == "ok" and statuses.count("failed") >= 3 and "running" not in statuses
        assert all(run.trigger == "schedule" for run in _runs(engine, "good"))
        # once the vendor is back, the next run succeeds and the failure count resets
        bad.faults.clear()
        with Running(Worker(engine, config, options=options)):
            wait_for(lambda: _attr(engine, "bad", "last_status") == "ok", what="'bad' to recover")
        assert _job(engine, "bad").failures == 0
    finally:
        good.stop()
        bad.stop()


def test_once_runs_what_is_due_then_exits(
    write_config, engine: Engine, monkeypatch: pytest.MonkeyPatch, fake
) -> None:
    config = write_config(source_toml("ninja", fake.url) + source_toml("nightly", fake.url, "nightly"))
    set_credentials(monkeypatch, "ninja", "nightly")
    summary = Worker(engine, config, options=WorkerOptions(tick=0.05, policy=FAST)).run(once=True)
    assert (summary.runs, summary.failures) == (2, 0)
    now = datetime.now(UTC)
    for name in ("ninja", "nightly"):
        job = _job(engine, name)
        assert job.runs == 1 and job.last_status == "ok" and job.next_due_at > now
        assert [run.status for run in _runs(engine, name)] == ["ok"]
    assert _job(engine, "ninja").next_due_at <= now + timedelta(minutes=30)  # ninjaone default
    # nothing is due now, so a second pass runs nothing
    assert Worker(engine, config, options=WorkerOptions(tick=0.05)).run(once=True).runs == 0


def test_disabled_sources_get_no_job(
    write_config, engine: Engine, monkeypatch: pytest.MonkeyPatch, fake
) -> None:
    config = write_config(
        source_toml("ninja", fake.url) + source_toml("off", fake.url, extra="enabled = false")
    )
    set_credentials(monkeypatch, "ninja", "off")
    Worker(engine, config, options=WorkerOptions(tick=0.05, policy=FAST)).run(once=True)
    assert _runs(engine, "off") == []
    with reading(engine) as session:
        assert {(j.source, j.stream) for j in session.scalars(select(SourceJob))} == {("ninja", "devices")}


def test_entities_and_orgs_keep_first_seen_and_advance_last_seen(
    write_config, engine: Engine, monkeypatch: pytest.MonkeyPatch, fake
) -> None:
    config = write_config(source_toml("ninja", fake.url))
    set_credentials(monkeypatch, "ninja")
    assert sync_stream(engine, config.source("ninja"), "devices", policy=FAST).ok

    def seen() -> dict[str, tuple[datetime, datetime]]:
        with reading(engine) as session:
            rows = {
                f"device {e.external_id}": (e.first_seen, e.last_seen)
                for e in session.scalars(select(Entity))
            }
            rows |= {
                f"org {o.external_id}": (o.first_seen, o.last_seen)
                for o in session.scalars(select(SourceOrg))
            }
            return rows

    first = seen()
    assert len(first) == 8  # 6 devices, 2 orgs
    assert sync_stream(engine, config.source("ninja"), "devices", policy=FAST).ok
    second = seen()
    assert second.keys() == first.keys()
    for key, (first_seen, last_seen) in second.items():
        assert first_seen == first[key][0], key
        assert last_seen > first[key][1], key


def test_every_kind_gets_one_job_per_stream_on_its_own_schedule(write_config, engine: Engine) -> None:
    from collectors.registry import SOURCE_KINDS

    rest = '[sources.rest]\npath = "/x"\nauth = { type = "bearer" }\npaginator = { type = "single" }\norg = "o"\nmetrics = [{ name = "things" }]\n'
    body = "".join(
        f'[[sources]]\nname = "k{n}"\nkind = "{kind}"\n'
        + {"rest": rest, "csv": '[sources.csv]\nfolder = "in"\nmetrics = ["seats"]\n'}.get(kind, "")
        for n, kind in enumerate(sorted(SOURCE_KINDS))
    )
    config = write_config(body)
    now = datetime.now(UTC)
    assert jobs.ensure_jobs(engine, config, now) == sum(len(kind.streams) for kind in SOURCE_KINDS.values())
    with reading(engine) as session:
        created = {(job.source, job.stream): job.next_due_at for job in session.scalars(select(SourceJob))}
    for source in config.sources:
        for stream, declared in source.collector.streams.items():
            assert created[(source.name, stream)] == now  # a new job is due at once
            assert source.schedule_for(stream) == parse_schedule(declared.default_schedule)
