"""The audit log: every change a person makes is one row whose MAC covers the previous row, the decisions it
records (amounts, quantities, action, author, period) are sealed into it, and the newest row is signed
into a head file outside the database, so rewriting, appending, truncating or editing a decision shows.

Keyed with MCC_AUDIT_KEY (HMAC-SHA256); rows written before a key was set are legacy, plain SHA-256.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import logging
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event, func, select, text
from sqlalchemy.orm import Session

from mcc.errors import MccError
from store.models import AuditEvent, Decision
from store.types import utcnow

GENESIS = "0" * 64
_CHAIN_LOCK = 0x4D4343  # PostgreSQL advisory lock id serialising appends to the chain
KEY_ENV = "MCC_AUDIT_KEY"
HEAD_ENV = "MCC_AUDIT_HEAD"
MIN_KEY_BYTES = 32
KEYED = "audit.keyed"  # the row where keying starts; rows before it are legacy, unkeyed
_PENDING = "mcc_audit_head"
log = logging.getLogger("mcc.audit")
_warned = False


class AuditKeyError(MccError):
    """The audit key is missing where the log needs it, or too short to be a secret."""


def audit_key() -> bytes | None:
    """The HMAC key from MCC_AUDIT_KEY (at least 32 bytes), or None when it is not set."""
    value = os.environ.get(KEY_ENV, "")
    if not value:
        return None
    key = value.encode()
    if len(key) < MIN_KEY_BYTES:
        raise AuditKeyError(f"{KEY_ENV} must be at least {MIN_KEY_BYTES} bytes, got {len(key)}")
    return key


def head_path(session: Session) -> Path | None:
    """Where the signed head lives: MCC_AUDIT_HEAD, else next to a SQLite database file; else nowhere."""
    configured = os.environ.get(HEAD_ENV)
    if configured:
        return Path(configured)
    url = session.get_bind().engine.url
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(f"{url.database}.audit-head")
    return None


def canonical(payload: Any) -> str:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=False)


def _mac(key: bytes | None, body: str) -> str:
    if key is None:
        return hashlib.sha256(body.encode()).hexdigest()
    return hmac.new(key, body.encode(), hashlib.sha256).hexdigest()


def _digest(
    prev_hash: str,
    at: datetime,
    actor: str,
    action: str,
    entity: str,
    entity_id: str | None,
    payload: str,
    key: bytes | None = None,
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
    return _mac(key, body)


def decision_content(decision: Decision) -> dict[str, Any]:
    """Everything about a decision that reaches an invoice or the totals, as sealed into the chain."""
    content = {
        "id": decision.id,
        "client_id": decision.client_id,
        "product_id": decision.product_id,
        "period": decision.period,
        "action": decision.action,
        "quantity": decision.quantity,
        "amount_cents": decision.amount_cents,
        "back_bill_cents": decision.back_bill_cents,
        "effective_date": decision.effective_date,
        "note": decision.note,
        "author": decision.author,
        "batch_id": decision.batch_id,
        "gap": decision.gap,
        "reverses_decision_id": decision.reverses_decision_id,
    }
    return dict(json.loads(canonical(content)))


def _keyed_since(session: Session) -> int | None:
    return session.scalar(select(func.min(AuditEvent.id)).where(AuditEvent.action == KEYED))


def _append(
    session: Session,
    key: bytes | None,
    prev_hash: str,
    actor: str,
    action: str,
    entity: str,
    entity_id: str | None,
    payload: dict[str, Any],
) -> AuditEvent:
    at = utcnow()
    body = canonical(payload)
    row = AuditEvent(
        at=at,
        actor=actor,
        action=action,
        entity=entity,
        entity_id=entity_id,
        payload=body,
        prev_hash=prev_hash,
        hash=_digest(prev_hash, at, actor, action, entity, entity_id, body, key),
    )
    session.add(row)
    session.flush()
    return row


def record_event(
    session: Session,
    *,
    actor: str,
    action: str,
    entity: str,
    entity_id: str | int | None = None,
    payload: dict[str, Any] | None = None,
    decisions: list[Decision] | tuple[Decision, ...] = (),
) -> AuditEvent:
    """Append one event in the caller's transaction (so the change and its audit row commit together),
    sealing the content of `decisions` into it. The signed head is written once the transaction commits."""
    global _warned
    key = audit_key()
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CHAIN_LOCK})
    last = session.execute(
        select(AuditEvent.id, AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)
    ).first()
    prev_hash = last[1] if last else GENESIS
    keyed_since = _keyed_since(session)
    if key is None and keyed_since is not None:
        raise AuditKeyError(
            f"the audit log is keyed since row {keyed_since} but {KEY_ENV} is not set: set it to record changes"
        )
    if key is None and not _warned:
        _warned = True
        log.warning(
            "%s is not set: the audit log is chained but not keyed, so anyone who can write the database "
            "can rewrite it undetected (see docs/audit.md)",
            KEY_ENV,
        )
    if key is not None and keyed_since is None:
        # The upgrade point: every row and decision before this one is legacy, and says so.
        mark = _append(
            session,
            key,
            prev_hash,
            "mcc",
            KEYED,
            "audit",
            None,
            {
                "legacy_rows_upto": last[0] if last else 0,
                "legacy_decisions_upto": session.scalar(select(func.max(Decision.id))) or 0,
            },
        )
        prev_hash = mark.hash
    body = dict(payload or {})
    if decisions:
        session.flush()
        body["sealed_decisions"] = {str(d.id): decision_content(d) for d in decisions}
    row = _append(
        session, key, prev_hash, actor, action, entity, None if entity_id is None else str(entity_id), body
    )
    path = head_path(session)
    if path is not None:
        session.info[_PENDING] = (path, row.id, row.hash, key)
    return row


# --- the signed head ----------------------------------------------------------------------------------


def _head_mac(key: bytes, row_id: int, row_hash: str) -> str:
    return hmac.new(key, f"audit-head:{row_id}:{row_hash}".encode(), hashlib.sha256).hexdigest()


def write_head(path: Path, row_id: int, row_hash: str, key: bytes | None) -> None:
    """Advance the head file to `row_id` (never back), atomically, under a file lock."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{path}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        current = read_head(path)
        if current is not None and int(current.get("id", 0)) >= row_id:
            return
        body = {
            "id": row_id,
            "hash": row_hash,
            "mac": None if key is None else _head_mac(key, row_id, row_hash),
        }
        tmp = Path(f"{path}.tmp")
        tmp.write_text(json.dumps(body) + "\n")
        os.replace(tmp, path)


