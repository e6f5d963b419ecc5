"""Refresh now: a queue of requests (one source or all) the worker polls every two seconds.

A request goes queued → running → done | failed, carries the number of records read, and links the
sync runs it caused (sync_runs.refresh_request_id). A worker holds a running request under a lease, so
a request whose worker died is taken over once the lease has expired.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, or_, select, update

from mcc.config import Config
from mcc.errors import MccError
from mcc.permissions import Actor, require
from store.audit import record_event
from store.db import reading, transaction
from store.models import RefreshRequest, SyncRun
from store.types import utcnow

FINISHED = ("done", "failed")


class RefreshError(MccError):
    """A refresh request that does not exist or names an unknown source."""


@dataclass(frozen=True)
class RunInfo:
    source: str
    stream: str
    status: str
    records: int
    pages: int
    error: str | None


@dataclass(frozen=True)
class RefreshStatus:
    id: int
    source: str | None  # None = every source
    status: str  # queued | running | done | failed
    requested_by: str
    requested_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    records: int
    message: str | None
    runs: tuple[RunInfo, ...]

    @property
    def finished(self) -> bool:
        return self.status in FINISHED


def request_refresh(
    engine: Engine, actor: Actor, source: str | None = None, *, config: Config | None = None
) -> RefreshRequest:
    """Queue a refresh of one source (or all when `source` is None); approvers and admins may."""
    require(actor, "approver", "refresh sources")
    if source is not None and config is not None and source not in config.source_names:
        known = ", ".join(config.source_names) or "none configured"
        raise RefreshError(f"no source named {source!r} to refresh (sources: {known})")
    with transaction(engine) as session:
        request = RefreshRequest(source=source, requested_by=actor.username, status="queued")
        session.add(request)
        session.flush()
        record_event(
            session,
            actor=actor.username,
            action="refresh.request",
            entity="refresh_request",
            entity_id=request.id,
            payload={"source": source or "*"},
        )
        return request


def refresh_status(engine: Engine, request_id: int) -> RefreshStatus:
    with reading(engine) as session:
        request = session.get(RefreshRequest, request_id)
        if request is None:
            raise RefreshError(f"no refresh request #{request_id}")
        runs = session.scalars(
            select(SyncRun).where(SyncRun.refresh_request_id == request_id).order_by(SyncRun.id)
        ).all()
        return RefreshStatus(
            id=request.id,
            source=request.source,
            status=request.status,
            requested_by=request.requested_by,
            requested_at=request.requested_at,
            started_at=request.started_at,
            finished_at=request.finished_at,
            records=request.records,
            message=request.message,
            runs=tuple(RunInfo(r.source, r.stream, r.status, r.records, r.pages, r.error) for r in runs),
        )


# --- the worker's side ---------------------------------------------------------------------------


def claim_request(
    engine: Engine, owner: str, now: datetime, lease: timedelta
) -> tuple[int, str | None] | None:
    """The oldest queued request (or a running one whose worker's lease expired), now held by `owner`."""
    with transaction(engine) as session:
        request = session.scalar(
            select(RefreshRequest)
            .where(
                or_(
                    RefreshRequest.status == "queued",
                    (RefreshRequest.status == "running") & (RefreshRequest.lease_until < now),
                )
            )
            .order_by(RefreshRequest.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        if request is None:
            return None
        request.status, request.started_at = "running", now
        request.lease_owner, request.lease_until = owner, now + lease
        return request.id, request.source


def renew_requests(engine: Engine, owner: str, request_ids: list[int], until: datetime) -> None:
    if not request_ids:
        return
    with transaction(engine) as session:
        session.execute(
            update(RefreshRequest)
            .where(RefreshRequest.id.in_(request_ids), RefreshRequest.lease_owner == owner)
            .values(lease_until=until)
        )


def finish_request(engine: Engine, request_id: int, owner: str, *, records: int, errors: list[str]) -> None:
    with transaction(engine) as session:
        request = session.get(RefreshRequest, request_id, with_for_update=True)
        if request is None or request.lease_owner != owner:
            return
        request.status = "failed" if errors else "done"
        request.records, request.finished_at = records, utcnow()
        request.message = "; ".join(errors)[:2000] if errors else None
        request.lease_owner, request.lease_until = None, None


def requeue_request(engine: Engine, request_id: int, owner: str) -> None:
    """Shutdown before the request finished: it goes back to the queue for the next worker."""
    with transaction(engine) as session:
        session.execute(
            update(RefreshRequest)
            .where(RefreshRequest.id == request_id, RefreshRequest.lease_owner == owner)
            .values(status="queued", lease_owner=None, lease_until=None, started_at=None)
        )
