"""The background worker: runs every source stream on its own schedule in a thread pool, answers
Refresh-now requests within seconds, backs off failing vendors, and shuts down cleanly.

Each source has its own lane: it runs one stream at a time (scheduled or refresh, never both at once)
and the pool always has a thread for every source, so a stalled vendor can hold up only itself.

Due-ness lives in the database (collectors.jobs), so any number of workers can share one PostgreSQL
database; a job that raises is logged and rescheduled and never stops the other sources.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine, update

from collectors import jobs, refresh
from collectors.http import HttpPolicy, redact
from collectors.sync import WORKER_ID, SyncResult, sync_stream
from mcc.config import Config
from mcc.errors import MccError
from store.db import transaction
from store.models import SyncRun
from store.types import utcnow

log = logging.getLogger(__name__)

STOPPED = "the worker stopped before the run finished; it runs again on the next claim"


class Stopping(MccError):
    """Raised inside a run (at its next progress checkpoint) when the worker abandons it."""


@dataclass(frozen=True)
class WorkerOptions:
    threads: int = 4  # the least pool size; the pool always has one thread per enabled source
    lease: timedelta = timedelta(seconds=60)  # renewed every lease/3 while a run is in flight
    tick: float = 0.5  # how often the loop looks for due jobs
    refresh_poll: float = 2.0  # how often the refresh queue is polled
    grace: float = 30.0  # on shutdown, how long in-flight runs may take to finish
    backoff_base: timedelta = jobs.BACKOFF_BASE
    policy: HttpPolicy = field(default_factory=HttpPolicy)


@dataclass
class WorkerSummary:
    runs: int = 0
    failures: int = 0
    refreshes: int = 0
    abandoned: int = 0  # runs still blocked when the worker gave up waiting at shutdown


@dataclass
class _Refresh:
    pending: set[Future[tuple[int, list[str]]]] = field(default_factory=set)
    waiting: list[str] = field(default_factory=list)  # sources not started yet (their lane is busy)
    records: int = 0
    errors: list[str] = field(default_factory=list)


class Worker:
    def __init__(
        self,
        engine: Engine,
        config: Config,
        *,
        options: WorkerOptions | None = None,
        owner: str = WORKER_ID,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.engine, self.config = engine, config
        self.options = options or WorkerOptions()
        self.owner = owner
        self.clock = clock
        self.summary = WorkerSummary()
        self._stop = threading.Event()
        self._abandon = threading.Event()
        self._jobs: dict[Future[SyncResult | None], jobs.Claim] = {}
        self._refreshes: dict[int, _Refresh] = {}
        self._refresh_futures: dict[Future[tuple[int, list[str]]], tuple[int, str]] = {}
        self._local = threading.local()
        self._lock = threading.Lock()

    # --- control ---------------------------------------------------------------------------------

    def stop(self) -> None:
        """First call: stop claiming and let in-flight runs finish (up to the grace period).
        Second call: abandon in-flight runs now."""
        if self._stop.is_set():
            self._abandon.set()
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def _in_flight(self) -> int:
        return len(self._jobs) + len(self._refresh_futures)

    @property
    def slots(self) -> int:
        """Pool threads: at least one per enabled source, so no source waits for another's thread."""
        return max(self.options.threads, sum(1 for source in self.config.sources if source.enabled))

    def _busy(self) -> set[str]:
        """Sources with a run in flight (or queued on the pool) in this worker."""
        busy = {claim.source for claim in self._jobs.values()}
        return busy | {source for _, source in self._refresh_futures.values()}

    # --- the loop ------------------------------------------------------------------------------

    def run(self, once: bool = False) -> WorkerSummary:
        """Run until stop() (or, with `once`, until nothing is due or queued and nothing is in flight)."""
        options = self.options
        count = jobs.ensure_jobs(self.engine, self.config, self.clock())
        log.info("worker %s: %d source stream(s), %d thread(s)", self.owner, count, self.slots)
        executor = ThreadPoolExecutor(max_workers=self.slots, thread_name_prefix="mcc-sync")
        self._last_poll = self._last_renew = float("-inf")
        try:
            while not self._stop.is_set():
                try:
                    started = self._tick(executor, once)
                except Exception:
                    if once:
                        raise
                    log.exception("worker %s: the loop failed; trying again shortly", self.owner)
                    self._stop.wait(5.0)
                    continue
                if once and not started and not self._in_flight():
                    break
                self._stop.wait(options.tick)
        finally:
            self._shutdown(executor)
        return self.summary

    def _tick(self, executor: ThreadPoolExecutor, once: bool) -> int:
        """One pass: collect finished runs, renew leases, take a refresh request and due jobs."""
        options = self.options
        self._reap()
        now = self.clock()
        if time.monotonic() - self._last_renew >= options.lease.total_seconds() / 3:
            self._renew(now)
            self._last_renew = time.monotonic()
        started = 0
        if time.monotonic() - self._last_poll >= options.refresh_poll or once:
            self._last_poll = time.monotonic()
            started += self._poll_refresh(executor, now)
        started += self._start_waiting(executor)
        free = self.slots - self._in_flight()
        for claim in jobs.claim_due(
            self.engine, self.config, self.owner, now, limit=free, lease=options.lease, busy=self._busy()
        ):
            self._jobs[executor.submit(self._run_job, claim)] = claim
            started += 1
        return started

    def _poll_refresh(self, executor: ThreadPoolExecutor, now: datetime) -> int:
        claimed = refresh.claim_request(self.engine, self.owner, now, self.options.lease)
        if claimed is None:
            return 0
        request_id, source = claimed
        names = [s.name for s in self.config.sources if s.enabled] if source is None else [source]
        unknown = [name for name in names if name not in self.config.source_names]
        if unknown or not names:
            message = f"no source named {unknown[0]!r} in the worker's config" if unknown else "no sources"
            refresh.finish_request(self.engine, request_id, self.owner, records=0, errors=[message])
            return 1
        log.info("refresh request #%d: %s", request_id, ", ".join(names))
        self._refreshes[request_id] = _Refresh(waiting=list(names))
        return self._start_waiting(executor)

    def _start_waiting(self, executor: ThreadPoolExecutor) -> int:
        """Start each waiting refresh whose source's lane is free."""
        started = 0
        for request_id, state in self._refreshes.items():
            for name in list(state.waiting):
                if name in self._busy():
                    continue
                state.waiting.remove(name)
                future = executor.submit(self._run_refresh_source, request_id, name)
                state.pending.add(future)
                self._refresh_futures[future] = (request_id, name)
                started += 1
        return started

    def _renew(self, now: datetime) -> None:
        until = now + self.options.lease
        try:
            jobs.renew(self.engine, self.owner, [claim.job_id for claim in list(self._jobs.values())], until)
            refresh.renew_requests(self.engine, self.owner, list(self._refreshes), until)
        except Exception:
            log.exception("could not renew the worker's leases")

    def _reap(self) -> None:
        for job_future in [f for f in self._jobs if f.done()]:
            del self._jobs[job_future]
        for future in [f for f in self._refresh_futures if f.done()]:
            request_id, _ = self._refresh_futures.pop(future)
            state = self._refreshes[request_id]
            state.pending.discard(future)
            if future.cancelled():
                continue
            try:
                records, errors = future.result()
            except Exception as error:  # the task logs its own failures; this is a last resort
                records, errors = 0, [f"unexpected error: {error}"]
            state.records += records
            state.errors.extend(errors)
            if not state.pending and not state.waiting:
                del self._refreshes[request_id]
                refresh.finish_request(
                    self.engine, request_id, self.owner, records=state.records, errors=state.errors
                )
                self.summary.refreshes += 1

    # --- tasks (run on pool threads) ---------------------------------------------------------------

    def _checkpoint(self, stream: str, records: int, pages: int) -> None:
        if self._abandon.is_set():
            self._local.abandoned = True
            raise Stopping(STOPPED)

    def _sync(self, source: str, stream: str, trigger: str, request_id: int | None = None) -> SyncResult:
        self._local.abandoned = False
        return sync_stream(
            self.engine,
            self.config.source(source),
            stream,
            trigger=trigger,
            policy=self.options.policy,
            progress=self._checkpoint,
            request_id=request_id,
        )

    def _run_job(self, claim: jobs.Claim) -> SyncResult | None:
        schedule = self.config.source(claim.source).schedule_for(claim.stream)
        result: SyncResult | None = None
        try:
            result = self._sync(claim.source, claim.stream, "schedule")
            ok, error = result.ok, result.error
        except Exception as exc:  # the run's own failures are caught in sync_stream; this is the database
            log.exception("%s/%s: the run could not be recorded", claim.source, claim.stream)
            ok, error = False, redact(f"unexpected error: {type(exc).__name__}: {exc}")
        if self._local.abandoned:
            jobs.release(self.engine, self.owner, [claim.job_id])
            return result
        try:
            following = jobs.finish(
                self.engine,
                claim,
                self.owner,
                schedule,
                ok=ok,
                error=error,
                now=self.clock(),
                base=self.options.backoff_base,
            )
        except Exception:
            log.exception("%s/%s: could not reschedule; the lease will expire", claim.source, claim.stream)
            return result
        with self._lock:
            self.summary.runs += 1
            self.summary.failures += 0 if ok else 1
        records = result.records if result else 0
        if ok:
            log.info("%s/%s: %d records; next run %s", claim.source, claim.stream, records, following)
            self._note_contract_changes(claim.source, claim.stream)
        else:
            log.warning("%s/%s failed; retrying at %s: %s", claim.source, claim.stream, following, error)
        return result

    def _note_contract_changes(self, source: str, stream: str) -> None:
        """After a good read of a PSA's agreements, flag what they would change in the book (never applied)."""
        if not self.config.source(source).collector.streams[stream].contracts:
            return
        from mcc.psa_contracts import changes_found  # the preview lives with `mcc contracts sync`

        try:
            notice = changes_found(self.engine, self.config, source)
        except Exception:  # a flag must never stop the worker
            log.exception("%s: could not compare the PSA's contracts with the book", source)
            return
        if notice:
            log.warning("%s: %s", source, notice)

    def _run_refresh_source(self, request_id: int, source: str) -> tuple[int, list[str]]:
        source_config = self.config.source(source)
        records, errors = 0, []
        for stream in source_config.collector.streams:
            if self._stop.is_set() and self._abandon.is_set():
                errors.append(f"{source}/{stream}: {STOPPED}")
                break
            result = self._sync(source, stream, "manual", request_id)
            records += result.records if result.ok else 0  # what was stored
            if not result.ok:
                errors.append(f"{source}/{stream}: {result.error}")
            else:
                self._note_contract_changes(source, stream)
            jobs.note_unscheduled_run(
                self.engine, source_config, stream, ok=result.ok, error=result.error, now=self.clock()
            )
        return records, errors

    # --- shutdown ------------------------------------------------------------------------------

    def _shutdown(self, executor: ThreadPoolExecutor) -> None:
        self._stop.set()
        for future in list(self._jobs) + list(self._refresh_futures):
            future.cancel()  # not started yet: give it back below
        deadline = time.monotonic() + self.options.grace
        last_renew = time.monotonic()
        while self._in_flight_running() and time.monotonic() < deadline and not self._abandon.is_set():
            self._reap()
            if time.monotonic() - last_renew >= self.options.lease.total_seconds() / 3:
                self._renew(self.clock())
                last_renew = time.monotonic()
            time.sleep(0.05)
        if self._in_flight_running():
            log.warning("worker %s: abandoning %d in-flight run(s)", self.owner, self._in_flight_running())
            self._abandon.set()
            settle = time.monotonic() + 2.0
            while self._in_flight_running() and time.monotonic() < settle:
                time.sleep(0.05)
        self._reap()
        executor.shutdown(wait=False, cancel_futures=True)
        # Whatever is left was never started or is still blocked: give it back.
        blocked = [claim for future, claim in self._jobs.items() if not future.done()]
        self.summary.abandoned = len(blocked) + sum(1 for f in self._refresh_futures if not f.done())
        try:
            self._mark_abandoned(blocked)
            jobs.release(self.engine, self.owner, [claim.job_id for claim in self._jobs.values()])
            for request_id in list(self._refreshes):
                refresh.requeue_request(self.engine, request_id, self.owner)
        except Exception:
            log.exception("worker %s: could not release its leases; they expire on their own", self.owner)
        self._jobs.clear()
        self._refreshes.clear()
        self._refresh_futures.clear()
        log.info("worker %s stopped", self.owner)

    def _in_flight_running(self) -> int:
        futures = list(self._jobs) + list(self._refresh_futures)
        return sum(1 for future in futures if future.running())

    def _mark_abandoned(self, claims: list[jobs.Claim]) -> None:
        if not claims:
            return
        with transaction(self.engine) as session:
            for claim in claims:
                session.execute(
                    update(SyncRun)
                    .where(
                        SyncRun.source == claim.source,
                        SyncRun.stream == claim.stream,
                        SyncRun.status == "running",
                        SyncRun.worker == WORKER_ID,
                    )
                    .values(status="failed", finished_at=utcnow(), error=STOPPED)
                )