def read_head(path: Path) -> dict[str, Any] | None:
    try:
        value = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {"id": -1, "hash": "", "mac": "unreadable"}
    return value if isinstance(value, dict) else {"id": -1, "hash": "", "mac": "unreadable"}


@event.listens_for(Session, "after_commit")
def _write_pending_head(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    if pending is not None:
        try:
            write_head(*pending)
        except OSError as error:  # the rows are committed; verify names the head as behind
            log.error("could not write the audit head %s: %s", pending[0], error)


@event.listens_for(Session, "after_rollback")
def _drop_pending_head(session: Session) -> None:
    session.info.pop(_PENDING, None)


def seal(session: Session, actor: str) -> AuditEvent:
    """`mcc audit seal`: an event that starts keying (if a key is set) and signs the head now."""
    return record_event(session, actor=actor, action="audit.seal", entity="audit")


# --- verification -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChainReport:
    checked: int
    first_bad_id: int | None
    reason: str | None
    where: str | None = None  # "row 12" or "decision 7"
    legacy_rows: int = 0
    legacy_decisions: int = 0
    warnings: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return self.reason is None


def _bad(
    checked: int,
    row_id: int | None,
    reason: str,
    where: str | None = None,
    legacy_rows: int = 0,
    legacy_decisions: int = 0,
) -> ChainReport:
    return ChainReport(checked, row_id, reason, where or f"row {row_id}", legacy_rows, legacy_decisions)


def verify_chain(session: Session, key: bytes | None = None, head: Path | None = None) -> ChainReport:
    """Walk the log in id order and check every link and MAC, every decision against what was sealed, and
    the last row against the signed head; report the first thing that does not hold."""
    key = key if key is not None else audit_key()
    head = head if head is not None else head_path(session)
    warnings: list[str] = []
    prev_hash = GENESIS
    checked = legacy_rows = 0
    keyed = False
    legacy_decisions_upto: int | None = None
    sealed: dict[int, tuple[int, dict[str, Any]]] = {}
    last: tuple[int, str] | None = None
    for row in session.scalars(select(AuditEvent).order_by(AuditEvent.id).execution_options(yield_per=1000)):
        if row.prev_hash != prev_hash:
            return _bad(
                checked, row.id, "its link to the previous row is broken (a row was removed or inserted)"
            )
        if row.action == KEYED and not keyed:
            if key is None:
                return _bad(
                    checked,
                    row.id,
                    f"the log is keyed from this row on but {KEY_ENV} is not set: it cannot be verified",
                )
            keyed = True
            try:
                legacy_decisions_upto = int(json.loads(row.payload).get("legacy_decisions_upto", 0))
            except (ValueError, AttributeError):
                legacy_decisions_upto = 0
        expected = _digest(
            prev_hash,
            row.at,
            row.actor,
            row.action,
            row.entity,
            row.entity_id,
            row.payload,
            key if keyed else None,
        )
        if not hmac.compare_digest(row.hash, expected):
            what = "its MAC does not match its contents (altered, forged, or written without the key)"
            return _bad(
                checked, row.id, what if keyed else "its contents do not match its hash (the row was altered)"
            )
        if keyed:
            try:
                body = json.loads(row.payload)
            except ValueError:
                body = {}
            for decision_id, content in (body.get("sealed_decisions") or {}).items():
                sealed[int(decision_id)] = (row.id, content)
        else:
            legacy_rows += 1
        prev_hash = row.hash
        last = (row.id, row.hash)
        checked += 1
    counts = {"legacy_rows": legacy_rows}
    # The signed head: the newest row MCC committed, so deleting rows from the end shows.
    if head is None:
        warnings.append(
            f"no signed head is configured ({HEAD_ENV}): removing the newest rows would not be detected"
        )
    else:
        stored = read_head(head)
        if stored is None:
            if keyed:
                return _bad(checked, None, f"the signed head {head} is missing", "head", **counts)
            if last is not None:
                warnings.append(f"no signed head at {head} yet: it is written with the next change")
        else:
            head_id, head_hash, mac = (
                int(stored.get("id", -1)),
                str(stored.get("hash", "")),
                stored.get("mac"),
            )
            if (keyed or mac is not None) and (
                key is None
                or not isinstance(mac, str)
                or not hmac.compare_digest(mac, _head_mac(key, head_id, head_hash))
            ):
                return _bad(
                    checked, None, f"the head file {head} is not signed with {KEY_ENV}", "head", **counts
                )
            if last is None or head_id > last[0]:
                return _bad(
                    checked,
                    None,
                    f"the signed head is row {head_id} but the log ends at row {last[0] if last else 0}: "
                    "rows were removed from the end",
                    f"row {head_id}",
                    **counts,
                )
            row_hash = session.scalar(select(AuditEvent.hash).where(AuditEvent.id == head_id))
            if row_hash != head_hash:
                return _bad(
                    checked,
                    head_id,
                    "it does not match the signed head (the chain was rewritten)",
                    None,
                    **counts,
                )
    # Decisions: each one as it was sealed; none added behind MCC's back; none deleted.
    legacy_decisions = 0
    for decision in session.scalars(select(Decision).order_by(Decision.id)):
        entry = sealed.pop(decision.id, None)
        if entry is None:
            if legacy_decisions_upto is not None and decision.id > legacy_decisions_upto:
                return _bad(
                    checked,
                    None,
                    "it is in no audit row: it was added to the database behind MCC's back",
                    f"decision {decision.id}",
                    **counts,
                )
            legacy_decisions += 1
            continue
        row_id, content = entry
        now = decision_content(decision)
        if canonical(now) != canonical(content):
            changed = sorted(k for k in set(now) | set(content) if now.get(k) != content.get(k))
            detail = "; ".join(f"{k} is {now.get(k)!r}, sealed as {content.get(k)!r}" for k in changed)
            return _bad(
                checked,
                row_id,
                f"it differs from what row {row_id} sealed: {detail}",
                f"decision {decision.id}",
                **counts,
            )
    if sealed:
        decision_id, (row_id, _content) = min(sealed.items())
        return _bad(
            checked,
            row_id,
            f"it was sealed in row {row_id} but is gone from the database",
            f"decision {decision_id}",
            **counts,
        )
    if not keyed and checked:
        warnings.append(
            f"{legacy_rows} row(s) are legacy, unkeyed: anyone who can write the database could recompute them"
            + ("" if key is not None else f" (set {KEY_ENV} to key the chain)")
        )
    return ChainReport(checked, None, None, None, legacy_rows, legacy_decisions, warnings=tuple(warnings))
