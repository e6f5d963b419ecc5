"""People who may sign in: bcrypt password hashes, roles, disabling, and a lockout after repeated
failed sign-ins that lives in the database (so it holds across sessions, restarts and workers)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

import bcrypt
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from mcc.config import Environment
from mcc.errors import ConfigError, MccError
from mcc.permissions import ROLES, Actor, require
from mcc.sessions import end_user_sessions
from store.audit import record_event
from store.db import reading, transaction
from store.models import User
from store.types import utcnow

MAX_FAILED_ATTEMPTS = 5
LOCKOUT = timedelta(minutes=15)
BCRYPT_ROUNDS = 12  # ~0.3 s per check on a 2-core box: the per-attempt delay an attacker pays
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_BYTES = 72  # bcrypt's limit; bcrypt 5 raises beyond it
USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._@-]{1,99}$")
MIN_COOKIE_KEY_BYTES = 32
COOKIE_KEY_HINT = "python -c 'import secrets; print(secrets.token_urlsafe(48))'"


class UserError(MccError):
    """A user could not be created or changed (bad name, weak password, unknown user…)."""


class AccountLocked(MccError):
    """Too many failed sign-ins; the account is locked for a while."""


@dataclass(frozen=True)
class UserInfo:
    """What pages and the CLI show about a user (never the hash)."""

    username: str
    name: str
    email: str
    roles: tuple[str, ...]
    disabled: bool
    failed_attempts: int
    locked_until: datetime | None
    last_login_at: datetime | None
    created_at: datetime

    def actor(self) -> Actor:
        return Actor(self.username, frozenset(self.roles))

    def locked(self, now: datetime | None = None) -> bool:
        return self.locked_until is not None and self.locked_until > (now or utcnow())


def _info(user: User) -> UserInfo:
    return UserInfo(
        username=user.username,
        name=user.name,
        email=user.email,
        roles=tuple(user.role_list),
        disabled=user.disabled,
        failed_attempts=user.failed_attempts,
        locked_until=user.locked_until,
        last_login_at=user.last_login_at,
        created_at=user.created_at,
    )


def normalise_username(username: str) -> str:
    """Usernames are case-insensitive and trimmed, as the sign-in form treats them."""
    return username.strip().lower()


def check_roles(roles: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    cleaned = tuple(dict.fromkeys(r.strip().lower() for r in roles if r.strip()))
    if not cleaned:
        raise UserError(f"give at least one role ({', '.join(ROLES)})")
    unknown = [r for r in cleaned if r not in ROLES]
    if unknown:
        raise UserError(f"unknown role(s) {', '.join(unknown)}; expected {', '.join(ROLES)}")
    return tuple(r for r in ROLES if r in cleaned)


def check_password(password: str) -> None:
    """NIST SP 800-63B style: long enough, no composition rules, within bcrypt's 72-byte limit."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    if len(password.encode()) > MAX_PASSWORD_BYTES:
        raise UserError(f"password must be at most {MAX_PASSWORD_BYTES} bytes (bcrypt's limit)")
    if password != password.strip():
        raise UserError("password must not start or end with spaces (the sign-in form trims them)")


def hash_password(password: str) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(BCRYPT_ROUNDS)).decode()


@cache
def _dummy_hash(rounds: int) -> str:
    """A hash to check against when the username is unknown, so a wrong name costs as long as a wrong password."""
    return bcrypt.hashpw(b"not anybody's password", bcrypt.gensalt(rounds)).decode()


def password_matches(password: str, password_hash: str) -> bool:
    try:
        return bcrypt.checkpw(password.encode(), password_hash.encode())
    except ValueError:
        return False


def add_user(
    engine: Engine,
    actor: Actor,
    username: str,
    *,
    name: str,
    password: str,
    roles: list[str] | tuple[str, ...],
    email: str = "",
) -> UserInfo:
    """Create a user (admin only); the password is hashed here and never stored or logged in clear."""
    require(actor, "admin", "add users")
    return _create(engine, actor.username, username, name=name, password=password, roles=roles, email=email)


def add_first_admin(
    engine: Engine,
    username: str,
    *,
    name: str,
    password: str,
    roles: list[str] | tuple[str, ...],
    email: str = "",
) -> UserInfo:
    """The first user of an empty database, which no one yet exists to add: it must be an admin, and
    the audit log records it as having added itself."""
    check_first_user_roles(roles)
    return _create(engine, None, username, name=name, password=password, roles=roles, email=email, first=True)


