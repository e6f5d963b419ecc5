"""Running one source: read it in bounded batches, staging the entities under the run as it goes, then
apply the run (and its state) in one transaction at the end. A failed or malformed run writes only its
sync-run row with the error (its staged rows are deleted); the last good counts stay as they were."""

from __future__ import annotations

import dataclasses
import logging
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine, delete, select

from collectors.base import Source
from collectors.http import HttpPolicy, RunBudget, redact
from collectors.records import Batch
from mcc.config import Config, SourceConfig
from mcc.errors import MccError
from store.counts import drop_staged, stage_entities, staged_totals, write_staged
from store.coverage import uncovered
from store.db import transaction
from store.drops import DEFAULT_DROP_SHARE, find_drops, find_line_drops, previous_agrees
from store.models import StagedEntity, SyncRun
from store.psa import replace_agreement_lines
from store.types import utcnow

log = logging.getLogger(__name__)

STAGE_EVERY = 5000  # entities held in memory before they are staged under the run

Progress = Callable[[str, int, int], None]  # (stream, records so far, pages so far)
WORKER_ID = f"{socket.gethostname()}:{__import__('os').getpid()}"


@dataclass(frozen=True)
class SyncResult:
    source: str
    stream: str
    run_id: int
    ok: bool
    records: int
    pages: int
    orgs: int
    seconds: float
    error: str | None = None
    suspicious: bool = False  # counts collapsed; the last good ones were kept (store/drops.py)
    notices: tuple[str, ...] = ()
    uncovered: tuple[dict[str, object], ...] = ()  # {metric, attr, value, quantity} no mapping counts


def _start(engine: Engine, source: str, stream: str, trigger: str, request_id: int | None) -> int:
    with transaction(engine) as session:
        # a run abandoned mid-way (its process gone) never switched over: its staged rows go now
        ended = select(SyncRun.id).where(
            SyncRun.source == source, SyncRun.stream == stream, SyncRun.status != "running"
        )
        session.execute(delete(StagedEntity).where(StagedEntity.run_id.in_(ended)))
        run = SyncRun(
            source=source,
            stream=stream,
            trigger=trigger,
            status="running",
            worker=WORKER_ID,
            refresh_request_id=request_id,
        )
        session.add(run)
        session.flush()
        return run.id


def _stage(engine: Engine, run_id: int, batch: Batch) -> int:
    """Move the entities read so far out of memory, under the run: applied only at its switch-over."""
    if not batch.entities:
        return 0
    with transaction(engine) as session:
        staged = stage_entities(session, run_id, batch.entities.values())
    batch.entities.clear()
    return staged


def _fail(engine: Engine, run_id: int, message: str, pages: int) -> None:
    with transaction(engine) as session:
        drop_staged(session, run_id)  # a failed run applies none of what it read
        run = session.get_one(SyncRun, run_id)
        run.status, run.error, run.pages, run.finished_at = "failed", message[:2000], pages, utcnow()


def run_policy(policy: HttpPolicy, source_config: SourceConfig) -> HttpPolicy:
    """The policy for one run: the source's own deadlines and caps where mcc.toml sets them, and a
    fresh budget (deadline clock, page counter) shared by every client the run opens."""
    policy = dataclasses.replace(
        policy,
        request_deadline=source_config.request_deadline_seconds or policy.request_deadline,
        run_deadline=source_config.run_deadline_seconds or policy.run_deadline,
        max_pages=source_config.max_pages_per_run or policy.max_pages,
        max_items=source_config.max_items_per_run or policy.max_items,
    )
    budget = RunBudget(
        source_config.name,
        deadline=policy.run_deadline,
        max_pages=policy.max_pages,
        max_items=policy.max_items,
    )
    return dataclasses.replace(policy, run=budget)


