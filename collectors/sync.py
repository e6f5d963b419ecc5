"""Running one source: fetch everything first, then write it (and the run's state) in one short
transaction. A failed or malformed run writes only its sync-run row with the error; the last good
counts stay as they were."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine

from collectors.base import Source
from collectors.http import HttpPolicy, redact
from collectors.records import Batch
from mcc.config import Config, SourceConfig
from mcc.errors import MccError
from store.counts import write_batch
from store.coverage import uncovered
from store.db import transaction
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
    try:
        collector: Source = source_config.collector(source_config, source_config.secrets(), policy)
        metrics = collector.streams[stream].metrics
        api = collector.open_api()
        for record in collector.collect(api, stream):
            batch.add(record)
            if progress is not None and batch.size % 250 == 0:
                progress(stream, batch.size, api.page_count)
        pages = api.page_count
        at = utcnow()
        with transaction(engine) as session:
            stats = write_batch(session, source=name, metrics=metrics, batch=batch, at=at, run_id=run_id)
            if collector.streams[stream].contracts:
                replace_agreement_lines(session, name, batch.agreement_lines.values(), at)
            left = uncovered(session, name, batch, collector.coverage)
            run = session.get_one(SyncRun, run_id)
            run.status, run.finished_at = "ok", at
            run.pages, run.records, run.orgs = pages, batch.size, stats.orgs
            notices = [redact(notice.message)[:500] for notice in batch.notices]
            run.notices, run.uncovered = notices or None, left or None
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
