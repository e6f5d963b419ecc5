"""The hash-chained audit log: every change a person makes is one row whose hash covers the previous one."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from store.models import AuditEvent
from store.types import utcnow

GENESIS = "0" * 64
_CHAIN_LOCK = 0x4D4343  # PostgreSQL advisory lock id serialising appends to the chain


def canonical(payload: Any) -> str:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=False)


def _digest(
    prev_hash: str, at: datetime, actor: str, action: str, entity: str, entity_id: str | None, payload: str
) -> str:
    body = canonical(
        [
            prev_hash,
            at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f"),
            actor,
            action,
            entity,
            entity_id,
            payload,
        ]
    )
    return hashlib.sha256(body.encode()).hexdigest()


def record_event(
    session: Session,
    *,
    actor: str,
    action: str,
    entity: str,
    entity_id: str | int | None = None,
    payload: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event in the caller's transaction (so the change and its audit row commit together)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CHAIN_LOCK})
    prev_hash = session.scalar(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)) or GENESIS
    at = utcnow()
    body = canonical(payload or {})
    key = None if entity_id is None else str(entity_id)
    event = AuditEvent(
        at=at,
        actor=actor,
        action=action,
        entity=entity,
        entity_id=key,
        payload=body,
        prev_hash=prev_hash,
        hash=_digest(prev_hash, at, actor, action, entity, key, body),
    )
    session.add(event)
    session.flush()
    return event


@dataclass(frozen=True)
class ChainReport:
    checked: int
    first_bad_id: int | None
    reason: str | None

    @property
    def ok(self) -> bool:
        return self.first_bad_id is None


def verify_chain(session: Session) -> ChainReport:
    """Walk the log in id order; report the first row whose link or hash does not hold."""
    prev_hash = GENESIS
    checked = 0
    for event in session.scalars(
        select(AuditEvent).order_by(AuditEvent.id).execution_options(yield_per=1000)
    ):
        at = event.at
        if event.prev_hash != prev_hash:
            return ChainReport(
                checked, event.id, "its link to the previous row is broken (a row was removed or inserted)"
            )
        expected = _digest(
            prev_hash, at, event.actor, event.action, event.entity, event.entity_id, event.payload
        )
        if event.hash != expected:
            return ChainReport(checked, event.id, "its contents do not match its hash (the row was altered)")
        prev_hash = event.hash
        checked += 1
    return ChainReport(checked, None, None)