def sync_stream(
    engine: Engine,
    source_config: SourceConfig,
    stream: str,
    *,
    trigger: str = "cli",
    policy: HttpPolicy = HttpPolicy(),
    progress: Progress | None = None,
    request_id: int | None = None,
    stage_every: int = STAGE_EVERY,
) -> SyncResult:
    """One run of one stream. Entities are staged under the run every `stage_every` read, so memory
    stays bounded; the run's counts, entities and rollups are applied together in one transaction at the
    end, or (failed, suspicious) not at all."""
    name = source_config.name
    run_id = _start(engine, name, stream, trigger, request_id)
    started = time.monotonic()
    batch, pages, staged = Batch(), 0, 0
    api = None
    policy = run_policy(policy, source_config)
    budget = policy.run
    assert budget is not None
    try:
        collector: Source = source_config.collector(source_config, source_config.secrets(), policy)
        metrics = collector.streams[stream].metrics
        api = collector.open_api()
        # every record read counts, repeats included: a vendor repeating itself still stops
        for read, record in enumerate(collector.collect(api, stream), start=1):
            batch.add(record)
            budget.check_items(read)
            if read % 1000 == 0:
                budget.check_time()
            if len(batch.entities) >= stage_every:
                staged += _stage(engine, run_id, batch)
            if progress is not None and (staged + batch.size) % 250 == 0:
                progress(stream, staged + batch.size, api.page_count)
        pages = api.page_count
        staged += _stage(engine, run_id, batch)
        at = utcnow()
        share = source_config.drop_share if source_config.drop_share is not None else DEFAULT_DROP_SHARE
        note = None
        with transaction(engine) as session:
            contracts = collector.streams[stream].contracts
            totals = staged_totals(session, run_id, batch)
            held = (
                find_line_drops(session, name, batch.agreement_lines.values(), share)
                if contracts
                else find_drops(session, name, metrics, totals, share)
            )
            if held is not None and previous_agrees(session, name, stream, run_id, held):
                log.info("%s/%s: a second run reports the same drop; applying it", name, stream)
                held = None
            hold = held.groups if held is not None else frozenset()
            stats = write_staged(
                session,
                source=name,
                metrics=metrics,
                batch=batch,
                totals=totals,
                at=at,
                run_id=run_id,
                hold=hold,
            )
            if contracts and held is None:
                replace_agreement_lines(session, name, batch.agreement_lines.values(), at)
            left = uncovered(session, name, totals, collector.coverage)
            run = session.get_one(SyncRun, run_id)
            run.status, run.finished_at = ("ok" if held is None else "suspicious"), at
            run.pages, run.records, run.orgs = pages, staged + batch.size, stats.orgs
            notices = [redact(notice.message)[:500] for notice in batch.notices]
            run.notices, run.uncovered = notices or None, left or None
            if held is not None:
                note = held.message(name, run_id, share)
                run.drops, run.error = held.to_json(), note
        if note is not None:
            log.warning("sync %s/%s: %s", name, stream, note)
    except Exception as error:
        pages = api.page_count if api is not None else pages
        message = (
            redact(str(error))
            if isinstance(error, MccError)
            else redact(f"unexpected error: {type(error).__name__}: {error}")
        )
        if isinstance(error, MccError):
            log.warning("sync %s/%s failed: %s", name, stream, message)
        else:
            log.exception("sync %s/%s failed with an unexpected error", name, stream)
        _fail(engine, run_id, message, pages)
        return SyncResult(
            name,
            stream,
            run_id,
            False,
            staged + batch.size,
            pages,
            len(batch.orgs),
            time.monotonic() - started,
            message,
        )
    finally:
        if api is not None:
            api.close()
    if progress is not None:
        progress(stream, staged + batch.size, pages)
    return SyncResult(
        name,
        stream,
        run_id,
        True,
        staged + batch.size,
        pages,
        stats.orgs,
        time.monotonic() - started,
        note,
        suspicious=note is not None,
        notices=tuple(notices),
        uncovered=tuple(left),
    )


def sync_source(
    engine: Engine,
    config: Config,
    name: str,
    *,
    streams: list[str] | None = None,
    trigger: str = "cli",
    policy: HttpPolicy = HttpPolicy(),
    progress: Progress | None = None,
    request_id: int | None = None,
) -> list[SyncResult]:
    """Every stream of one configured source (or the named ones), one after another."""
    source_config = config.source(name)
    wanted = streams or list(source_config.collector.streams)
    return [
        sync_stream(
            engine,
            source_config,
            stream,
            trigger=trigger,
            policy=policy,
            progress=progress,
            request_id=request_id,
        )
        for stream in wanted
    ]
