"""When each source stream is due, and claiming it so each due run happens exactly once.

One `source_jobs` row per configured source × stream. A worker claims due rows with
`SELECT … FOR UPDATE SKIP LOCKED` (PostgreSQL; on SQLite the BEGIN IMMEDIATE write lock serialises
claims) and stamps a lease on them; the lease, renewed while the run is in flight, is what protects the
long HTTP phase. A worker that dies stops renewing, and once its lease has expired another worker takes
the job over and marks the dead worker's run as abandoned.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from mcc.config import Config, SourceConfig
from mcc.schedules import Schedule
from store.db import transaction
from store.models import SourceJob, SyncRun

log = logging.getLogger(__name__)

BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_CAP = timedelta(hours=6)


@dataclass(frozen=True)
class Claim:
    """A job this worker holds: run `stream` of `source`, due at `due_at`."""

    job_id: int
    source: str
    stream: str
    due_at: datetime


def job_keys(config: Config) -> list[tuple[str, str]]:
    """(source, stream) for every enabled source and each stream its kind declares."""
    return [
        (source.name, stream)
        for source in config.sources
        if source.enabled
        for stream in source.collector.streams
    ]


def backoff(failures: int, schedule: Schedule, base: timedelta = BACKOFF_BASE) -> timedelta:
    """2^failures × base, never longer than the schedule's period (and never longer than 6 hours)."""
    cap = min(schedule.period, BACKOFF_CAP)
    return min(base * (1 << min(failures, 30)), cap)


def next_due(schedule: Schedule, due_at: datetime, now: datetime) -> datetime:
    """The slot after `due_at`; after downtime there is one catch-up run, not a backlog."""
    following = schedule.next_after(due_at)
    return following if following > now else schedule.next_after(now)


def _insert_ignoring_duplicates(session: Session, rows: list[dict[str, object]]) -> None:
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(
        insert(SourceJob).values(rows).on_conflict_do_nothing(index_elements=["source", "stream"])
    )


def ensure_jobs(engine: Engine, config: Config, now: datetime) -> int:
    """A job row for every enabled source stream (a new one is due now); a schedule made shorter in
    mcc.toml pulls an existing job's next run forward. Safe to run from several workers at once."""
    keys = job_keys(config)
    if not keys:
        return 0
    with transaction(engine) as session:
        _insert_ignoring_duplicates(
            session, [{"source": source, "stream": stream, "next_due_at": now} for source, stream in keys]
        )
        for job in session.scalars(select(SourceJob).where(SourceJob.lease_until.is_(None))):
            if (job.source, job.stream) not in keys:
                continue
            soonest = config.source(job.source).schedule_for(job.stream).next_after(now)
            if job.failures == 0 and job.next_due_at > soonest:
                job.next_due_at = soonest
    return len(keys)


def _configured(config: Config) -> list[str]:
    return [source.name for source in config.sources if source.enabled]


def claim_due(
    engine: Engine,
    config: Config,
    owner: str,
    now: datetime,
    *,
    limit: int,
    lease: timedelta,
    busy: Collection[str] = (),
) -> list[Claim]:
    """Take up to `limit` due jobs whose lease is free or expired; each gets a lease until now + lease.

    At most one job per source, and none of the `busy` sources (those this worker is already reading):
    a source runs one stream at a time here, so a stalled vendor holds one slot, never all of them."""
    sources = [name for name in _configured(config) if name not in set(busy)]
    if limit <= 0 or not sources:
        return []
    keys = set(job_keys(config))
    with transaction(engine) as session:
        rows = session.scalars(
            select(SourceJob)
            .where(
                SourceJob.source.in_(sources),
                SourceJob.next_due_at <= now,
                or_(SourceJob.lease_until.is_(None), SourceJob.lease_until < now),
            )
            .order_by(SourceJob.next_due_at, SourceJob.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        claims: list[Claim] = []
        for job in rows:
            if (job.source, job.stream) not in keys or any(c.source == job.source for c in claims):
                continue
            if job.lease_owner is not None:
                _abandon_runs(session, job.source, job.stream, job.lease_owner, now)
            job.lease_owner, job.lease_until, job.last_started_at = owner, now + lease, now
            claims.append(Claim(job.id, job.source, job.stream, job.next_due_at))
    return claims


def _abandon_runs(session: Session, source: str, stream: str, dead_owner: str, now: datetime) -> None:
    log.warning("%s/%s: the lease of worker %s expired; taking the job over", source, stream, dead_owner)
    session.execute(
        update(SyncRun)
        .where(
            SyncRun.source == source,
            SyncRun.stream == stream,
            SyncRun.status == "running",
            SyncRun.worker == dead_owner,
        )
        .values(
            status="failed",
            finished_at=now,
            error=f"abandoned: worker {dead_owner} stopped renewing its lease before the run finished",
        )
    )


def renew(engine: Engine, owner: str, job_ids: Iterable[int], until: datetime) -> None:
    """Extend this worker's leases on the jobs it is still running."""
    ids = list(job_ids)
    if not ids:
        return
    with transaction(engine) as session:
        session.execute(
            update(SourceJob)
            .where(SourceJob.id.in_(ids), SourceJob.lease_owner == owner)
            .values(lease_until=until)
        )


def finish(
    engine: Engine,
    claim: Claim,
    owner: str,
    schedule: Schedule,
    *,
    ok: bool,
    error: str | None,
    now: datetime,
    base: timedelta = BACKOFF_BASE,
) -> datetime | None:
    """Release the lease and schedule the next run: the next slot after success, back-off after a
    failure. Returns the next due time, or None if another worker has taken the job over meanwhile."""
    with transaction(engine) as session:
        job = session.get(SourceJob, claim.job_id, with_for_update=True)
        if job is None or job.lease_owner != owner:
            log.warning("%s/%s: lost the lease before the run finished", claim.source, claim.stream)
            return None
        job.lease_owner, job.lease_until, job.last_finished_at = None, None, now
        job.runs += 1
        job.last_status, job.last_error = ("ok", None) if ok else ("failed", (error or "")[:2000])
        if ok:
            job.failures, job.last_success_at = 0, now
            job.next_due_at = next_due(schedule, claim.due_at, now)
        else:
            job.failures += 1
            job.next_due_at = now + backoff(job.failures, schedule, base)
        return job.next_due_at


def release(engine: Engine, owner: str, job_ids: Iterable[int]) -> None:
    """Give jobs back unrun (shutdown): they stay due, for this or another worker."""
    ids = list(job_ids)
    if not ids:
        return
    with transaction(engine) as session:
        session.execute(
            update(SourceJob)
            .where(SourceJob.id.in_(ids), SourceJob.lease_owner == owner)
            .values(lease_owner=None, lease_until=None)
        )


def note_unscheduled_run(
    engine: Engine, source: SourceConfig, stream: str, *, ok: bool, error: str | None, now: datetime
) -> None:
    """A run outside the schedule (`mcc sync`, Refresh now) counts as fresh data: a successful one moves
    the job's next run a full period on, unless a worker holds the job right now."""
    with transaction(engine) as session:
        job = session.scalar(
            select(SourceJob).where(SourceJob.source == source.name, SourceJob.stream == stream)
        )
        if job is None or (job.lease_until is not None and job.lease_until >= now):
            return
        job.last_finished_at = now
        job.last_status, job.last_error = ("ok", None) if ok else ("failed", (error or "")[:2000])
        if ok:
            job.failures, job.last_success_at = 0, now
            job.next_due_at = source.schedule_for(stream).next_after(now)
