"""Refresh now: the queue, its roles and audit, and a running worker answering a request within seconds."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, select, update

from collectors import refresh
from collectors.http import HttpPolicy
from collectors.worker import Worker, WorkerOptions
from mcc.errors import PermissionDenied
from mcc.permissions import Actor
from store.db import reading, transaction
from store.models import AuditEvent, RefreshRequest, SourceJob
from store.types import utcnow
from tests import test_worker_support as support
from tests.test_worker_support import Running, ninja_world, set_credentials, source_toml, wait_for

fake = support.fake
FAST = HttpPolicy(
    timeout=2.0, connect_timeout=1.0, retries=1, backoff_factor=0.01, max_wait=0.2, total_wait=1.0
)
APPROVER = Actor("alice", frozenset({"approver"}))


def test_only_approvers_and_admins_may_ask_and_each_request_is_audited(
    write_config, engine: Engine, fake
) -> None:
    config = write_config(source_toml("ninja", fake.url))
    with pytest.raises(PermissionDenied, match="approver"):
        refresh.request_refresh(engine, Actor("victor", frozenset({"viewer"})), "ninja", config=config)
    with pytest.raises(refresh.RefreshError, match="no source named 'nope'"):
        refresh.request_refresh(engine, APPROVER, "nope", config=config)
    request = refresh.request_refresh(engine, APPROVER, "ninja", config=config)
    status = refresh.refresh_status(engine, request.id)
    assert (status.status, status.source, status.requested_by, status.runs) == (
        "queued",
        "ninja",
        "alice",
        (),
    )
    with reading(engine) as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.action == "refresh.request")).all()
        assert [(e.actor, e.entity_id, e.payload) for e in events] == [
            ("alice", str(request.id), '{"source":"ninja"}')
        ]
    with pytest.raises(refresh.RefreshError, match="no refresh request #999"):
        refresh.refresh_status(engine, 999)


def test_a_running_worker_answers_a_request_within_seconds(
    write_config, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    good, down = ninja_world(), ninja_world([(9, "Delta Dental")])
    good.start(), down.start()
    try:
        config = write_config(
            source_toml("ninja", good.url, "nightly") + source_toml("down", down.url, "nightly")
        )
        set_credentials(monkeypatch, "ninja", "down")
        options = WorkerOptions(threads=2, tick=0.05, policy=FAST)
        # the scheduled runs happen first; after them nothing is due until tomorrow night
        Worker(engine, config, options=options).run(once=True)
        served = len(good.requests)
        with Running(Worker(engine, config, options=options)):
            one = refresh.request_refresh(engine, APPROVER, "ninja", config=config)
            status = wait_for(lambda: _finished(engine, one.id), timeout=10, what="the refresh of 'ninja'")
            assert status.status == "done" and status.records == 8 and status.message is None
            assert [(r.source, r.stream, r.status, r.records) for r in status.runs] == [
                ("ninja", "devices", "ok", 8)
            ]
            assert status.started_at is not None and status.finished_at is not None
            assert len(good.requests) > served
            down.faults.add(path="/v2/devices", status=503, times=-1)
            every = refresh.request_refresh(engine, APPROVER, None, config=config)
            status = wait_for(
                lambda: _finished(engine, every.id), timeout=10, what="the refresh of every source"
            )
        assert (
            status.status == "failed" and "down/devices" in (status.message or "") and "503" in status.message
        )
        assert status.records == 8  # what the healthy source read still counts
        assert sorted((r.source, r.status) for r in status.runs) == [("down", "failed"), ("ninja", "ok")]
        with reading(engine) as session:
            job = session.scalars(select(SourceJob).where(SourceJob.source == "ninja")).one()
            assert job.next_due_at > utcnow() + timedelta(
                hours=1
            )  # a manual run does not pull the schedule in
            assert job.lease_owner is None
    finally:
        good.stop()
        down.stop()


def _finished(engine: Engine, request_id: int) -> refresh.RefreshStatus | None:
    status = refresh.refresh_status(engine, request_id)
    return status if status.finished else None


def test_a_dead_workers_request_is_taken_over_after_its_lease(write_config, engine: Engine, fake) -> None:
    write_config(source_toml("ninja", fake.url))
    request = refresh.request_refresh(engine, APPROVER, "ninja")
    now = utcnow()
    assert refresh.claim_request(engine, "dead-worker", now, timedelta(seconds=5)) == (request.id, "ninja")
    assert refresh.claim_request(engine, "other", now + timedelta(seconds=1), timedelta(seconds=5)) is None
    assert refresh.claim_request(engine, "other", now + timedelta(seconds=6), timedelta(seconds=5)) == (
        request.id,
        "ninja",
    )
    # the dead worker, were it to come back, can no longer finish what it lost
    refresh.finish_request(engine, request.id, "dead-worker", records=1, errors=[])
    assert refresh.refresh_status(engine, request.id).status == "running"
    refresh.finish_request(engine, request.id, "other", records=8, errors=[])
    assert refresh.refresh_status(engine, request.id).status == "done"


def test_a_request_for_a_source_no_longer_configured_fails_clearly(
    write_config, engine: Engine, monkeypatch: pytest.MonkeyPatch, fake
) -> None:
    config = write_config(source_toml("ninja", fake.url, "nightly"))
    set_credentials(monkeypatch, "ninja")
    with transaction(engine) as session:
        session.add(RefreshRequest(source="gone", requested_by="alice"))
    Worker(engine, config, options=WorkerOptions(tick=0.05, policy=FAST)).run(once=True)
    with reading(engine) as session:
        request = session.scalars(select(RefreshRequest)).one()
        assert request.status == "failed" and "no source named 'gone'" in (request.message or "")
        session.execute(update(RefreshRequest).values(status="failed"))
