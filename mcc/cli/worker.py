"""`mcc worker [--once] [--threads N]`: the background worker (schedules, refresh queue, back-off)."""

from __future__ import annotations

import logging
import os
import signal
from datetime import timedelta
from types import FrameType

import typer

from collectors.worker import Worker, WorkerOptions
from mcc.context import open_context

log = logging.getLogger(__name__)


def worker_command(
    once: bool = typer.Option(False, "--once", help="Run what is due or queued now, then exit."),
    threads: int = typer.Option(
        4,
        "--threads",
        min=1,
        max=64,
        help="Least number of sync threads; there is always one per enabled source.",
    ),
    lease: float = typer.Option(
        60.0,
        "--lease",
        min=1.0,
        help="Seconds a claimed job stays reserved without renewal (dead-worker takeover).",
    ),
    grace: float = typer.Option(
        30.0,
        "--grace",
        min=0.0,
        help="On SIGTERM, seconds in-flight runs may take to finish before being abandoned.",
    ),
) -> None:
    """Run every source on its schedule and answer Refresh-now requests; SIGTERM stops it cleanly."""
    context = open_context()
    options = WorkerOptions(threads=threads, lease=timedelta(seconds=lease), grace=grace)
    worker = Worker(context.engine, context.config, options=options)

    def _stop(signum: int, _frame: FrameType | None) -> None:
        log.info("worker: %s received, stopping", signal.Signals(signum).name)
        worker.stop()

    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        summary = worker.run(once=once)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    log.info(
        "worker: %d run(s), %d failed, %d refresh request(s), %d abandoned",
        summary.runs,
        summary.failures,
        summary.refreshes,
        summary.abandoned,
    )
    context.dispose()
    if summary.abandoned:
        # Runs still blocked in a vendor call would keep the process alive; their leases are released.
        logging.shutdown()
        os._exit(0)


def register(app: typer.Typer) -> None:
    app.command("worker")(worker_command)
