"""Running one source: fetch everything first, then write it (and the run's state) in one short
transaction. A failed or malformed run writes only its sync-run row with the error; the last good
counts stay as they were."""

from __future__ import annotations

import dataclasses
import logging
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine

from collectors.base import Source
from collectors.http import HttpPolicy, RunBudget, redact
from collectors.records import Batch
from mcc.config import Config, SourceConfig
from mcc.errors import MccError
from store.counts import aggregate, write_batch
from store.coverage import uncovered
from store.db import transaction
from store.drops import DEFAULT_DROP_SHARE, find_drops, find_line_drops, previous_agrees
from store.models import SyncRun
from store.psa import replace_agreement_lines
from store.types import utcnow

log = logging.getLogger(__name__)

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


def _fail(engine: Engine, run_id: int, message: str, pages: int) -> None:
    with transaction(engine) as session:
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
) -> SyncResult:
    name = source_config.name
    run_id = _start(engine, name, stream, trigger, request_id)
    started = time.monotonic()
    batch, pages = Batch(), 0
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
            if progress is not None and batch.size % 250 == 0:
                progress(stream, batch.size, api.page_count)
        pages = api.page_count
        at = utcnow()
        share = source_config.drop_share if source_config.drop_share is not None else DEFAULT_DROP_SHARE
        note = None
        with transaction(engine) as session:
            contracts = collector.streams[stream].contracts
            held = (
                find_line_drops(session, name, batch.agreement_lines.values(), share)
                if contracts
                else find_drops(session, name, metrics, aggregate(batch), share)
            )
            if held is not None and previous_agrees(session, name, stream, run_id, held):
                log.info("%s/%s: a second run reports the same drop; applying it", name, stream)
                held = None
            hold = held.groups if held is not None else frozenset()
            stats = write_batch(
                session, source=name, metrics=metrics, batch=batch, at=at, run_id=run_id, hold=hold
            )
            if contracts and held is None:
                replace_agreement_lines(session, name, batch.agreement_lines.values(), at)
            left = uncovered(session, name, batch, collector.coverage)
            run = session.get_one(SyncRun, run_id)
            run.status, run.finished_at = ("ok" if held is None else "suspicious"), at
            run.pages, run.records, run.orgs = pages, batch.size, stats.orgs
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
            batch.size,
            pages,
            len(batch.orgs),
            time.monotonic() - started,
            message,
        )
    finally:
        if api is not None:
            api.close()
    if progress is not None:
        progress(stream, batch.size, pages)
    return SyncResult(
        name,
        stream,
        run_id,
        True,
        batch.size,
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