def check_first_user_roles(roles: list[str] | tuple[str, ...]) -> None:
    if "admin" not in check_roles(roles):
        raise UserError("there are no users yet: the first user must be an admin (--role admin)")


def any_users(engine: Engine) -> bool:
    with reading(engine) as session:
        return session.scalar(select(User.id).limit(1)) is not None


def _create(
    engine: Engine,
    actor_name: str | None,
    username: str,
    *,
    name: str,
    password: str,
    roles: list[str] | tuple[str, ...],
    email: str,
    first: bool = False,
) -> UserInfo:
    username = normalise_username(username)
    if not USERNAME_PATTERN.match(username):
        raise UserError(f"username {username!r}: use 2-100 lower-case letters, digits, '.', '_', '@' or '-'")
    if not name.strip():
        raise UserError(f"user {username!r}: give a display name")
    role_tuple = check_roles(roles)
    check_password(password)
    password_hash = hash_password(password)
    with transaction(engine) as session:
        if first and session.scalar(select(User.id).limit(1)) is not None:
            raise UserError("users already exist: add more as an admin, with --as or MCC_USER")
        if session.scalar(select(User.id).where(User.username == username)) is not None:
            raise UserError(f"user {username!r} already exists")
        user = User(
            username=username,
            name=name.strip(),
            email=email.strip(),
            password_hash=password_hash,
            roles=",".join(role_tuple),
        )
        session.add(user)
        session.flush()
        payload: dict[str, object] = {"name": user.name, "email": user.email, "roles": list(role_tuple)}
        if first:
            payload["first_user"] = True
        record_event(
            session,
            actor=actor_name or username,
            action="user.add",
            entity="user",
            entity_id=username,
            payload=payload,
        )
        return _info(user)


def _get(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == normalise_username(username)))
    if user is None:
        raise UserError(f"no user named {normalise_username(username)!r}")
    return user


def set_roles(engine: Engine, actor: Actor, username: str, roles: list[str] | tuple[str, ...]) -> UserInfo:
    require(actor, "admin", "change roles")
    role_tuple = check_roles(roles)
    with transaction(engine) as session:
        user = _get(session, username)
        if user.username == actor.username and "admin" not in role_tuple:
            raise UserError("you cannot remove your own admin role (ask another admin)")
        before = user.role_list
        user.roles = ",".join(role_tuple)
        record_event(
            session,
            actor=actor.username,
            action="user.roles",
            entity="user",
            entity_id=user.username,
            payload={"before": before, "after": list(role_tuple)},
        )
        return _info(user)


def set_disabled(engine: Engine, actor: Actor, username: str, disabled: bool = True) -> UserInfo:
    """Disable (or re-enable) a user; a disabled user cannot sign in, even with a valid cookie."""
    require(actor, "admin", "disable users")
    with transaction(engine) as session:
        user = _get(session, username)
        if disabled and user.username == actor.username:
            raise UserError("you cannot disable yourself")
        user.disabled = disabled
        if disabled:
            end_user_sessions(session, user.username, "disabled")
        else:
            user.failed_attempts = 0
            user.locked_until = None
        record_event(
            session,
            actor=actor.username,
            action="user.disable" if disabled else "user.enable",
            entity="user",
            entity_id=user.username,
        )
        return _info(user)


def set_password(engine: Engine, actor: Actor, username: str, password: str) -> UserInfo:
    """An admin sets someone's password (or a user their own); it also clears a lockout and signs the
    user out everywhere (their existing sign-in cookies stop working)."""
    if normalise_username(username) != actor.username:
        require(actor, "admin", "set other users' passwords")
    check_password(password)
    password_hash = hash_password(password)
    with transaction(engine) as session:
        user = _get(session, username)
        user.password_hash = password_hash
        user.failed_attempts = 0
        user.locked_until = None
        end_user_sessions(session, user.username, "password changed")
        record_event(
            session, actor=actor.username, action="user.password", entity="user", entity_id=user.username
        )
        return _info(user)


def unlock(engine: Engine, actor: Actor, username: str) -> UserInfo:
    require(actor, "admin", "unlock users")
    with transaction(engine) as session:
        user = _get(session, username)
        user.failed_attempts = 0
        user.locked_until = None
        record_event(
            session, actor=actor.username, action="user.unlock", entity="user", entity_id=user.username
        )
        return _info(user)


