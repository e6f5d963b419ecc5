"""Signed-in sessions kept in the database, so a sign-in cookie is only as good as its session row:
signing out ends it, and a password change, disable or lockout ends every session of that user."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, Engine, delete, select, update
from sqlalchemy.orm import Session

from store.audit import record_event
from store.db import reading, transaction
from store.models import UserSession
from store.types import utcnow

SESSION_LIFETIME = timedelta(hours=12)  # the sign-in cookie lives as long (COOKIE_EXPIRY_DAYS = 0.5)
KEEP_ENDED = timedelta(days=30)  # ended and expired rows are pruned after this


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def start_session(engine: Engine, username: str, now: datetime | None = None) -> str:
    """A new session for a user who just proved their password; returns the id the cookie carries."""
    now = now or utcnow()
    session_id = secrets.token_urlsafe(32)
    with transaction(engine) as session:
        session.execute(delete(UserSession).where(UserSession.expires_at < now - KEEP_ENDED))
        session.add(
            UserSession(
                token_hash=_hash(session_id),
                username=username,
                created_at=now,
                expires_at=now + SESSION_LIFETIME,
            )
        )
    return session_id


def session_active(engine: Engine, username: str, session_id: str, now: datetime | None = None) -> bool:
    """True only for a session that exists for this user, has not ended and has not expired."""
    if not session_id or not username:
        return False
    now = now or utcnow()
    with reading(engine) as session:
        row = session.scalar(select(UserSession).where(UserSession.token_hash == _hash(session_id)))
        return row is not None and row.username == username and row.ended_at is None and row.expires_at > now


def end_session(engine: Engine, username: str, session_id: str, reason: str = "signed out") -> bool:
    """End one session (signing out); audited so every open page notices on its next run."""
    with transaction(engine) as session:
        result = session.execute(
            update(UserSession)
            .where(
                UserSession.token_hash == _hash(session_id),
                UserSession.username == username,
                UserSession.ended_at.is_(None),
            )
            .values(ended_at=utcnow(), ended_reason=reason)
        )
        ended = cast(CursorResult[Any], result).rowcount
        if ended:
            record_event(session, actor=username, action="user.sign_out", entity="user", entity_id=username)
        return bool(ended)


def end_user_sessions(session: Session, username: str, reason: str) -> int:
    """End every open session of a user, inside the caller's transaction (password, disable, lockout)."""
    result = session.execute(
        update(UserSession)
        .where(UserSession.username == username, UserSession.ended_at.is_(None))
        .values(ended_at=utcnow(), ended_reason=reason)
    )
    return int(cast(CursorResult[Any], result).rowcount or 0)
