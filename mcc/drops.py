"""Confirming a suspicious drop: a person says the counts really collapsed (the client left, devices were
retired), and the run's held counts are written, with an audit event, in one transaction."""

from __future__ import annotations

from sqlalchemy import Engine

from mcc.config import Config
from mcc.errors import MccError
from mcc.permissions import Actor, require
from store.audit import record_event
from store.db import transaction
from store.drops import Held, apply_held, as_payload, later_run
from store.models import SyncRun
from store.types import utcnow


def confirm_drop(engine: Engine, config: Config, actor: Actor | None, run_id: int) -> Held:
    """Apply suspicious run `run_id`'s held counts. Refused for a run that is not held, already
    confirmed, or overtaken by a later run (whose counts are newer)."""
    actor = require(actor, "approver", "confirm a drop in counts")
    with transaction(engine) as session:
        run = session.get(SyncRun, run_id)
        if run is None:
            raise MccError(f"no sync run #{run_id}")
        if run.drop_confirmed_by is not None:
            raise MccError(f"sync run #{run_id}'s drop was already confirmed by {run.drop_confirmed_by}")
        if run.status != "suspicious" or run.drops is None:
            raise MccError(f"sync run #{run_id} ({run.source}/{run.stream}) held no drop; it is {run.status}")
        later = later_run(session, run)
        if later is not None:
            raise MccError(
                f"sync run #{run_id} was overtaken by run #{later.id} ({later.status}); "
                "confirm that one if it is held, or nothing is left to confirm"
            )
        metrics = config.source(run.source).collector.streams[run.stream].metrics
        now = utcnow()
        held = apply_held(session, run, metrics, now)
        run.status, run.drop_confirmed_by, run.drop_confirmed_at = "ok", actor.username, now
        applies = "" if held.keys else " (the next read of the agreements applies it)"
        run.error = f"drop confirmed by {actor.username}{applies}: " + "; ".join(
            d.describe() for d in held.drops
        )
        record_event(
            session,
            actor=actor.username,
            action="sync.confirm_drop",
            entity="sync_run",
            entity_id=run.id,
            payload={"source": run.source, "stream": run.stream, **as_payload(held)},
        )
    return held