def list_users(engine: Engine) -> list[UserInfo]:
    with reading(engine) as session:
        return [_info(u) for u in session.scalars(select(User).order_by(User.username))]


def get_user(engine: Engine, username: str) -> UserInfo | None:
    """The user's current record (roles, disabled, lock) — what a signed-in session is checked against."""
    with reading(engine) as session:
        user = session.scalar(select(User).where(User.username == normalise_username(username)))
        return None if user is None else _info(user)


def credentials(engine: Engine) -> dict[str, dict[str, object]]:
    """The sign-in credentials for streamlit-authenticator: enabled users only, pre-hashed."""
    with reading(engine) as session:
        users = session.scalars(select(User).where(User.disabled.is_(False)).order_by(User.username))
        return {
            "usernames": {
                u.username: {
                    "name": u.name,
                    "email": u.email,
                    "password": u.password_hash,
                    "roles": u.role_list,
                }
                for u in users
            }
        }


def ensure_may_sign_in(engine: Engine, username: str, now: datetime | None = None) -> None:
    """Refuse before the password is even checked when the account is locked. (Disabled users are
    left out of the credentials, so they fail like a wrong password without saying the name exists.)"""
    info = get_user(engine, username)
    if info is None:
        return  # unknown names fail like wrong passwords, without saying which
    now = now or utcnow()
    if info.locked(now):
        assert info.locked_until is not None
        minutes = max(1, math.ceil((info.locked_until - now).total_seconds() / 60))
        raise AccountLocked(
            f"too many failed sign-ins: this account is locked for about {minutes} more minute(s); "
            "an admin can unlock it"
        )


def record_sign_in(
    engine: Engine, username: str, success: bool, now: datetime | None = None
) -> UserInfo | None:
    """Count a sign-in attempt: success resets the counter; the Nth failure in a row locks the account."""
    now = now or utcnow()
    username = normalise_username(username)
    with transaction(engine) as session:
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            record_event(
                session,
                actor=username[:100] or "(blank)",
                action="user.sign_in_failed",
                entity="user",
                entity_id=username[:100] or None,
                payload={"reason": "unknown user"},
            )
            return None
        if success:
            user.failed_attempts = 0
            user.locked_until = None
            user.last_login_at = now
            record_event(session, actor=username, action="user.sign_in", entity="user", entity_id=username)
            return _info(user)
        if user.locked_until is not None and user.locked_until <= now:
            user.failed_attempts = 0  # an expired lock starts a fresh count
        user.failed_attempts += 1
        payload: dict[str, object] = {"failed_attempts": user.failed_attempts}
        if user.failed_attempts >= MAX_FAILED_ATTEMPTS:
            user.locked_until = now + LOCKOUT
            end_user_sessions(session, user.username, "locked")
            payload["locked_until"] = user.locked_until.isoformat()
        record_event(
            session,
            actor=username,
            action="user.sign_in_failed",
            entity="user",
            entity_id=username,
            payload=payload,
        )
        return _info(user)


def verify_password(engine: Engine, username: str, password: str) -> bool:
    """Check a password the slow way even for unknown users (no timing hint about which names exist)."""
    with reading(engine) as session:
        password_hash = session.scalar(
            select(User.password_hash).where(User.username == normalise_username(username))
        )
    if password_hash is None:
        password_matches(password, _dummy_hash(BCRYPT_ROUNDS))
        return False
    return password_matches(password, password_hash)


def cookie_key_from_environment() -> str | None:
    """MCC_COOKIE_KEY, which signs the sign-in cookie: None when unset, an error when too weak."""
    configured = Environment().cookie_key
    value = configured.get_secret_value() if configured is not None else ""
    if not value:
        return None
    if len(value.encode()) < MIN_COOKIE_KEY_BYTES or len(set(value)) < 8:
        raise ConfigError(
            f"MCC_COOKIE_KEY must be at least {MIN_COOKIE_KEY_BYTES} random bytes; generate one with `{COOKIE_KEY_HINT}`"
        )
    return value


def missing_cookie_key() -> ConfigError:
    return ConfigError(
        "MCC_COOKIE_KEY is not set: the app signs its sign-in cookies with it. Set it to at least "
        f"{MIN_COOKIE_KEY_BYTES} random bytes, e.g. `export MCC_COOKIE_KEY=$({COOKIE_KEY_HINT})`"
    )
