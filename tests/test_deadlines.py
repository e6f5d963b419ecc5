"""Vendors that stall: a trickling answer is cut at the request deadline, a run at its run deadline
(both configurable per source), and a stalled source never takes the worker's threads from the others."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from sqlalchemy import Engine, select

from collectors.http import HttpPolicy
from collectors.sync import sync_source
from collectors.worker import Worker, WorkerOptions
from store.db import reading
from store.models import SourceJob, SyncRun
from tests.test_worker_support import Running, ninja_world, set_credentials, source_toml, wait_for

# Reads time out after 2 s; the fakes below send a byte every 0.3 s, so only a deadline can end them.
FAST = HttpPolicy(
    timeout=2.0, connect_timeout=1.0, retries=1, backoff_factor=0.01, max_wait=0.2, total_wait=1.0
)


def _errors(engine: Engine, source: str) -> list[str]:
    with reading(engine) as session:
        return [
            run.error or ""
            for run in session.scalars(select(SyncRun).where(SyncRun.source == source).order_by(SyncRun.id))
        ]


def test_a_trickling_answer_fails_at_the_request_deadline_from_mcc_toml(
    write_config, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = ninja_world()
    url = fake.start()
    try:
        fake.faults.add(path="/v2/devices", trickle=0.3, times=-1)
        config = write_config(source_toml("slow", url, extra="request_deadline_seconds = 1"))
        set_credentials(monkeypatch, "slow")
        results = sync_source(engine, config, "slow", policy=FAST)
    finally:
        fake.stop()
    assert not results[0].ok
    assert "request_deadline_seconds" in (results[0].error or "")
    assert "took longer than 1 s in all" in (results[0].error or "")
    assert "/v2/devices" in (results[0].error or "")


def test_a_run_past_its_deadline_fails_with_a_clear_error(
    write_config, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = ninja_world()
    url = fake.start()
    try:
        fake.faults.add(path="/v2/devices", trickle=0.3, times=-1)
        config = write_config(source_toml("slow", url, extra="run_deadline_seconds = 1.5"))
        set_credentials(monkeypatch, "slow")
        results = sync_source(engine, config, "slow", policy=dataclasses.replace(FAST, request_deadline=600))
    finally:
        fake.stop()
    assert not results[0].ok
    assert "the run took longer than its deadline of 1.5 s (run_deadline_seconds)" in (results[0].error or "")
    with reading(engine) as session:
        run = session.scalars(select(SyncRun)).one()
        assert run.status == "failed" and run.finished_at is not None


def test_stalled_sources_never_starve_a_healthy_one(
    write_config, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Four trickling sources and one healthy every-second source on a worker asked for two threads:
    the healthy one keeps running while the stalled ones are still stuck in their first run."""
    monkeypatch.setattr("mcc.schedules.MIN_INTERVAL", timedelta(seconds=1))  # a fast worker test
    stalled = [ninja_world() for _ in range(4)]
    healthy = ninja_world()
    urls = [world.start() for world in stalled]
    healthy_url = healthy.start()
    names = [f"stall{n}" for n in range(4)]
    try:
        for world in stalled:
            world.faults.add(path="/v2/devices", trickle=0.3, times=-1)
        toml = "".join(
            source_toml(name, url, "every 1 second") for name, url in zip(names, urls, strict=True)
        )
        config = write_config(toml + source_toml("healthy", healthy_url, "every 1 second"))
        set_credentials(monkeypatch, *names, "healthy")
        policy = dataclasses.replace(FAST, request_deadline=600, run_deadline=600)
        options = WorkerOptions(threads=2, tick=0.05, grace=0.5, policy=policy)
        worker = Worker(engine, config, options=options)
        with Running(worker):

            def healthy_runs() -> int:
                with reading(engine) as session:
                    job = session.scalars(select(SourceJob).where(SourceJob.source == "healthy")).first()
                    return 0 if job is None else job.runs

            wait_for(lambda: healthy_runs() >= 3, timeout=30, what="three runs of the healthy source")
            with reading(engine) as session:
                stuck = session.scalars(
                    select(SyncRun.source).where(SyncRun.status == "running", SyncRun.source.in_(names))
                ).all()
            assert sorted(stuck) == names  # each stalled source holds one run (one thread), no more
    finally:
        for world in [*stalled, healthy]:
            world.stop()
